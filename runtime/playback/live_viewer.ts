/**
 * One live viewer on a WebSocket: fragmented MP4 for Media Source Extensions, from a LiveSource
 * (the recorder's restream or a shared sub-stream). Messages, in order:
 *   text {"type":"init","codec":"avc1.42c01e","width":640,"height":360,"source":"sub"}, then the
 *   init segment (binary); then one moof+mdat per frame (binary), starting at the latest keyframe;
 *   text {"type":"time","t":<media s>,"wall":<ms>} about every 250 ms: when the camera made the
 *   frame at media time t (its RTCP clock), so the page can show its latency;
 *   text {"type":"error","reason":"…"} before the server closes, when it has a reason.
 * A new init message and segment follow when the stream's parameters change.
 *
 * Backpressure: a frame is sent only while the socket holds less than `softBytes` unsent;
 * otherwise it is skipped and the viewer resumes at the next keyframe (the timeline is joined, no
 * hole). A viewer that stays behind for `maxBehindMs` is disconnected. The source never waits, so
 * a viewer that never reads costs at most `softBytes` plus a frame and never slows the recording.
 */
import type { LiveSource } from "../media/restream/feed.ts";
import { LiveMuxer } from "../media/restream/live_muxer.ts";

export interface ViewerOptions {
  /** Sent to the page in the init message: "main" or "sub". */
  readonly label: string;
  /**
   * Called once when the viewer ends, whatever ended it; `byServer` when this side ended it
   * (too slow, no pictures), not the viewer leaving or its connection failing; `unsentPeak`: the
   * most bytes that waited unsent on its socket (what a viewer that does not read costs).
   */
  readonly onEnd: (reason: string, byServer: boolean, unsentPeak: number) => void;
  /** Unsent bytes beyond which frames are skipped; default 512 KiB (~2 s of a sub-stream). */
  readonly softBytes?: number;
  /** Behind this long (skipping) → disconnected; default 10 s. */
  readonly maxBehindMs?: number;
  /** No frame for this long → closed with a reason; default 10 s (8 s for the first). */
  readonly stallMs?: number;
  /** Why the source may give nothing (shown when the first frame does not come). */
  readonly whyNoFrames?: () => string | null;
  readonly now?: () => number;
}

const TIME_EVERY_MS = 250;
/** Application close codes (4000–4999): the page shows the reason sent before. */
export const CLOSE_NO_VIDEO = 4001;
export const CLOSE_TOO_SLOW = 4002;

export function serveViewer(socket: WebSocket, source: LiveSource, o: ViewerOptions): void {
  const now = o.now ?? Date.now;
  const soft = o.softBytes ?? 512 * 1024;
  const maxBehind = o.maxBehindMs ?? 10_000;
  const stallMs = o.stallMs ?? 10_000;
  const muxer = new LiveMuxer();
  let unsubscribe: (() => void) | null = null;
  let ended = false;
  let behindSince: number | null = null;
  let lastFrameAt = now();
  let lastTimeAt = 0;
  let sentAny = false;
  let unsentPeak = 0;
  const end = (reason: string, code?: number) => {
    if (ended) return;
    ended = true;
    clearInterval(watchdog);
    unsubscribe?.();
    if (code !== undefined && socket.readyState === WebSocket.OPEN) {
      try {
        socket.send(JSON.stringify({ type: "error", reason }));
        socket.close(code, reason.slice(0, 120));
      } catch { /* gone */ }
    } else {
      try {
        socket.close();
      } catch { /* gone */ }
    }
    o.onEnd(reason, code !== undefined, unsentPeak);
  };
  const watchdog = setInterval(() => {
    const quiet = now() - lastFrameAt;
    const limit = sentAny ? stallMs : Math.min(stallMs, 8_000);
    if (quiet <= limit) return;
    const why = o.whyNoFrames?.() ?? null;
    end(
      sentAny
        ? `the camera sent no picture for ${Math.round(quiet / 1000)} s${why ? `: ${why}` : ""}`
        : `no picture from the camera within ${Math.round(limit / 1000)} s${
          why ? `: ${why}` : " (is it recording? see its status)"
        }`,
      CLOSE_NO_VIDEO,
    );
  }, 1_000);
  socket.addEventListener("close", () => end("the viewer left"));
  socket.addEventListener("error", () => end("the connection failed"));
  const start = () => {
    if (ended) return;
    unsubscribe = source.subscribe({
      frame(track, frame) {
        if (ended || socket.readyState !== WebSocket.OPEN) return;
        const t = now();
        lastFrameAt = t;
        unsentPeak = Math.max(unsentPeak, socket.bufferedAmount);
        if (socket.bufferedAmount > soft) {
          muxer.skip();
          behindSince ??= t;
          if (t - behindSince > maxBehind) {
            end(
              `this viewer could not keep up for ${Math.round(maxBehind / 1000)} s`,
              CLOSE_TOO_SLOW,
            );
          }
          return;
        }
        const m = muxer.push(track, frame);
        if (!m) return;
        behindSince = null;
        if (m.init) {
          socket.send(JSON.stringify({
            type: "init",
            codec: m.init.track.codecString,
            width: m.init.track.width,
            height: m.init.track.height,
            source: o.label,
          }));
          socket.send(m.init.bytes);
        }
        socket.send(m.fragment);
        sentAny = true;
        if (t - lastTimeAt >= TIME_EVERY_MS || m.init) {
          lastTimeAt = t;
          socket.send(JSON.stringify({ type: "time", t: m.mediaTime, wall: frame.wallMs }));
        }
      },
    });
  };
  if (socket.readyState === WebSocket.OPEN) start();
  else socket.addEventListener("open", start, { once: true });
}
