/**
 * A recording that joins a camera's stream between two keyframes starts with pictures that can
 * never be decoded: their reference picture was sent before we connected. GStreamer's parsers
 * and splitmuxsink pass them on, so the first file of a GStreamer-recorded run can begin with up
 * to one GOP of them (seen here: a second client holding an RTSP camera's shared stream, the
 * recorder joining it mid-GOP). Players skip such pictures, but the index would claim time that
 * shows nothing.
 *
 * mp4mux mostly starts a new fragment at a keyframe, so those pictures sit in whole fragments
 * ahead of the first keyframe; under load it sometimes puts the keyframe inside a fragment, and
 * then that fragment is cut too (fmp4_fragment_cut.ts, video-only files). This removes those
 * fragments (with any audio in them), moves the
 * remaining fragments' decode times back so the file still starts at zero, and drops the mfra
 * index whose offsets no longer hold. The file is rewritten beside itself (`TRIM_SUFFIX`) and
 * renamed over the original, so a crash in between leaves the original whole; the left-over copy
 * is removed by `removeTrimLeftovers`.
 */
import {
  NON_SYNC_SAMPLE,
  parseHeader,
  readAt,
  trackFragments,
  type TrackInfo,
  tracks,
} from "./boxes.ts";
import { type CutFragment, cutFragmentFront } from "./fragment_cut.ts";
import { writeAll } from "../../std/io/write_all.ts";

export const TRIM_SUFFIX = ".trimming";

export interface TrimResult {
  /** Pictures removed from the front (all before the first keyframe). */
  readonly droppedFrames: number;
  /** How long they lasted, seconds: the recording now starts this much later. */
  readonly droppedSeconds: number;
  /**
   * Why nothing more was removed when pictures before a keyframe remain: "no-keyframe" (the file
   * holds none at all: left as it is) or "mid-fragment" (a fragment starts with pictures that
   * cannot be decoded and has a keyframe further in, in a layout that is not cut: a file with
   * audio. Left as it is). Null when the file now
   * starts on a keyframe.
   */
  readonly leftAsIs: "no-keyframe" | "mid-fragment" | null;
}

interface Box {
  readonly type: string;
  readonly start: number;
  readonly size: number;
}

const NOTHING: TrimResult = { droppedFrames: 0, droppedSeconds: 0, leftAsIs: null };

/** Makes the fragmented MP4 at `path` start on a keyframe where it does not. */
export async function trimToFirstKeyframe(path: string): Promise<TrimResult> {
  const plan = await planTrim(path);
  if (plan.dropFrom === plan.keepFrom && !plan.cut) return plan.result;
  await rewrite(path, plan);
  return plan.result;
}

/**
 * Removes copies a crash left half-written in `dir` (their originals are whole), except those
 * whose names start with `activeRun` (a recording being trimmed right now).
 */
export async function removeTrimLeftovers(
  dir: string,
  activeRun: string | null = null,
): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (activeRun !== null && entry.name.startsWith(activeRun)) continue;
      if (entry.isFile && entry.name.endsWith(TRIM_SUFFIX)) {
        await Deno.remove(`${dir}/${entry.name}`);
        removed++;
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return removed;
}

interface TrimPlan {
  readonly result: TrimResult;
  readonly boxes: readonly Box[];
  readonly tracks: readonly TrackInfo[];
  /** Byte offsets: fragments in [dropFrom, keepFrom) go. */
  readonly dropFrom: number;
  readonly keepFrom: number;
  /** Ticks to take off each track's decode times, by track id. */
  readonly shift: ReadonlyMap<number, number>;
  /** The first kept fragment rewritten without its leading pictures (fmp4_fragment_cut.ts). */
  readonly cut?: { readonly at: number } & CutFragment;
}

async function planTrim(path: string): Promise<TrimPlan> {
  using file = await Deno.open(path, { read: true });
  const fileSize = (await file.stat()).size;
  const boxes: Box[] = [];
  for (let offset = 0; offset + 8 <= fileSize;) {
    const header = parseHeader(await readAt(file, offset, 16), offset);
    if (!header || offset + header.size > fileSize) break;
    boxes.push({ type: header.type, start: offset, size: header.size });
    offset += header.size;
  }
  const none = (result: TrimResult): TrimPlan => ({
    result,
    boxes,
    tracks: [],
    dropFrom: 0,
    keepFrom: 0,
    shift: new Map(),
  });
  const moov = boxes.find((b) => b.type === "moov");
  if (!moov) return none(NOTHING);
  const known = tracks(await readAt(file, moov.start, moov.size));
  const video = known.find((t) => t.handler === "vide");
  if (!video) return none(NOTHING);

  const firstMoof = boxes.findIndex((b) => b.type === "moof");
  if (firstMoof < 0) return none(NOTHING);
  let droppedFrames = 0;
  let droppedTicks = 0;
  /** What goes: every fragment before `start` (and the cut's front, when there is one). */
  const keepFrom = (start: number, shift: Map<number, number>, cut?: TrimPlan["cut"]) => ({
    result: { droppedFrames, droppedSeconds: droppedTicks / video.timescale, leftAsIs: null },
    boxes,
    tracks: known,
    dropFrom: boxes[firstMoof]!.start,
    keepFrom: start,
    shift,
    ...(cut ? { cut } : {}),
  });
  for (let i = firstMoof; i + 1 < boxes.length; i += 2) {
    const moof = boxes[i]!;
    if (moof.type !== "moof" || boxes[i + 1]!.type !== "mdat") break;
    const trafs = trackFragments(await readAt(file, moof.start, moof.size), known);
    const flags = trafs.find((t) => t.trackId === video.trackId)?.flags ?? [];
    if (flags.length > 0 && !(flags[0]! & NON_SYNC_SAMPLE)) {
      if (i === firstMoof) return none(NOTHING);
      return keepFrom(moof.start, await shifts(file, boxes.slice(i), known, video));
    }
    const firstKey = flags.findIndex((f) => !(f & NON_SYNC_SAMPLE));
    if (firstKey > 0) {
      // The keyframe is inside this fragment: cut the pictures before it out of the fragment.
      // Plain video-only files only: with audio the interleaved data would need more surgery.
      const cut = known.length === 1
        ? cutFragmentFront(
          await readAt(file, moof.start, moof.size),
          await readAt(file, boxes[i + 1]!.start, boxes[i + 1]!.size),
          firstKey,
        )
        : null;
      if (!cut) return none({ ...NOTHING, leftAsIs: "mid-fragment" });
      const keptBase = trafs.find((t) => t.trackId === video.trackId)?.baseTime ?? 0;
      droppedFrames += firstKey;
      droppedTicks += cut.droppedTicks;
      return keepFrom(moof.start, new Map([[video.trackId, keptBase + cut.droppedTicks]]), {
        at: moof.start,
        ...cut,
      });
    }
    const durations = trafs.find((t) => t.trackId === video.trackId)?.durations ?? [];
    droppedFrames += durations.length;
    for (const d of durations) droppedTicks += d;
  }
  return none({ ...NOTHING, leftAsIs: "no-keyframe" });
}

/**
 * The kept fragments start at the video's first kept decode time; every track moves back by that
 * much time (in its own timescale), but never below its own first kept decode time.
 */
async function shifts(
  file: Deno.FsFile,
  kept: readonly Box[],
  known: readonly TrackInfo[],
  video: TrackInfo,
): Promise<Map<number, number>> {
  const first = new Map<number, number>();
  for (const box of kept) {
    if (box.type !== "moof") continue;
    for (const traf of trackFragments(await readAt(file, box.start, box.size), known)) {
      if (traf.baseTime !== null && !first.has(traf.trackId)) {
        first.set(traf.trackId, traf.baseTime);
      }
    }
    if (first.size === known.length) break;
  }
  const seconds = (first.get(video.trackId) ?? 0) / video.timescale;
  const out = new Map<number, number>();
  for (const track of known) {
    const own = first.get(track.trackId);
    if (own === undefined) continue;
    out.set(track.trackId, Math.min(own, Math.round(seconds * track.timescale)));
  }
  return out;
}

async function rewrite(path: string, plan: TrimPlan): Promise<void> {
  const temp = path + TRIM_SUFFIX;
  try {
    {
      using src = await Deno.open(path, { read: true });
      using dst = await Deno.open(temp, { write: true, create: true, truncate: true });
      let cutMdat = false;
      for (const box of plan.boxes) {
        if (box.start >= plan.dropFrom && box.start < plan.keepFrom) continue;
        if (box.type === "mfra") continue; // moof offsets in it are now wrong; it is optional
        const cut = plan.cut;
        if (cut && box.start === cut.at) {
          shiftBaseTimes(cut.moof, plan);
          await writeAll(dst, cut.moof);
          await writeAll(dst, cut.mdat);
          cutMdat = true; // the next box, the fragment's mdat, was written cut
          continue;
        }
        if (cutMdat) {
          cutMdat = false;
          if (box.type === "mdat") continue;
        }
        const bytes = await readAt(src, box.start, box.size);
        if (box.type === "moof" && box.start >= plan.keepFrom) shiftBaseTimes(bytes, plan);
        await writeAll(dst, bytes);
      }
      await dst.sync();
    }
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
}

function shiftBaseTimes(moof: Uint8Array, plan: TrimPlan): void {
  const view = new DataView(moof.buffer, moof.byteOffset, moof.byteLength);
  for (const traf of trackFragments(moof, plan.tracks)) {
    const field = traf.baseTimeField;
    const shift = plan.shift.get(traf.trackId) ?? 0;
    if (!field || traf.baseTime === null || shift === 0) continue;
    const time = Math.max(0, traf.baseTime - shift);
    if (field.bytes === 8) view.setBigUint64(field.offset, BigInt(time));
    else view.setUint32(field.offset, time);
  }
}
