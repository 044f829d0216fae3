/**
 * The two RTP counters that wrap: the 32-bit timestamp, extended here into a number that never
 * wraps, and the 16-bit sequence number, whose gaps count lost packets.
 */

/** Extends 32-bit RTP timestamps: each one is placed nearest to the one before (±2^31). */
export class TimestampExtender {
  #lastRaw = -1;
  #lastExtended = 0;

  extend(raw: number): number {
    if (this.#lastRaw < 0) {
      this.#lastRaw = raw >>> 0;
      this.#lastExtended = this.#lastRaw;
      return this.#lastExtended;
    }
    // Signed 32-bit difference: small steps forward or back, across the wrap too.
    const delta = ((raw >>> 0) - this.#lastRaw) | 0;
    this.#lastRaw = raw >>> 0;
    this.#lastExtended += delta;
    return this.#lastExtended;
  }
}

/**
 * Follows 16-bit sequence numbers. `next()` answers how many packets went missing just before
 * this one: 0 in order, n after a forward gap of n, -1 for a jump backwards (a duplicate or a
 * restarted sender: a discontinuity that lost nothing countable).
 */
export class SequenceTracker {
  #last = -1;

  next(sequence: number): number {
    const seq = sequence & 0xffff;
    const last = this.#last;
    this.#last = seq;
    if (last < 0) return 0;
    const gap = (seq - last - 1) & 0xffff;
    if (gap === 0) return 0;
    return gap < 0x8000 ? gap : -1;
  }
}
