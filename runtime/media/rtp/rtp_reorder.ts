/**
 * Puts RTP packets that came over UDP back in sequence order before depacketizing.
 *
 * UDP may reorder and drop; the depacketizers expect packets in order and count a sequence gap as
 * loss. In-order packets (nearly all of them on a LAN) pass straight through without a copy. A
 * packet ahead of the expected one is copied into a ring slot and held until the gap fills, or
 * until `maxHeld` packets wait or the oldest waited `maxWaitMs`; then the missing packets are
 * given up (the depacketizer sees the gap and counts them lost) and the held ones follow in order.
 * A packet shortly before the expected one (late after a give-up, or duplicate) is dropped; one
 * far from it either way (the sender restarted its sequence) starts the order afresh.
 *
 * Slots are reused Uint8Arrays: a delivered view is valid only during the `deliver` call
 * (the depacketizers copy what they keep). Pure: no I/O, time is passed in.
 */

/** A packet at most this far behind the expected one is late; further, the sender restarted. */
const MAX_LATE = 1024;

export interface RtpReorderOptions {
  /** Packets held at most while waiting for a missing one; default 32 (≈90 ms at 4 Mbit/s). */
  readonly maxHeld?: number;
  /** Longest wait for a missing packet, in ms; default 200. */
  readonly maxWaitMs?: number;
}

export class RtpReorder {
  /** Packets that arrived ahead of a missing one and were held. */
  early = 0;
  /** Packets dropped because they came after their turn (late or duplicate). */
  late = 0;
  /** Times the wait for a missing packet was given up (the packets are counted lost downstream). */
  gaps = 0;

  readonly #deliver: (packet: Uint8Array) => void;
  readonly #maxHeld: number;
  readonly #maxWaitMs: number;
  /** Ring size: a power of two, so slots stay consistent across the 16-bit wrap. */
  readonly #size: number;
  readonly #mask: number;
  #now = 0;
  readonly #slots: Uint8Array[];
  readonly #lengths: Int32Array;
  /** The sequence number held in each slot, -1 when empty. */
  readonly #seqs: Int32Array;
  #held = 0;
  #heldSince = 0;
  /** The next sequence number to deliver; -1 before the first packet. */
  #expected = -1;

  constructor(deliver: (packet: Uint8Array) => void, options: RtpReorderOptions = {}) {
    const maxHeld = options.maxHeld ?? 32;
    if (!Number.isInteger(maxHeld) || maxHeld < 1 || maxHeld > 1024) {
      throw new RangeError(`RtpReorder: maxHeld ${maxHeld} is not an integer in 1..1024`);
    }
    this.#deliver = deliver;
    this.#maxHeld = maxHeld;
    this.#maxWaitMs = options.maxWaitMs ?? 200;
    this.#size = 2 ** Math.ceil(Math.log2(maxHeld * 2));
    this.#mask = this.#size - 1;
    this.#slots = Array.from({ length: this.#size }, () => new Uint8Array(0));
    this.#lengths = new Int32Array(this.#size);
    this.#seqs = new Int32Array(this.#size).fill(-1);
  }

  /** Packets waiting for a missing one. */
  get held(): number {
    return this.#held;
  }

  /** One RTP packet (at least 12 bytes; shorter ones are passed on for the caller to reject). */
  push(packet: Uint8Array, nowMs: number): void {
    if (packet.length < 12) return this.#deliver(packet);
    this.#now = nowMs;
    const seq = (packet[2]! << 8) | packet[3]!;
    if (this.#expected < 0) {
      this.#expected = (seq + 1) & 0xffff;
      return this.#deliver(packet);
    }
    const ahead = (seq - this.#expected) & 0xffff;
    if (ahead === 0) {
      this.#expected = (seq + 1) & 0xffff;
      this.#deliver(packet);
      if (this.#held > 0) this.#drain();
      return;
    }
    const behind = ahead >= 0x8000 ? 0x10000 - ahead : 0;
    if (behind > 0 && behind <= MAX_LATE) {
      this.late++;
      return;
    }
    if (ahead >= this.#size) {
      // Far ahead or far behind (a long loss, or the sender restarted its sequence): resync.
      this.flush();
      this.gaps++;
      this.#expected = (seq + 1) & 0xffff;
      return this.#deliver(packet);
    }
    const slot = seq & this.#mask;
    if (this.#seqs[slot] === seq) {
      this.late++; // duplicate of one held
      return;
    }
    if (this.#slots[slot]!.length < packet.length) {
      this.#slots[slot] = new Uint8Array(Math.max(packet.length, 2048));
    }
    this.#slots[slot]!.set(packet);
    this.#lengths[slot] = packet.length;
    this.#seqs[slot] = seq;
    if (this.#held === 0) this.#heldSince = nowMs;
    this.#held++;
    this.early++;
    if (this.#held >= this.#maxHeld || nowMs - this.#heldSince > this.#maxWaitMs) this.#skip();
  }

  /** Delivers every held packet in order, giving up the missing ones. */
  flush(): void {
    while (this.#held > 0) this.#skip();
  }

  /** Gives up the missing packet(s) before the oldest held one, then delivers what follows. */
  #skip(): void {
    let seq = this.#expected;
    while (this.#seqs[seq & this.#mask] !== seq) seq = (seq + 1) & 0xffff;
    this.gaps++;
    this.#expected = seq;
    this.#drain();
  }

  /** Delivers held packets from the expected one on while they are consecutive. */
  #drain(): void {
    for (;;) {
      const slot = this.#expected & this.#mask;
      if (this.#seqs[slot] !== this.#expected) break;
      this.#seqs[slot] = -1;
      this.#held--;
      this.#expected = (this.#expected + 1) & 0xffff;
      this.#deliver(this.#slots[slot]!.subarray(0, this.#lengths[slot]!));
    }
    // Packets still held wait for a newer gap: their wait starts now.
    if (this.#held > 0) this.#heldSince = this.#now;
  }
}
