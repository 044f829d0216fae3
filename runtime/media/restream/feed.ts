/**
 * Restreaming, as go2rtc does it: the process that already receives a camera publishes its
 * pictures to a per-camera fan-out, and live viewers subscribe to it, so a viewer never opens a
 * second RTSP session to the camera. Pure logic, no I/O.
 *
 * AccessUnitFeed turns the RTSP client's access units into LiveFrames (own copies of the NAL
 * units, parameter sets kept in the track, each frame with its exact duration: a frame is held
 * until the next one arrives, one frame interval of latency). LiveFanout hands every frame to its
 * subscribers synchronously and keeps the frames since the latest keyframe, so a new viewer starts
 * at once. A subscriber must never block: each one keeps its own bounded queue and drops to the
 * next keyframe when it falls behind (see api/live_ws.ts), so no viewer slows the recording.
 */
import { isAccessUnitDelimiter, isSliceNal, parameterSetKind, parseSps } from "../codec/h26x.ts";
import type { VideoAccessUnit, VideoCodec } from "../codec/types.ts";

/** What decodes a run of frames: the codec and its parameter sets. */
export interface LiveTrack {
  readonly codec: VideoCodec;
  readonly clockRate: number;
  /** H.265 only. */
  readonly vps?: Uint8Array;
  readonly sps: Uint8Array;
  readonly pps: Uint8Array;
  /** RFC 6381 codec string for MSE, e.g. "avc1.42c01e". */
  readonly codecString: string;
  readonly width: number;
  readonly height: number;
}

/** One picture, owned by the frame (not a view into a reused buffer). */
export interface LiveFrame {
  /** Slice NAL units (and SEI), no parameter sets, no delimiters, no start codes. */
  readonly nals: readonly Uint8Array[];
  /** Extended RTP timestamp, in the track's clock rate. */
  readonly ts: number;
  /** Ticks until the next frame. */
  readonly duration: number;
  readonly keyframe: boolean;
  /** When the camera made it, in ms since the epoch (its RTCP clock, else the arrival time). */
  readonly wallMs: number;
  /** Bytes of its NAL units. */
  readonly bytes: number;
}

export interface LiveSubscriber {
  /** Called synchronously for every frame; must return at once (queue or drop, never wait). */
  frame(track: LiveTrack, frame: LiveFrame): void;
}

/** Something live viewers can subscribe to; the result unsubscribes. */
export interface LiveSource {
  subscribe(subscriber: LiveSubscriber): () => void;
}

/**
 * Most bytes of a GOP kept for new viewers (16 s at 2 Mbit/s); beyond it the GOP is not kept and
 * a new viewer waits for the next keyframe.
 */
const GOP_LIMIT = 4 * 1024 * 1024;

/** Frames to every subscriber, and the current GOP for the next one. */
export class LiveFanout implements LiveSource {
  readonly #subscribers = new Set<LiveSubscriber>();
  #gop: { track: LiveTrack; frame: LiveFrame }[] = [];
  #gopBytes = 0;
  #gopFull = false;
  /** Frames published since creation (tests and diagnostics). */
  frames = 0;

  get subscribers(): number {
    return this.#subscribers.size;
  }

  subscribe(subscriber: LiveSubscriber): () => void {
    for (const { track, frame } of this.#gop) safe(subscriber, track, frame);
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }

  publish(track: LiveTrack, frame: LiveFrame): void {
    this.frames++;
    if (frame.keyframe) {
      this.#gop = [];
      this.#gopBytes = 0;
      this.#gopFull = false;
    }
    if (!this.#gopFull && (frame.keyframe || this.#gop.length > 0)) {
      this.#gopBytes += frame.bytes;
      if (this.#gopBytes > GOP_LIMIT) {
        this.#gopFull = true;
        this.#gop = [];
      } else this.#gop.push({ track, frame });
    }
    for (const s of this.#subscribers) safe(s, track, frame);
  }

  /** The stream stopped (camera lost, recorder restarting): a new viewer must wait. */
  reset(): void {
    this.#gop = [];
    this.#gopBytes = 0;
  }
}

function safe(s: LiveSubscriber, track: LiveTrack, frame: LiveFrame): void {
  try {
    s.frame(track, frame);
  } catch { /* a subscriber's fault stays its own */ }
}

/** Makes a LiveTrack from parameter sets; null while one is missing or the SPS is unreadable. */
export function liveTrack(
  codec: VideoCodec,
  clockRate: number,
  params: { vps?: Uint8Array | null; sps?: Uint8Array | null; pps?: Uint8Array | null },
): LiveTrack | null {
  const { vps, sps, pps } = params;
  if (!sps || !pps || (codec === "h265" && !vps)) return null;
  try {
    const info = parseSps(codec, sps);
    return {
      codec,
      clockRate,
      ...(codec === "h265" && vps ? { vps } : {}),
      sps,
      pps,
      codecString: info.codecString,
      width: info.width,
      height: info.height,
    };
  } catch {
    return null;
  }
}

function sameBytes(a: Uint8Array | undefined | null, b: Uint8Array | undefined | null): boolean {
  if (!a || !b) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

interface HeldFrame {
  readonly nals: Uint8Array[];
  readonly ts: number;
  readonly keyframe: boolean;
  readonly track: LiveTrack;
}

/**
 * Access units of one RTSP session in, LiveFrames out to a fanout. `wallOf(ts)` gives a frame's
 * wall time. Damaged pictures and those after them up to the next keyframe are left out.
 */
export class AccessUnitFeed {
  readonly #fanout: LiveFanout;
  readonly #codec: VideoCodec;
  readonly #clockRate: number;
  readonly #wallOf: (ts: number) => number;
  readonly #params: { vps: Uint8Array | null; sps: Uint8Array | null; pps: Uint8Array | null } = {
    vps: null,
    sps: null,
    pps: null,
  };
  #track: LiveTrack | null = null;
  #held: HeldFrame | null = null;
  #waitKeyframe = true;
  #lastDuration: number;

  constructor(
    fanout: LiveFanout,
    codec: VideoCodec,
    clockRate: number,
    parameterSets: readonly Uint8Array[],
    wallOf: (ts: number) => number,
  ) {
    this.#fanout = fanout;
    this.#codec = codec;
    this.#clockRate = clockRate;
    this.#wallOf = wallOf;
    this.#lastDuration = Math.round(clockRate / 15);
    for (const nal of parameterSets) this.#takeParameterSet(nal);
    fanout.reset();
  }

  push(au: VideoAccessUnit): void {
    const nals: Uint8Array[] = [];
    let bytes = 0;
    for (const nal of au.nals) {
      if (nal.length === 0 || isAccessUnitDelimiter(this.#codec, nal)) continue;
      if (parameterSetKind(this.#codec, nal) !== null) {
        this.#takeParameterSet(nal);
        continue;
      }
      nals.push(nal);
      bytes += nal.length;
    }
    if (!nals.some((n) => isSliceNal(this.#codec, n))) return;
    const held = this.#held;
    if (held && held.ts === au.timestamp) {
      // More slices of the held picture (sent after a marker bit).
      if (au.damaged) {
        this.#held = null;
        this.#waitKeyframe = true;
      } else held.nals.push(...copyAll(nals, bytes));
      return;
    }
    if (held) {
      const step = au.timestamp - held.ts;
      // A step back or a jump of more than 5 s: the held frame gets the last known duration.
      const ok = step > 0 && step <= 5 * this.#clockRate;
      const duration = ok ? step : this.#lastDuration;
      if (ok) this.#lastDuration = step;
      this.#emit(held, duration);
      this.#held = null;
    }
    if (au.damaged) this.#waitKeyframe = true;
    else if (au.keyframe) this.#waitKeyframe = false;
    const track = this.#track;
    if (this.#waitKeyframe || !track) return;
    this.#held = { nals: copyAll(nals, bytes), ts: au.timestamp, keyframe: au.keyframe, track };
  }

  #emit(held: HeldFrame, duration: number): void {
    let bytes = 0;
    for (const n of held.nals) bytes += n.length;
    this.#fanout.publish(held.track, {
      nals: held.nals,
      ts: held.ts,
      duration,
      keyframe: held.keyframe,
      wallMs: this.#wallOf(held.ts),
      bytes,
    });
  }

  #takeParameterSet(nal: Uint8Array): void {
    const kind = parameterSetKind(this.#codec, nal);
    if (kind === null || sameBytes(this.#params[kind], nal)) return;
    this.#params[kind] = nal.slice();
    const track = liveTrack(this.#codec, this.#clockRate, this.#params);
    if (track) {
      this.#track = track;
      this.#waitKeyframe = true; // new parameter sets apply from the next keyframe
    }
  }
}

/** One buffer for all the units (they may live in a reused arena), views into it. */
function copyAll(nals: readonly Uint8Array[], bytes: number): Uint8Array[] {
  const buffer = new Uint8Array(bytes);
  const out: Uint8Array[] = [];
  let p = 0;
  for (const n of nals) {
    buffer.set(n, p);
    out.push(buffer.subarray(p, p + n.length));
    p += n.length;
  }
  return out;
}

/**
 * When the camera made a picture, from its RTP timestamp: by the camera's RTCP sender reports
 * when it sends them (its capture clock: a viewer's latency then includes the camera's own
 * encoding), otherwise from the arrival times (the earliest-arriving picture's offset, so the
 * camera's encoding and the network before the first packet are not counted).
 */
export class SourceClock {
  readonly #clockRate: number;
  readonly #sender: () => { readonly rtp: number; readonly wallMs: number } | null;
  #arrivalOffset = Infinity;

  constructor(
    clockRate: number,
    sender: () => { readonly rtp: number; readonly wallMs: number } | null,
  ) {
    this.#clockRate = clockRate;
    this.#sender = sender;
  }

  /** A picture with timestamp `ts` (extended) arrived at `nowMs`. */
  arrived(ts: number, nowMs: number): void {
    this.#arrivalOffset = Math.min(this.#arrivalOffset, nowMs - ts * 1000 / this.#clockRate);
  }

  /** Wall time (ms since the epoch) of the picture with timestamp `ts`. */
  wallOf(ts: number): number {
    const sr = this.#sender();
    if (sr) {
      let d = (ts % 2 ** 32) - sr.rtp;
      if (d >= 2 ** 31) d -= 2 ** 32;
      else if (d < -(2 ** 31)) d += 2 ** 32;
      return Math.round(sr.wallMs + d * 1000 / this.#clockRate);
    }
    return Number.isFinite(this.#arrivalOffset)
      ? Math.round(this.#arrivalOffset + ts * 1000 / this.#clockRate)
      : Date.now();
  }
}
