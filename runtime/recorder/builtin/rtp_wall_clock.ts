/**
 * Wall-clock times of segment boundaries from the camera's RTP timestamps: tied to the wall clock
 * once, at the first segment, and carried by the media clock from then on, so consecutive segments
 * join exactly (one ends where the next begins) however late the process handles them.
 *
 * The tie is renewed only for a lasting disagreement: the camera's clock running at another rate
 * than ours over hours (a few seconds a day), or a jump in the RTP timestamps. A process that falls
 * behind under load sees the same disagreement for a moment, in one direction: re-tying then would
 * push the next segment late (a false gap in the index) and, once the backlog is read, pull a later
 * one early (an overlap). So a disagreement must be seen at `confirmations` segment starts in a row
 * before the tie moves, unless it is larger than `jumpMs` (a timestamp jump), which moves it at once.
 */
export interface RtpWallClockOptions {
  /** Disagreement (ms) from which the tie is renewed; default 2000. */
  readonly driftMs?: number;
  /** Segment starts in a row that must show it; default 3. */
  readonly confirmations?: number;
  /** A disagreement this large is a jump: renewed at once; default 60 000. */
  readonly jumpMs?: number;
}

export class RtpWallClock {
  #anchor: { ms: number; ts: number } | null = null;
  #seen = 0;
  readonly #clockRate: number;
  readonly #driftMs: number;
  readonly #confirmations: number;
  readonly #jumpMs: number;

  constructor(clockRate: number, o: RtpWallClockOptions = {}) {
    this.#clockRate = clockRate;
    this.#driftMs = o.driftMs ?? 2_000;
    this.#confirmations = o.confirmations ?? 3;
    this.#jumpMs = o.jumpMs ?? 60_000;
  }

  /** Wall time of a segment starting at RTP time `ts`, handled at `nowMs`. */
  start(ts: number, nowMs: number): number {
    if (this.#anchor === null) {
      this.#anchor = { ms: nowMs, ts };
      return nowMs;
    }
    const off = Math.abs(this.wall(ts) - nowMs);
    if (off <= this.#driftMs) {
      this.#seen = 0;
    } else if (off > this.#jumpMs || ++this.#seen >= this.#confirmations) {
      this.#anchor = { ms: nowMs, ts };
      this.#seen = 0;
    }
    return this.wall(ts);
  }

  /** Wall time of RTP time `ts` (0 before the first segment started). */
  wall(ts: number): number {
    const a = this.#anchor;
    return a === null ? 0 : Math.round(a.ms + (ts - a.ts) * 1000 / this.#clockRate);
  }
}
