/**
 * A token bucket per source address in a table of bounded size, and one for all sources together:
 * a flood from one address uses up its own bucket only, and a flood from many (spoofed) addresses
 * cannot grow memory past `maxSources` or the answers past `totalPerSecond`. When the table is
 * full the source seen longest ago is forgotten; coming back, it starts with a full bucket again,
 * so a flood of new addresses never locks a real client out.
 */

export interface RateLimitOptions {
  /** Requests a source may send at once; default 8 (an ntpd or chrony "iburst" is 4 to 8). */
  readonly burst?: number;
  /** Requests a second a source earns back; default 0.5 (clients poll every 16 s or slower). */
  readonly perSecond?: number;
  /** Sources remembered at most; default 4096. */
  readonly maxSources?: number;
  /** Answers a second for all sources together; default 1000. */
  readonly totalPerSecond?: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

export class RateLimit {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #max: number;
  readonly #total: Bucket;
  readonly #totalPerMs: number;
  readonly #totalBurst: number;
  readonly #sources = new Map<string, Bucket>();

  constructor(options: RateLimitOptions = {}) {
    this.#burst = options.burst ?? 8;
    this.#perMs = (options.perSecond ?? 0.5) / 1000;
    this.#max = options.maxSources ?? 4096;
    const total = options.totalPerSecond ?? 1000;
    this.#totalPerMs = total / 1000;
    this.#totalBurst = total;
    this.#total = { tokens: total, atMs: Number.NEGATIVE_INFINITY };
    for (const [name, v] of Object.entries({ burst: this.#burst, maxSources: this.#max, total })) {
      if (!(v >= 1)) throw new RangeError(`rate limit ${name} must be at least 1, got ${v}`);
    }
  }

  /** Sources now remembered. */
  get size(): number {
    return this.#sources.size;
  }

  /** Whether `source` may be answered at `nowMs` (monotonic); takes a token when it may. */
  take(source: string, nowMs: number): boolean {
    let bucket = this.#sources.get(source);
    if (bucket) {
      this.#sources.delete(source); // re-inserted below: the Map's order is last seen
    } else {
      if (this.#sources.size >= this.#max) {
        this.#sources.delete(this.#sources.keys().next().value!);
      }
      bucket = { tokens: this.#burst, atMs: nowMs };
    }
    this.#sources.set(source, bucket);
    refill(bucket, nowMs, this.#perMs, this.#burst);
    refill(this.#total, nowMs, this.#totalPerMs, this.#totalBurst);
    if (bucket.tokens < 1 || this.#total.tokens < 1) return false;
    bucket.tokens -= 1;
    this.#total.tokens -= 1;
    return true;
  }
}

function refill(bucket: Bucket, nowMs: number, perMs: number, max: number): void {
  const elapsed = nowMs - bucket.atMs;
  if (elapsed > 0) bucket.tokens = Math.min(max, bucket.tokens + elapsed * perMs);
  bucket.atMs = Math.max(bucket.atMs, nowMs);
}
