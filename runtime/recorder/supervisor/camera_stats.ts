/**
 * Per-camera measurements, sampled about once a second from the pipeline's counting sinks and
 * the segment files: frames in, fps, bitrate, keyframes and the age of the last one. Also the
 * stall watchdog's input: how long since the last frame arrived.
 */

export interface CameraStats {
  /** Frames that reached the recorder since this pipeline started. */
  readonly framesIn: number;
  /** Frames per second over the last sample period. */
  readonly fpsIn: number;
  /** Frames in finished segments on disk, counted from their fragments. */
  readonly framesOut: number;
  /** Keyframes since this pipeline started. */
  readonly keyframes: number;
  /** How old the newest keyframe is, ms; null before the first. */
  readonly lastKeyframeAgeMs: number | null;
  /** Bits per second written, over the last sample period. */
  readonly bitrateKbps: number;
  /**
   * Frames received but not recorded because they were damaged (a lost packet) or depended on a
   * damaged one; null when the recorder cannot tell (GStreamer passthrough has no such count).
   */
  readonly droppedFrames: number | null;
  /** RTP packets lost or too late (the RTSP jitter buffers' counters); null for other sources. */
  readonly packetsLost: number | null;
  readonly width: number | null;
  readonly height: number | null;
}

export const EMPTY_STATS: CameraStats = {
  framesIn: 0,
  fpsIn: 0,
  framesOut: 0,
  keyframes: 0,
  lastKeyframeAgeMs: null,
  bitrateKbps: 0,
  droppedFrames: null,
  packetsLost: null,
  width: null,
  height: null,
};

/** One reading of the raw counters. */
export interface CounterSample {
  readonly atMs: number;
  readonly frames: number;
  /** Frames in finished segments. */
  readonly framesOut: number;
  readonly keyframes: number;
  /** Bytes written so far by this pipeline (finished segments plus the open one). */
  readonly bytes: number;
  readonly packetsLost: number | null;
  /** Frames received but not recorded (damaged, or depending on a damaged one); null: unknown. */
  readonly droppedFrames?: number | null;
  readonly width: number | null;
  readonly height: number | null;
}

/** Turns successive counter samples into rates, and tells how long frames have not moved. */
export class StatsMeter {
  #last: CounterSample | null = null;
  #lastFrameAtMs: number;
  #lastKeyframeAtMs: number | null = null;
  #stats: CameraStats = EMPTY_STATS;

  constructor(startedAtMs: number) {
    this.#lastFrameAtMs = startedAtMs;
  }

  update(sample: CounterSample): CameraStats {
    const last = this.#last;
    if (!last || sample.frames > last.frames) this.#lastFrameAtMs = sample.atMs;
    if (sample.keyframes > (last?.keyframes ?? 0)) this.#lastKeyframeAtMs = sample.atMs;
    const seconds = last ? (sample.atMs - last.atMs) / 1000 : 0;
    const rate = (now: number, before: number) =>
      seconds > 0 ? Math.max(0, now - before) / seconds : 0;
    this.#stats = {
      framesIn: sample.frames,
      fpsIn: round1(rate(sample.frames, last?.frames ?? 0)),
      framesOut: sample.framesOut,
      keyframes: sample.keyframes,
      lastKeyframeAgeMs: this.#lastKeyframeAtMs === null
        ? null
        : sample.atMs - this.#lastKeyframeAtMs,
      bitrateKbps: Math.round(rate(sample.bytes, last?.bytes ?? 0) * 8 / 1000),
      droppedFrames: sample.droppedFrames ?? null,
      packetsLost: sample.packetsLost,
      width: sample.width,
      height: sample.height,
    };
    this.#last = sample;
    return this.#stats;
  }

  get stats(): CameraStats {
    return this.#stats;
  }

  /** Milliseconds since a frame last arrived (or since start, before the first). */
  stalledForMs(nowMs: number): number {
    return nowMs - this.#lastFrameAtMs;
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
