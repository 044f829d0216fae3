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
  const frames = knownFrames ?? (await scanFmp4(location)).frames;
  const path = segmentRelativePath(camera.id, span.startMs);
  const target = `${ctx.dataDir}/${path}`;
  const segment: SegmentRecord = {
    camera: camera.id,
    startMs: span.startMs,
    endMs: span.endMs,
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
  ctx.log.info("segment", { path, bytes: size, seconds: (span.endMs - span.startMs) / 1000 });
  ctx.onSegment?.(segment);
  return { bytes: size, frames };
}
