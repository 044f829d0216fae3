/**
 * Segments left half-written in `.incoming/` by a crash, a kill, a power cut or a full disk are
 * repaired, not dropped: cut back to their last complete fragment, moved to their final place and
 * indexed (with an event saying so). A file that is not an MP4 at all is moved aside to
 * `.quarantine/` and reported, never deleted.
 */
import type { Logger } from "../../lib/log.ts";
import {
  cameraDir,
  incomingDir,
  removeTrimLeftovers,
  scanFmp4,
  type SegmentIndex,
  type SegmentRecord,
  segmentRelativePath,
  trimToFirstKeyframe,
} from "../../storage/mod.ts";

export interface SalvageContext {
  readonly dataDir: string;
  readonly index: () => SegmentIndex;
  readonly log: Logger;
}

export interface SalvageResult {
  readonly recovered: SegmentRecord[];
  readonly quarantined: string[];
  /** Files with no frames at all (header only or empty) or no keyframe, removed. */
  readonly empty: number;
}

/** Repairs every file in the camera's `.incoming/` except those of `activeRun`. */
export async function salvageIncoming(
  camera: { readonly id: string; readonly codec: string },
  ctx: SalvageContext,
  activeRun: string | null = null,
): Promise<SalvageResult> {
  const dir = incomingDir(ctx.dataDir, camera.id);
  const result: SalvageResult = { recovered: [], quarantined: [], empty: 0 };
  let entries: Deno.DirEntry[];
  try {
    // Copies being trimmed when the process died go first; their originals are whole.
    await removeTrimLeftovers(dir, activeRun);
    entries = [...Deno.readDirSync(dir)];
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return result;
    throw err;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isFile || (activeRun && entry.name.startsWith(activeRun))) continue;
    const path = `${dir}/${entry.name}`;
    try {
      await salvageOne(camera, ctx, path, result);
    } catch (err) {
      ctx.log.error("could not salvage a left-over segment; it stays where it is", { path, err });
    }
  }
  return result;
}

async function salvageOne(
  camera: { readonly id: string; readonly codec: string },
  ctx: SalvageContext,
  path: string,
  result: SalvageResult,
): Promise<void> {
  const { size, mtime } = await Deno.stat(path);
  let scan = size === 0 ? null : await scanFmp4(path);
  if (scan === null || (scan.isMp4 && scan.frames === 0)) {
    await Deno.remove(path);
    (result as { empty: number }).empty++;
    return;
  }
  if (!scan.isMp4) {
    const aside = `${cameraDir(ctx.dataDir, camera.id)}/.quarantine`;
    await Deno.mkdir(aside, { recursive: true });
    const target = `${aside}/${path.slice(path.lastIndexOf("/") + 1)}`;
    await Deno.rename(path, target);
    result.quarantined.push(target);
    ctx.log.warn("foreign file in the recording folder moved aside", { path, target });
    ctx.index().addEvent({
      camera: camera.id,
      tsMs: Date.now(),
      kind: "file-quarantined",
      detail: { path: target, bytes: size },
    });
    return;
  }
  if (scan.completeBytes < size) await Deno.truncate(path, scan.completeBytes);
  const cutBytes = size - scan.completeBytes;
  const trim = await trimToFirstKeyframe(path).catch(() => null); // kept whole when it fails
  if (trim?.leftAsIs === "no-keyframe") {
    // Not one picture can be decoded (a run cut short before its first keyframe, e.g. one that
    // joined a shared stream mid-GOP): indexing it would claim time that shows nothing.
    await Deno.remove(path);
    (result as { empty: number }).empty++;
    ctx.log.info("removed a left-over segment without a keyframe (nothing in it can be shown)", {
      path,
      frames: scan.frames,
    });
    return;
  }
  if (trim && trim.droppedFrames > 0) scan = await scanFmp4(path);
  const endMs = (mtime ?? new Date()).getTime();
  const startMs = Math.round(endMs - scan.durationSeconds * 1000);
  const relative = segmentRelativePath(camera.id, startMs);
  const target = `${ctx.dataDir}/${relative}`;
  await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
  await Deno.rename(path, target);
  const segment: SegmentRecord = {
    camera: camera.id,
    startMs,
    endMs,
    bytes: scan.completeBytes,
    codec: camera.codec,
    path: relative,
  };
  ctx.index().add(segment);
  ctx.index().addEvent({
    camera: camera.id,
    tsMs: endMs,
    kind: "segment-recovered",
    detail: {
      path: relative,
      frames: scan.frames,
      cutBytes,
      ...(trim?.droppedFrames ? { undecodableFramesRemoved: trim.droppedFrames } : {}),
    },
  });
  result.recovered.push(segment);
  ctx.log.warn("recovered a segment left by an interrupted recording", {
    path: relative,
    frames: scan.frames,
    seconds: scan.durationSeconds,
    cutBytes,
  });
}
