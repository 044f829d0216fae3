/** A sliding-window cap: at most `count` takes in any `windowMs`. Pure. */
export class Throttle {
  readonly #times: number[] = [];
  constructor(readonly count: number, readonly windowMs: number) {
    if (!(count >= 1) || !(windowMs > 0)) throw new RangeError("count ≥ 1 and windowMs > 0");
  }

  /** True (and counted) when one more is allowed at `now`. */
  take(now: number): boolean {
    while (this.#times.length > 0 && now - this.#times[0]! >= this.windowMs) this.#times.shift();
    if (this.#times.length >= this.count) return false;
    this.#times.push(now);
    return true;
  }
}
