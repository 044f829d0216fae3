/**
 * The box's cap on concurrent H.265 → H.264 transcodes, live and recorded ranges together: each
 * one decodes a full camera picture and encodes 640 px on the CPU (or the board's encoder), and
 * the recorders must keep their share of the CPU (docs/benchmarks.md, "transcode"). The cap is a
 * function, read at every ask, so a changed configuration applies to the next transcode; those
 * running are never cut off by it.
 */
export class TranscodeSlots {
  readonly #max: () => number;
  readonly #source: () => string;
  #running = 0;
  /** Transcodes refused since start (diagnostics, tests). */
  refused = 0;

  /** `source`: where the cap comes from, for a refused viewer (default http.transcodesMax). */
  constructor(max: number | (() => number), source: () => string = () => "http.transcodesMax") {
    this.#max = typeof max === "number" ? () => max : max;
    this.#source = source;
  }

  get max(): number {
    return this.#max();
  }

  get running(): number {
    return this.#running;
  }

  /** A release function (idempotent), or null when the cap is reached. */
  acquire(): (() => void) | null {
    if (this.#running >= this.#max()) {
      this.refused++;
      return null;
    }
    this.#running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
    };
  }

  /** What a refused viewer is told. */
  refusal(what: string): string {
    if (this.max === 0) {
      return `Transcoding is off on this box (${this.#source()}: 0), so ${what} cannot be shown ` +
        "in this browser, which does not play H.265; use a browser that does, or ask an admin " +
        "to allow transcodes";
    }
    return `Too many transcodes: this box runs at most ${this.max} H.265 to H.264 transcodes at ` +
      `once (${this.#source()}) and all are in use, so ${what} ` +
      "cannot be shown in this browser now; close another view, try again later, or use a " +
      "browser that plays H.265";
  }
}
