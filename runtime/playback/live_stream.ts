/**
 * The live viewer limits, shared by live.ws and live.mp4 (api/live_ws.ts, api/live.ts). The
 * streams themselves come from the restream (live_viewer.ts, live_mp4.ts): viewers never open a
 * camera session of their own.
 */
/**
 * Caps concurrent live viewers per camera and in all (each one costs the board CPU and memory,
 * docs/benchmarks.md). A limit may be a function, read at every new viewer, so that a changed
 * configuration applies without a restart; viewers already watching are never cut off by it.
 */
export class LiveViewerLimit {
  readonly #perCamera: () => number;
  readonly #total: () => number;
  readonly #viewers = new Map<string, number>();
  #count = 0;

  constructor(perCamera: number | (() => number) = 8, total: number | (() => number) = 16) {
    this.#perCamera = typeof perCamera === "number" ? () => perCamera : perCamera;
    this.#total = typeof total === "number" ? () => total : total;
  }

  get perCamera(): number {
    return this.#perCamera();
  }

  get total(): number {
    return this.#total();
  }

  /** Number of live viewers now, in all or of one camera. */
  viewers(camera?: string): number {
    return camera === undefined ? this.#count : this.#viewers.get(camera) ?? 0;
  }

  /** A release function (call it once), or null when a limit is reached. */
  acquire(camera: string): (() => void) | null {
    const mine = this.#viewers.get(camera) ?? 0;
    if (mine >= this.perCamera || this.#count >= this.total) return null;
    this.#viewers.set(camera, mine + 1);
    this.#count++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#count--;
      const left = (this.#viewers.get(camera) ?? 1) - 1;
      if (left > 0) this.#viewers.set(camera, left);
      else this.#viewers.delete(camera);
    };
  }
}
