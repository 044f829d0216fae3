/**
 * A finished segment file becomes part of the recording: indexed first, then moved from
 * `.incoming/` to its place by camera, date and hour. Shared by both ways of recording.
 */
import type { CameraConfig } from "../../config/types.ts";
import {
  incomingDir,
  scanFmp4,
  type SegmentRecord,
  segmentRelativePath,
  unsyncedRelativePath,
} from "../../storage/mod.ts";
import type { CameraStats } from "./camera_stats.ts";
import type { RecorderContext } from "../engine.ts";
import { salvageIncoming } from "./salvage.ts";

/**
 * Before a camera records: the storage may be written (else StorageUnavailableError), its
 * `.incoming/` exists, and what an interrupted run left there is repaired and indexed.
 */
export async function prepareIncoming(camera: CameraConfig, ctx: RecorderContext): Promise<void> {
  await ctx.checkStorage();
  await Deno.mkdir(incomingDir(ctx.dataDir, camera.id), { recursive: true });
  const salvaged = await salvageIncoming(camera, ctx);
  if (salvaged.recovered.length > 0) ctx.onSalvaged?.(salvaged.recovered);
}

/**
 * Indexes the closed file at `location` spanning `span` and moves it into place; an empty file is
 * removed. Throws on I/O errors (the file then stays in `.incoming/` and is salvaged later).
 */
export async function finishSegment(
  camera: CameraConfig,
  ctx: RecorderContext,
  location: string,
  span: { startMs: number; endMs: number },
  stats: Pick<CameraStats, "width" | "height">,
  /** Frames in the file when the writer knows them; otherwise the file is scanned. */
  knownFrames?: number,
): Promise<{ bytes: number; frames: number }> {
  const { size } = await Deno.stat(location);
  if (size === 0) {
    await Deno.remove(location);
    ctx.log.warn("empty segment dropped", { location });
    return { bytes: 0, frames: 0 };
  }
  let scanned = knownFrames === undefined ? await scanFmp4(location) : null;
  const frames = knownFrames ?? scanned?.frames ?? 0;
  let times: Omit<SegmentRecord, "camera" | "bytes" | "codec" | "path"> = span;
  if (ctx.clock) {
    // A wall span that is negative or far longer than a segment means the clock stepped while
    // it was written (e.g. synced from 1970): the file's own duration is the truth then.
    const apparent = span.endMs - span.startMs;
    const longest = Math.max(10 * ctx.segmentSeconds * 1000, 10 * 60_000);
    let duration: number | undefined;
    if (apparent < 0 || apparent > longest) {
      scanned ??= await scanFmp4(location);
      duration = Math.round(scanned.durationSeconds * 1000);
    }
    times = ctx.clock.stamp(span, duration);
  }
  const path = times.clock === "unsynced" && times.bootId && times.monoStartMs != null
    ? unsyncedRelativePath(camera.id, times.bootId, times.monoStartMs)
    : segmentRelativePath(camera.id, times.startMs);
  const target = `${ctx.dataDir}/${path}`;
  const segment: SegmentRecord = {
    camera: camera.id,
    ...times,
    bytes: size,
    codec: ctx.plan.codec,
    path,
    width: stats.width,
    height: stats.height,
  };
  // Index first, then move: if indexing fails (e.g. the disk is full) the file stays in
  // .incoming and is salvaged on the next start; if the move fails, the row goes again. Either
  // way no file is left on disk that retention does not know about.
  const id = ctx.index().add(segment);
  try {
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.rename(location, target);
  } catch (err) {
    ctx.index().remove(id);
    throw err;
  }
  const seconds = (segment.endMs - segment.startMs) / 1000;
  ctx.log.info("segment", {
    path,
    bytes: size,
    seconds,
    ...(times.clock ? { clock: "unsynced" } : {}),
  });
  ctx.onSegment?.(segment);
  return { bytes: size, frames };
}
