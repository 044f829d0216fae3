/**
 * Live view's last resort (issue 14): a browser whose MSE has no H.265, a camera whose main stream
 * is H.265 and which has no H.264 sub-stream. ONE transcode per camera, shared by all its viewers
 * (go2rtc's rule: one producer, many consumers): it takes the recorder's restream of the main
 * stream (never a new camera session), turns it into H.264 at ≤ 640 px (board/transcode_plan.ts) and
 * fans the result out like any LiveSource. It starts with the first viewer and stops GRACE_MS
 * after the last one leaves (a page change does not restart it). Each running one holds a slot of
 * the box's cap (transcode_slots.ts); a viewer that would need a new one beyond the cap is told
 * why instead.
 *
 * The recorder never waits for it: frames are pushed without blocking and, when the transcode
 * falls behind (a loaded CPU), the rest of the GOP is skipped, never queued without bound.
 */
import {
  AccessUnitFeed,
  LiveFanout,
  type LiveFrame,
  type LiveSource,
  type LiveSubscriber,
  type LiveTrack,
} from "../media/restream/feed.ts";
import type { Logger } from "../lib/log.ts";
import { annexB, OUT_CLOCK, Transcoder } from "./transcoder.ts";
import type { TranscodeSlots } from "./transcode_slots.ts";

const GRACE_MS = 5_000;
/** Pictures in the transcode before the rest of a GOP is skipped: 2 s at 15 fps. */
const MAX_IN_FLIGHT = 30;
/** A failed pipeline is started again at a keyframe, at most this often. */
const RESTART_MS = 2_000;
const NS = 1_000_000_000n;
/** Pictures before the first keyframe's (open GOPs) keep positive times. */
const START_NS = NS;

export interface LiveTranscodeOptions {
  /** The transcode pipeline's launch line (board/transcode_plan.ts), read at each start. */
  readonly launch: () => string;
  readonly slots: TranscodeSlots;
  readonly log: Logger;
  /** How long it runs on after the last viewer left; default 5 s. */
  readonly graceMs?: number;
}

export class SharedTranscode implements LiveSource {
  readonly #camera: string;
  readonly #source: LiveSource;
  readonly #opts: LiveTranscodeOptions;
  readonly #fanout = new LiveFanout();
  #release: (() => void) | null = null;
  #off: (() => void) | null = null;
  #stopTimer: ReturnType<typeof setTimeout> | undefined;
  #tc: Transcoder | null = null;
  #feed: AccessUnitFeed | null = null;
  readonly #walls = new Map<number, number>();
  #base: number | null = null;
  #lastPts = 0n;
  #skipToKeyframe = true;
  #failedAt = -Infinity;
  /** Pipelines started since creation (tests: two viewers share one). */
  pipelinesStarted = 0;
  /** Why the last pipeline failed, for a viewer without pictures. */
  lastError: string | null = null;

  constructor(camera: string, source: LiveSource, opts: LiveTranscodeOptions) {
    this.#camera = camera;
    this.#source = source;
    this.#opts = opts;
  }

  /** Running now (holds a slot of the box's cap). */
  get running(): boolean {
    return this.#release !== null;
  }

  get viewers(): number {
    return this.#fanout.subscribers;
  }

  /**
   * Makes sure it runs for a viewer about to subscribe: true when it runs already or a slot of
   * the cap was free (it starts now, and stops again if no viewer comes within the grace time).
   */
  admit(): boolean {
    if (this.#release) return true;
    const release = this.#opts.slots.acquire();
    if (!release) return false;
    this.#release = release;
    this.#off = this.#source.subscribe({ frame: (t, f) => this.#frame(t, f) });
    this.#opts.log.info("live transcode started", { camera: this.#camera });
    if (this.#fanout.subscribers === 0) this.#scheduleStop();
    return true;
  }

  subscribe(subscriber: LiveSubscriber): () => void {
    clearTimeout(this.#stopTimer);
    const off = this.#fanout.subscribe(subscriber);
    // A viewer admitted before a stop (a slow socket open) starts it again if a slot is free.
    if (!this.#release) this.admit();
    let gone = false;
    return () => {
      if (gone) return;
      gone = true;
      off();
      if (this.#fanout.subscribers === 0) this.#scheduleStop();
    };
  }

  /** Stops now (daemon stopping, or the last viewer's grace time ended). */
  async stop(): Promise<void> {
    clearTimeout(this.#stopTimer);
    if (!this.#release) return;
    this.#off?.();
    this.#off = null;
    const tc = this.#tc;
    this.#tc = null;
    this.#feed = null;
    this.#fanout.reset();
    const release = this.#release;
    this.#release = null;
    await tc?.close();
    release();
    this.#opts.log.info("live transcode stopped", { camera: this.#camera });
  }

  #scheduleStop(): void {
    clearTimeout(this.#stopTimer);
    this.#stopTimer = setTimeout(() => void this.stop(), this.#opts.graceMs ?? GRACE_MS);
  }

  #frame(track: LiveTrack, frame: LiveFrame): void {
    if (track.codec !== "h265") return;
    let tc = this.#tc;
    if (tc && tc.ended !== null) {
      this.lastError = `the transcode stopped: ${tc.ended}`;
      this.#opts.log.warn("live transcode failed", { camera: this.#camera, reason: tc.ended });
      void tc.close();
      this.#tc = tc = null;
      this.#feed = null;
      this.#fanout.reset();
      this.#failedAt = Date.now();
    }
    if (!tc) {
      if (!frame.keyframe || Date.now() - this.#failedAt < RESTART_MS) return;
      tc = this.#open();
      if (!tc) return;
    }
    if (this.#skipToKeyframe || tc.inFlight >= MAX_IN_FLIGHT) {
      if (!frame.keyframe) {
        this.#skipToKeyframe = true;
        return;
      }
      this.#skipToKeyframe = false;
    }
    const nals = frame.keyframe && track.vps
      ? [track.vps, track.sps, track.pps, ...frame.nals]
      : frame.nals;
    const scale = (ticks: number) => BigInt(Math.round(ticks * 1e9 / track.clockRate));
    this.#base ??= frame.ts;
    let pts = START_NS + scale(frame.ts - this.#base);
    // The feed moved (recorder restarted) or its clock jumped: continue where it was.
    if (pts < this.#lastPts - 5n * NS || pts > this.#lastPts + 5n * NS) {
      pts = this.#lastPts + scale(frame.duration);
      this.#base = frame.ts - Math.round(Number(pts - START_NS) * track.clockRate / 1e9);
    }
    if (pts > this.#lastPts) this.#lastPts = pts;
    tc.push(annexB(nals), pts, scale(frame.duration), frame.wallMs);
  }

  #open(): Transcoder | null {
    this.#base = null;
    this.#lastPts = 0n;
    this.#skipToKeyframe = false;
    this.#walls.clear();
    const feed = new AccessUnitFeed(this.#fanout, "h264", OUT_CLOCK, [], (ts) => {
      const wall = this.#walls.get(ts);
      for (const k of this.#walls.keys()) if (k <= ts) this.#walls.delete(k);
      return wall ?? Date.now();
    });
    try {
      const tc = Transcoder.open(`transcode-${this.#camera}`, this.#opts.launch(), (unit) => {
        if (this.#tc !== tc) return;
        if (unit.wallMs !== null) this.#walls.set(unit.timestamp, unit.wallMs);
        feed.push(unit);
      });
      this.#tc = tc;
      this.#feed = feed;
      this.pipelinesStarted++;
      return tc;
    } catch (err) {
      this.lastError = `the transcode could not start: ${(err as Error).message}`;
      this.#opts.log.warn("live transcode not started", { camera: this.#camera, err });
      this.#failedAt = Date.now();
      return null;
    }
  }
}
