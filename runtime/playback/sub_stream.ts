/**
 * A camera's H.264 sub-stream for live viewers that cannot play its main stream: one RTSP session
 * per camera, shared by all of them (restream), opened when the first viewer comes and closed a
 * few seconds after the last one leaves (a page change does not reconnect). The recorder does not
 * receive the sub-stream, so this is the one session to it.
 */
import { RtspSession } from "../media/rtsp/session.ts";
import {
  AccessUnitFeed,
  LiveFanout,
  type LiveSource,
  type LiveSubscriber,
  SourceClock,
} from "../media/restream/feed.ts";
import type { Logger } from "../lib/log.ts";
import { redactUrl } from "../lib/redact_url.ts";

const GRACE_MS = 5_000;
const RETRY_MS = 1_000;

export class SharedSubStream implements LiveSource {
  readonly #camera: string;
  readonly #url: () => string | null;
  readonly #log: Logger;
  readonly #fanout = new LiveFanout();
  #run: AbortController | null = null;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The URL of the session running now. */
  #playing: string | null = null;
  /** Why the last session ended (a viewer without pictures is told). */
  lastError: string | null = null;

  constructor(camera: string, url: () => string | null, log: Logger) {
    this.#camera = camera;
    this.#url = url;
    this.#log = log;
  }

  get running(): boolean {
    return this.#run !== null;
  }

  subscribe(subscriber: LiveSubscriber): () => void {
    clearTimeout(this.#closeTimer);
    const off = this.#fanout.subscribe(subscriber);
    if (!this.#run) {
      const run = new AbortController();
      this.#run = run;
      this.#loop(run.signal).catch(() => {});
    }
    return () => {
      off();
      if (this.#fanout.subscribers > 0) return;
      clearTimeout(this.#closeTimer);
      this.#closeTimer = setTimeout(() => this.close(), GRACE_MS);
    };
  }

  /**
   * The configuration changed: a session to a sub-stream URL that is no longer the camera's
   * starts again on the new one; its viewers stay (their muxers join the new stream).
   */
  follow(): void {
    if (!this.#run || this.#url() === this.#playing) return;
    this.#run.abort();
    const run = new AbortController();
    this.#run = run;
    this.#loop(run.signal).catch(() => {});
  }

  /** Ends the session now (daemon stopping). */
  close(): void {
    clearTimeout(this.#closeTimer);
    this.#run?.abort();
    this.#run = null;
    this.#fanout.reset();
  }

  async #loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const url = this.#url();
      this.#playing = url;
      if (url === null) {
        this.lastError = "it has no sub-stream (cameras[].subUrl)";
        break;
      }
      try {
        await using session = await RtspSession.open({
          url,
          audio: false,
          timeoutMs: 5_000,
          signal,
        });
        if (session.video.codec !== "h264") {
          this.lastError = `its sub-stream is ${session.video.codec.toUpperCase()}, not H.264`;
        } else {
          const clock = new SourceClock(session.video.clockRate, () => session.senderClock);
          const feed = new AccessUnitFeed(
            this.#fanout,
            session.video.codec,
            session.video.clockRate,
            session.video.parameterSets,
            (ts) => clock.wallOf(ts),
          );
          this.lastError = null;
          await session.play({
            onVideo: (au) => {
              clock.arrived(au.timestamp, Date.now());
              feed.push(au);
              // The feed copied what it keeps: older pictures' arena chunks can be reused.
              session.arena.releaseBefore(au.nals[0] ?? null);
            },
          }, signal);
        }
      } catch (err) {
        if (signal.aborted) break;
        this.lastError = `its sub-stream (${redactUrl(url)}) failed: ${(err as Error).message}`;
        this.#log.warn("live sub-stream lost", { camera: this.#camera, err });
      }
      this.#fanout.reset();
      // Closed while playing: an abort listener added now would never fire, and the retry timer
      // would outlive the session (found by Deno's ops sanitizer in live_test).
      if (signal.aborted) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, RETRY_MS);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  }
}
