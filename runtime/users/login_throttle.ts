/**
 * Throttling of password and code guesses with a progressive delay, keyed by what is guessed at
 * *and* where from: `account|address` for logins, `address` for everything from one address.
 * A key's first `free` failures cost nothing; after that each failure doubles the wait before
 * the next attempt (base, 2×base, … up to `maxMs`). The owner at their own address has their own
 * key, so someone else's failures never lock them out; and the key exists just the same for an
 * unknown account, so the answers do not tell accounts apart.
 *
 * An attempt is *reserved* (counted as a failure) before the password is checked: everything
 * here is synchronous, so of 60 concurrent guesses only those the limit allows reach the KDF.
 * A right password then `clear`s the account key (and gives the reservation back to the address
 * key). Counts live in memory, so a full disk cannot stop logins; a key quiet for `forgetMs`
 * starts again from zero, and at most `maxKeys` are kept (the quietest go first).
 */

export interface ThrottleOptions {
  /** Attempts without any wait; the one after them waits `baseMs`. */
  readonly free: number;
  /** Wait after the first failure past `free`; doubled with each further one. */
  readonly baseMs: number;
  /** The longest wait. */
  readonly maxMs: number;
  /** A key without attempts for this long is forgotten. Default: 24 h. */
  readonly forgetMs?: number;
  /** Keys kept at most. Default: 10 000. */
  readonly maxKeys?: number;
}

interface Slot {
  failures: number;
  lastMs: number;
}

export class LoginThrottle {
  readonly #o: Required<ThrottleOptions>;
  readonly #slots = new Map<string, Slot>();

  constructor(options: ThrottleOptions) {
    if (options.free < 0 || options.baseMs <= 0 || options.maxMs < options.baseMs) {
      throw new RangeError("LoginThrottle: need free >= 0 and 0 < baseMs <= maxMs");
    }
    this.#o = { forgetMs: 86_400_000, maxKeys: 10_000, ...options };
  }

  /** The wait after `failures` failures. */
  delayFor(failures: number): number {
    const over = failures - this.#o.free;
    if (over < 0) return 0;
    return Math.min(this.#o.maxMs, this.#o.baseMs * 2 ** Math.min(over, 40));
  }

  #slot(key: string, nowMs: number): Slot | undefined {
    const slot = this.#slots.get(key);
    if (slot && nowMs - slot.lastMs > this.#o.forgetMs) {
      this.#slots.delete(key);
      return undefined;
    }
    return slot;
  }

  /** Milliseconds until the key may try again; 0 = now. */
  waitMs(key: string, nowMs: number): number {
    const slot = this.#slot(key, nowMs);
    if (!slot) return 0;
    return Math.max(0, slot.lastMs + this.delayFor(slot.failures) - nowMs);
  }

  /**
   * Reserves an attempt for every key: 0 when allowed (each key now counts one more failure),
   * else the longest wait in ms (and nothing is counted).
   */
  reserve(keys: readonly string[], nowMs: number): number {
    const wait = Math.max(0, ...keys.map((k) => this.waitMs(k, nowMs)));
    if (wait > 0) return wait;
    for (const key of keys) {
      const slot = this.#slot(key, nowMs) ?? { failures: 0, lastMs: nowMs };
      slot.failures++;
      slot.lastMs = nowMs;
      this.#slots.delete(key); // re-inserted last: the map's order is oldest activity first
      this.#slots.set(key, slot);
    }
    while (this.#slots.size > this.#o.maxKeys) {
      const oldest = this.#slots.keys().next().value;
      if (oldest === undefined) break;
      this.#slots.delete(oldest);
    }
    return 0;
  }

  /** Forgets the key's failures (a right password for this account from this address). */
  clear(key: string): void {
    this.#slots.delete(key);
  }

  /** Gives one reserved attempt back (it turned out not to be a failure). */
  release(key: string): void {
    const slot = this.#slots.get(key);
    if (slot) slot.failures = Math.max(0, slot.failures - 1);
  }
}
