/**
 * live.mp4, the live view of browsers without WebSocket or Media Source Extensions: one long HTTP
 * body of fragmented MP4 (the init segment, then one moof+mdat per frame) that a `<video src>`
 * plays as it arrives. Made from a LiveSource (the camera's shared sub-stream, or the recorder's
 * restream), as live.ws is (live_viewer.ts): never a camera session of its own, never a
 * re-encode.
 *
 * Backpressure: frames wait in the body's queue up to `softBytes`; beyond that they are skipped
 * and the viewer resumes at the next keyframe (LiveMuxer joins the timeline, no hole). Behind for
 * `maxBehindMs`, or no frame for `stallMs`, ends the body. A change of the stream's parameters
 * ends it too: one MP4 file has one init segment (the page then falls back to snapshots).
 */
import type { LiveSource } from "../media/restream/feed.ts";
import { LiveMuxer } from "../media/restream/live_muxer.ts";

export interface LiveMp4Options {
  /** Called once when the body ends, whatever ended it (the viewer leaving included). */
  readonly onEnd: (reason: string) => void;
  /** Why the source may give nothing (said when the first picture does not come). */
  readonly whyNoFrames?: () => string | null;
  /** Bytes queued beyond which frames are skipped; default 512 KiB (~2 s of a sub-stream). */
  readonly softBytes?: number;
  /** Skipping this long → ended; default 10 s. */
  readonly maxBehindMs?: number;
  /** No frame for this long → ended; default 10 s. */
  readonly stallMs?: number;
  /** How long to wait for the first picture (a keyframe) before refusing; default 8 s. */
  readonly firstMs?: number;
  readonly now?: () => number;
}

export class LiveMp4Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LiveMp4Error";
  }
}

/**
 * Subscribes to `source` and resolves with the body once the first keyframe is muxed; rejects with
 * LiveMp4Error (and unsubscribes, `onEnd` called) when none comes within `firstMs`.
 */
export function openLiveMp4(
  source: LiveSource,
  o: LiveMp4Options,
): Promise<ReadableStream<Uint8Array>> {
  const now = o.now ?? Date.now;
  const soft = o.softBytes ?? 512 * 1024;
  const maxBehind = o.maxBehindMs ?? 10_000;
  const stallMs = o.stallMs ?? 10_000;
  const firstMs = o.firstMs ?? 8_000;
  const muxer = new LiveMuxer();
  let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  let started = false;
  let ended = false;
  let behindSince: number | null = null;
  let lastFrameAt = now();
  let unsubscribe: (() => void) | null = null;
  let settle: { resolve: () => void; reject: (e: Error) => void } | null = null;

  const end = (reason: string, error: boolean) => {
    if (ended) return;
    ended = true;
    clearInterval(watchdog);
    unsubscribe?.();
    if (controller !== null) {
      try {
        if (error) controller.error(new LiveMp4Error(reason));
        else controller.close();
      } catch { /* already closed or cancelled */ }
    }
    settle?.reject(new LiveMp4Error(reason));
    o.onEnd(reason);
  };

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      end("the viewer left", false);
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: soft }));

  const watchdog = setInterval(() => {
    const quiet = now() - lastFrameAt;
    const limit = started ? stallMs : firstMs;
    if (quiet <= limit) return;
    const why = o.whyNoFrames?.() ?? null;
    end(
      started
        ? `the camera sent no picture for ${Math.round(quiet / 1000)} s${why ? `: ${why}` : ""}`
        : `no picture from the camera within ${Math.round(limit / 1000)} s${
          why ? `: ${why}` : " (is it recording? see its status)"
        }`,
      true,
    );
  }, 250);

  unsubscribe = source.subscribe({
    frame(track, frame) {
      const c = controller;
      if (ended || c === null) return;
      const t = now();
      lastFrameAt = t;
      if ((c.desiredSize ?? 0) <= 0) {
        muxer.skip();
        behindSince ??= t;
        if (t - behindSince > maxBehind) {
          end(`this viewer could not keep up for ${Math.round(maxBehind / 1000)} s`, true);
        }
        return;
      }
      const m = muxer.push(track, frame);
      if (!m) return;
      behindSince = null;
      if (m.init) {
        if (started) {
          end("the stream's parameters changed; open the live view again", false);
          return;
        }
        started = true;
        c.enqueue(m.init.bytes);
        settle?.resolve();
      }
      c.enqueue(m.fragment);
    },
  });

  if (ended) return Promise.reject(new LiveMp4Error("the live view ended at once"));
  if (started) return Promise.resolve(body);
  return new Promise<ReadableStream<Uint8Array>>((resolve, reject) => {
    settle = {
      resolve: () => {
        settle = null;
        resolve(body);
      },
      reject: (e) => {
        settle = null;
        reject(e);
      },
    };
  });
}
