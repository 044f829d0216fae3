/**
 * Recorded H.265 in a browser without H.265 (issue 14): the timeline's range as an HLS playlist of
 * MPEG-TS media segments, each recorded file transcoded to H.264 at ≤ 640 px when it is asked for
 * (board/transcode_plan.ts `chain`), never ahead of the viewer. Each part keeps the file's own
 * times (qtdemux restarts them near 0 and a pipeline cannot move them), so the playlist has a
 * discontinuity with the file's program date time before each part: the player maps every
 * moment back to the wall clock and joins the parts (a seam the original fMP4 playlist avoids). Each transcode holds a slot of the box's cap (transcode_slots.ts, shared with live
 * view) while it runs; none free answers TranscodeBusyError (503, Retry-After), never a queue.
 * The last few results are kept in memory, so a player's retry or a replay costs nothing.
 */
import { Pipeline } from "../gst/mod.ts";
import type { Element } from "../gst/element.ts";
import type { IndexedSegment } from "../storage/mod.ts";
import type { TranscodeSlots } from "./transcode_slots.ts";

/** All slots are taken: ask again later. */
export class TranscodeBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TranscodeBusyError";
  }
}

/** The file could not be transcoded (decoder error, no pictures, too large, too slow). */
export class RangeTranscodeError extends Error {
  constructor(segment: IndexedSegment, why: string) {
    super(`Segment ${segment.id} of camera '${segment.camera}' cannot be transcoded: ${why}`);
    this.name = "RangeTranscodeError";
  }
}

export interface RangeTranscodeOptions {
  /** H.265 → H.264 elements (board/transcode_plan.ts `chain`), or null: the board cannot. */
  readonly chain: () => string | null;
  readonly slots: TranscodeSlots;
  /** Longest one file may take; default 30 s (a 60 s 1080p file takes about 6 s here). */
  readonly timeoutMs?: number;
  /** Results kept in memory; default 6 (about 6 MB at 10 s a file). */
  readonly keep?: number;
}

/** Most bytes of MPEG-TS one file may give (10 s at 800 kbit/s is about 1.1 MB). */
const MAX_OUT_BYTES = 64 << 20;

export class RangeTranscodes {
  readonly #opts: RangeTranscodeOptions;
  readonly #done = new Map<number, Uint8Array>();
  readonly #pending = new Map<number, Promise<Uint8Array>>();
  /** Files transcoded since start (tests: a replay costs nothing). */
  made = 0;

  constructor(opts: RangeTranscodeOptions) {
    this.#opts = opts;
  }

  /** Whether this board can transcode at all. */
  get available(): boolean {
    return this.#opts.chain() !== null;
  }

  /**
   * The segment `file` (its bytes) as H.264 MPEG-TS. Throws TranscodeBusyError when the cap is reached, RangeTranscodeError when it fails.
   */
  async ts(
    segment: IndexedSegment,
    file: () => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    const key = segment.id;
    const done = this.#done.get(key);
    if (done) return done;
    const pending = this.#pending.get(key);
    if (pending) return await pending;
    // An H.264 file (a camera changed codec mid-range) is only repackaged: no slot.
    const release = segment.codec === "h264" ? () => {} : this.#opts.slots.acquire();
    if (!release) {
      throw new TranscodeBusyError(
        this.#opts.slots.refusal(`recording ${segment.id} of camera '${segment.camera}'`),
      );
    }
    const made = (async () => {
      try {
        return await this.#make(segment, await file());
      } finally {
        release();
      }
    })();
    this.#pending.set(key, made);
    try {
      const ts = await made;
      this.made++;
      this.#done.set(key, ts);
      for (const k of this.#done.keys()) {
        if (this.#done.size <= (this.#opts.keep ?? 6)) break;
        this.#done.delete(k);
      }
      return ts;
    } finally {
      this.#pending.delete(key);
    }
  }

  async #make(segment: IndexedSegment, file: Uint8Array): Promise<Uint8Array> {
    const chain = this.#opts.chain();
    if (chain === null) throw new RangeTranscodeError(segment, "this board has no transcode");
    if (segment.codec !== "h265" && segment.codec !== "h264") {
      throw new RangeTranscodeError(segment, `codec '${segment.codec}' is not H.265 or H.264`);
    }
    // H.264 recordings are only repackaged; H.265 ones go through the board's transcode.
    const video = segment.codec === "h265"
      ? chain
      : "h264parse ! video/x-h264,stream-format=byte-stream,alignment=au";
    await using p = Pipeline.parse(
      `appsrc name=in format=bytes caps=video/quicktime ! qtdemux ! ${video} ! mpegtsmux ! ` +
        "appsink name=out sync=false max-buffers=0 drop=false",
      { name: `${segment.camera}-range-transcode` },
    );
    const src = p.element("in") as Element;
    const out = p.element("out") as Element;
    p.play();
    src.pushBuffer(file as Uint8Array<ArrayBuffer>);
    src.endOfStream();
    const timeoutMs = this.#opts.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    for (;;) {
      const sample = await out.pullSample(200);
      if (sample) {
        chunks.push(sample.data);
        bytes += sample.data.length;
        if (bytes > MAX_OUT_BYTES) {
          throw new RangeTranscodeError(segment, `more than ${MAX_OUT_BYTES} bytes out`);
        }
        continue;
      }
      let ended = false;
      for (let m = p.poll(); m; m = p.poll()) {
        if (m.type === "error") throw new RangeTranscodeError(segment, m.message);
        if (m.type === "eos") ended = true;
      }
      if (ended) break;
      if (Date.now() > deadline) {
        throw new RangeTranscodeError(segment, `not done within ${timeoutMs / 1000} s`);
      }
    }
    if (bytes === 0) throw new RangeTranscodeError(segment, "no pictures came out");
    const ts = new Uint8Array(bytes);
    let at = 0;
    for (const c of chunks) {
      ts.set(c, at);
      at += c.length;
    }
    return ts;
  }
}

/**
 * The range's playlist of MPEG-TS parts (no EXT-X-MAP: each part carries its own tables), one
 * discontinuity and program date time per part (see above).
 */
export function transcodedPlaylist(
  segments: readonly IndexedSegment[],
  opts: { readonly startMs: number; readonly mediaUrl: (segment: IndexedSegment) => string },
): string {
  const usable = segments.filter((s) => s.endMs > s.startMs);
  const longest = usable.reduce((m, s) => Math.max(m, s.endMs - s.startMs), 1000);
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:3",
    `#EXT-X-TARGETDURATION:${Math.ceil(longest / 1000)}`,
    "#EXT-X-MEDIA-SEQUENCE:0",
    "#EXT-X-PLAYLIST-TYPE:VOD",
  ];
  const first = usable[0];
  if (first) {
    const offset = Math.max(0, opts.startMs - first.startMs) / 1000;
    lines.push(`#EXT-X-START:TIME-OFFSET=${offset.toFixed(3)},PRECISE=YES`);
  }
  for (const [i, s] of usable.entries()) {
    if (i > 0) lines.push("#EXT-X-DISCONTINUITY");
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.startMs).toISOString()}`);
    lines.push(`#EXTINF:${((s.endMs - s.startMs) / 1000).toFixed(3)},`);
    lines.push(opts.mediaUrl(s));
  }
  lines.push("#EXT-X-ENDLIST", "");
  return lines.join("\n");
}
