/**
 * Where a stream's NAL units live from the packet they arrived in until their fragment is
 * written: large chunks handed out front to back and taken back oldest first, then reused.
 *
 * Why: the recorder's CPU went to the garbage collector as much as to the work itself. Every
 * packet's bytes in a fresh buffer (and a fresh read buffer every megabyte) is a stream of
 * external allocations that makes V8 run full collections every second or two per process. With
 * an arena the socket is read into one reused buffer, each NAL unit is copied once into a chunk
 * here, and chunks go round: a recorder allocates nothing per packet.
 *
 * Views handed out stay valid until the chunk they are in is released: `releaseBefore(view)`
 * says that nothing older than `view` is needed any more. Views must not be kept after that
 * (copy what must live longer, e.g. the keyframe kept for snapshots).
 */

const DEFAULT_CHUNK = 1024 * 1024;
/** Released chunks kept for reuse; more are left to the garbage collector. */
const MAX_FREE = 3;

export class ByteArena {
  readonly #chunkBytes: number;
  /** Chunks that may hold live views, oldest first; the last is being filled. */
  readonly #live: Uint8Array[] = [];
  readonly #free: Uint8Array[] = [];
  #used = 0;
  /** Start (in the current chunk) of a growing allocation, or -1. */
  #growing = -1;
  #allocated = 0;

  constructor(chunkBytes = DEFAULT_CHUNK) {
    this.#chunkBytes = chunkBytes;
    this.#next(0);
  }

  /** Chunks allocated so far (reuse keeps this flat). */
  get allocatedChunks(): number {
    return this.#allocated;
  }

  /** Chunks holding views that were not released yet. */
  get liveChunks(): number {
    return this.#live.length;
  }

  /** A copy of `bytes` in the arena. Ends a growing allocation left open (it is dropped). */
  copy(bytes: Uint8Array): Uint8Array {
    this.#growing = -1;
    const view = this.#reserve(bytes.length);
    view.set(bytes);
    return view;
  }

  /** Starts an allocation whose size is known only at its end (a fragmented NAL unit). */
  begin(): void {
    this.#growing = this.#used;
  }

  /** Appends to the growing allocation; moves it to a bigger chunk when it does not fit. */
  append(bytes: Uint8Array): void {
    if (this.#growing < 0) throw new Error("ByteArena.append without begin()");
    const current = this.#current();
    if (this.#used + bytes.length > current.length) {
      const sofar = current.subarray(this.#growing, this.#used);
      this.#next(Math.max(this.#chunkBytes, 2 * (sofar.length + bytes.length)));
      this.#current().set(sofar, 0);
      this.#growing = 0;
      this.#used = sofar.length;
    }
    this.#current().set(bytes, this.#used);
    this.#used += bytes.length;
  }

  /** The growing allocation, finished. */
  end(): Uint8Array {
    if (this.#growing < 0) throw new Error("ByteArena.end without begin()");
    const view = this.#current().subarray(this.#growing, this.#used);
    this.#growing = -1;
    return view;
  }

  /** Drops the growing allocation (its fragments were lost). */
  abort(): void {
    if (this.#growing >= 0) this.#used = this.#growing;
    this.#growing = -1;
  }

  /**
   * Nothing allocated before `oldest` is needed any more (null: nothing allocated so far is);
   * chunks wholly before it are reused.
   */
  releaseBefore(oldest: Uint8Array | null): void {
    let keepFrom = this.#live.length - 1;
    if (oldest !== null) {
      const at = this.#live.findIndex((c) => c.buffer === oldest.buffer);
      if (at >= 0) keepFrom = at;
    }
    for (const chunk of this.#live.splice(0, keepFrom)) {
      if (chunk.length === this.#chunkBytes && this.#free.length < MAX_FREE) this.#free.push(chunk);
    }
  }

  #current(): Uint8Array {
    return this.#live[this.#live.length - 1]!;
  }

  #reserve(size: number): Uint8Array {
    if (this.#used + size > this.#current().length) this.#next(size);
    const view = this.#current().subarray(this.#used, this.#used + size);
    this.#used += size;
    return view;
  }

  #next(atLeast: number): void {
    const size = Math.max(this.#chunkBytes, atLeast);
    let bytes = size === this.#chunkBytes ? this.#free.pop() : undefined;
    if (!bytes) {
      bytes = new Uint8Array(size);
      this.#allocated++;
    }
    this.#live.push(bytes);
    this.#used = 0;
  }
}
