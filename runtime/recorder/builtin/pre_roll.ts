/**
 * The pre-roll of a camera recorded only around events (cameras[].record.mode "events"): the last
 * seconds of the stream held in memory as whole GOPs, so that a recording opened by an event
 * starts at a keyframe at least `preRollSeconds` before it. Pure: no I/O, no clock.
 *
 * Kept: the fewest GOPs whose first keyframe is at least preRollSeconds before the newest picture
 * (with a 4 s GOP and 5 s of pre-roll, 5 to 9 s). Bounded in bytes too (maxBytes): over it the
 * oldest GOP goes first, and a single GOP larger than the bound is dropped whole, so that nothing
 * is held until the next keyframe (an event then records from that keyframe, without pre-roll).
 * Every unit is copied out of the RTSP session's arena, which is released at once: nothing here
 * holds the session's buffers.
 */
import type { AudioAccessUnit, VideoAccessUnit } from "../../media/codec/types.ts";

/** A picture, or an audio frame with its place on the video timeline, in arrival order. */
export type HeldUnit =
  | { readonly kind: "video"; readonly au: VideoAccessUnit }
  | { readonly kind: "audio"; readonly au: AudioAccessUnit; readonly videoTs: number };

export interface PreRollOptions {
  /** Video RTP clock (90 000 Hz). */
  readonly clockRate: number;
  readonly preRollSeconds: number;
  /** Most bytes held; default 32 MiB (8 s of an 8 Mbit/s stream with 4 s of GOP to spare). */
  readonly maxBytes?: number;
}

export const PRE_ROLL_MAX_BYTES = 32 * 1024 * 1024;

interface Gop {
  readonly startTs: number;
  readonly units: HeldUnit[];
  bytes: number;
}

const START_CODE = new Uint8Array([0, 0, 0, 1]);

export class PreRoll {
  readonly counters = {
    /** Pictures received (held or not). */
    framesIn: 0,
    keyframes: 0,
    /** GOPs dropped before their time because the byte bound was reached. */
    gopsOverBound: 0,
  };
  readonly #clockRate: number;
  readonly #preRollTicks: number;
  readonly #maxBytes: number;
  #gops: Gop[] = [];
  #bytes = 0;
  #latestTs = -Infinity;

  constructor(options: PreRollOptions) {
    this.#clockRate = options.clockRate;
    this.#preRollTicks = options.preRollSeconds * options.clockRate;
    this.#maxBytes = options.maxBytes ?? PRE_ROLL_MAX_BYTES;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Seconds from the first held keyframe to the newest picture (0 when nothing is held). */
  get seconds(): number {
    const first = this.#gops[0];
    return first ? (this.#latestTs - first.startTs) / this.#clockRate : 0;
  }

  /** True when something is held (it starts at a keyframe). */
  get ready(): boolean {
    return this.#gops.length > 0;
  }

  pushVideo(au: VideoAccessUnit): void {
    this.counters.framesIn++;
    if (au.keyframe) {
      this.counters.keyframes++;
      this.#gops.push({ startTs: au.timestamp, units: [], bytes: 0 });
    }
    const gop = this.#gops.at(-1);
    if (!gop) return; // before the first keyframe, or after an oversize GOP: not decodable alone
    const copy: VideoAccessUnit = { ...au, nals: au.nals.map((n) => n.slice()) };
    this.#add(gop, { kind: "video", au: copy }, sizeOf(copy.nals));
    this.#latestTs = Math.max(this.#latestTs, au.timestamp);
    this.#trim();
  }

  pushAudio(au: AudioAccessUnit, videoTs: number): void {
    const gop = this.#gops.at(-1);
    if (!gop) return;
    const copy = { data: au.data.slice(), timestamp: au.timestamp };
    this.#add(gop, { kind: "audio", au: copy, videoTs }, copy.data.length);
  }

  /** Everything held, oldest first (it starts at a keyframe); the pre-roll is empty after. */
  take(): HeldUnit[] {
    const units = this.#gops.flatMap((g) => g.units);
    this.#gops = [];
    this.#bytes = 0;
    return units;
  }

  /**
   * The newest GOP as Annex B, after `parameterSets` (the SDP's), for snapshots while nothing
   * is recorded; null while nothing is held.
   */
  latestPictures(parameterSets: readonly Uint8Array[]): Uint8Array | null {
    const gop = this.#gops.at(-1);
    if (!gop) return null;
    const nals = [...parameterSets];
    for (const u of gop.units) if (u.kind === "video") nals.push(...u.au.nals);
    const out = new Uint8Array(nals.reduce((n, nal) => n + 4 + nal.length, 0));
    let at = 0;
    for (const nal of nals) {
      out.set(START_CODE, at);
      out.set(nal, at + 4);
      at += 4 + nal.length;
    }
    return out;
  }

  #add(gop: Gop, unit: HeldUnit, bytes: number): void {
    gop.units.push(unit);
    gop.bytes += bytes;
    this.#bytes += bytes;
  }

  #trim(): void {
    // The second GOP alone covers the pre-roll: the first is no longer needed.
    while (
      this.#gops.length >= 2 && this.#gops[1]!.startTs <= this.#latestTs - this.#preRollTicks
    ) {
      this.#drop();
    }
    while (this.#bytes > this.#maxBytes && this.#gops.length > 0) {
      this.#drop();
      this.counters.gopsOverBound++;
    }
  }

  #drop(): void {
    const gop = this.#gops.shift()!;
    this.#bytes -= gop.bytes;
  }
}

function sizeOf(nals: readonly Uint8Array[]): number {
  let n = 0;
  for (const nal of nals) n += nal.length;
  return n;
}
