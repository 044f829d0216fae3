/**
 * One running H.265 → H.264 transcode (board/transcode_plan.ts) driven from JavaScript: H.265 access
 * units in with their own presentation times, H.264 access units out with the same times, so the
 * wall time of each output picture (when the camera made it) is the input's. GStreamer's threads
 * do the work; this side pushes into appsrc and pulls from appsink on worker threads (FFI
 * nonblocking), so the event loop is never held.
 *
 * Backlog is bounded by the caller: `inFlight` counts pictures pushed and not yet out.
 */
import { Pipeline } from "../gst/mod.ts";
import type { Element } from "../gst/element.ts";
import { isKeyframeNal, splitAnnexB } from "../media/codec/h26x.ts";
import type { VideoAccessUnit } from "../media/codec/types.ts";

/** Output pictures' clock: 90 kHz, like RTP video. */
export const OUT_CLOCK = 90_000;
const NS = 1_000_000_000;

export interface TranscodedUnit extends VideoAccessUnit {
  /** The input picture's wall time (ms since the epoch), or null when unknown. */
  readonly wallMs: number | null;
}

export class Transcoder {
  readonly name: string;
  readonly #pipeline: Pipeline;
  readonly #in: Element;
  readonly #out: Element;
  readonly #onUnit: (unit: TranscodedUnit) => void;
  /** Input pts (ns) → wall ms, for pictures not out yet. */
  readonly #wall = new Map<bigint, number>();
  #closed = false;
  #waiters: (() => void)[] = [];
  /** Why it stopped (pipeline error, end of stream), or null while it runs. */
  ended: string | null = null;
  readonly done: Promise<void>;

  private constructor(name: string, launch: string, onUnit: (unit: TranscodedUnit) => void) {
    this.name = name;
    this.#onUnit = onUnit;
    this.#pipeline = Pipeline.parse(launch, { name });
    this.#in = this.#pipeline.element("in") as Element;
    this.#out = this.#pipeline.element("out") as Element;
    this.#pipeline.play();
    this.done = this.#pull();
  }

  /** Starts the pipeline; throws PipelineParseError/PipelineStateError when it cannot. */
  static open(name: string, launch: string, onUnit: (unit: TranscodedUnit) => void): Transcoder {
    return new Transcoder(name, launch, onUnit);
  }

  /** Pictures pushed that have not come out yet. */
  get inFlight(): number {
    return this.#wall.size;
  }

  /**
   * One H.265 access unit in Annex-B form (parameter sets before keyframes), presented at `ptsNs`
   * on this transcoder's own timeline (increasing from 0). False when it was not taken.
   */
  push(
    annexB: Uint8Array<ArrayBuffer>,
    ptsNs: bigint,
    durationNs: bigint,
    wallMs: number,
  ): boolean {
    if (this.#closed || this.ended !== null) return false;
    this.#wall.set(ptsNs, wallMs);
    const ok = this.#in.pushBuffer(annexB, { pts: ptsNs, duration: durationNs });
    if (!ok) this.#wall.delete(ptsNs);
    return ok;
  }

  /** No more input: the rest comes out, then `done` resolves. */
  end(): void {
    if (!this.#closed && this.ended === null) this.#in.endOfStream();
  }

  /** Resolves at the next picture out, at the end, or after `timeoutMs`. */
  progress(timeoutMs: number): Promise<void> {
    if (this.#closed || this.ended !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        resolve();
      }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(wake);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.ended ??= "closed";
    await this.done.catch(() => {});
    await this.#pipeline.close();
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  async #pull(): Promise<void> {
    try {
      while (!this.#closed && this.ended === null) {
        const sample = await this.#out.pullSample(200);
        if (this.#closed) break;
        if (sample) {
          this.#emit(sample.data, sample.pts);
          this.#wake();
          continue;
        }
        for (let m = this.#pipeline.poll(); m; m = this.#pipeline.poll()) {
          if (m.type === "error") this.ended = `${m.source}: ${m.message}`;
          else if (m.type === "eos") this.ended ??= "end of stream";
        }
      }
    } finally {
      this.#wake();
    }
  }

  #emit(data: Uint8Array, pts: bigint | null): void {
    const nals = splitAnnexB(data).map((n) => n.slice());
    let wallMs: number | null = null;
    if (pts !== null) {
      wallMs = this.#wall.get(pts) ?? null;
      // This picture and every one before it are out (the decoder may have dropped some).
      for (const k of this.#wall.keys()) if (k <= pts) this.#wall.delete(k);
    }
    const t = pts ?? 0n;
    this.#onUnit({
      nals,
      timestamp: Number(t * BigInt(OUT_CLOCK) / BigInt(NS)),
      keyframe: nals.some((n) => isKeyframeNal("h264", n)),
      damaged: false,
      wallMs,
    });
  }
}

/** Annex-B bytes of NAL units (4-byte start codes). */
export function annexB(nals: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const n of nals) size += 4 + n.length;
  const out = new Uint8Array(size);
  let p = 0;
  for (const n of nals) {
    out.set([0, 0, 0, 1], p);
    out.set(n, p + 4);
    p += 4 + n.length;
  }
  return out;
}
