/**
 * Live view for browsers without H.265: the camera's H.264 sub-stream, remuxed (never re-encoded)
 * into fragmented MP4 and streamed as one long body that a `<video>` element plays as it arrives.
 * mp4mux with `streamable=true` puts ftyp+moov first, then a moof+mdat every 500 ms. One GStreamer
 * pipeline per viewer; it is closed when the viewer goes away. The HTTP route is api/live.ts.
 */
import { Pipeline } from "../gst/mod.ts";
import type { Element } from "../gst/element.ts";
import { redactUrl } from "../lib/redact_url.ts";

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

  constructor(perCamera: number | (() => number) = 4, total: number | (() => number) = 16) {
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

export class LiveStreamError extends Error {
  constructor(camera: string, subUrl: string, detail: string) {
    super(
      `Cannot open the live sub-stream of camera '${camera}' (${redactUrl(subUrl)}): ${detail}; ` +
        "check cameras[].subUrl and that the camera is reachable",
    );
    this.name = "LiveStreamError";
  }
}

/** The remux pipeline: RTSP H.264 in, fragmented MP4 out on appsink "out". */
export function liveLaunch(subUrl: string): string {
  const location = `"${subUrl.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  return `rtspsrc location=${location} protocols=tcp latency=100 ! rtph264depay ! ` +
    "h264parse config-interval=-1 ! mp4mux fragment-duration=500 streamable=true ! " +
    "appsink name=out sync=false max-buffers=50 drop=false";
}

/**
 * Opens the sub-stream and waits for the MP4 header (ftyp); the stream then yields the header and
 * fragments until the client cancels it or the camera stops. `onClose` runs once, after the
 * pipeline is closed. Throws LiveStreamError (and closes everything) when it cannot be opened.
 */
export async function openLiveStream(
  camera: string,
  subUrl: string,
  opts: { openTimeoutMs?: number; onClose?: () => void } = {},
): Promise<ReadableStream<Uint8Array>> {
  let pipeline: Pipeline | null = null;
  let closing: Promise<void> | null = null;
  let pending: Promise<unknown> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (pending) await pending.catch(() => {});
      await pipeline?.close();
      opts.onClose?.();
    })();
    return closing;
  };
  try {
    pipeline = Pipeline.parse(liveLaunch(subUrl), { name: `live-${camera}` });
    pipeline.play();
  } catch (err) {
    await close();
    throw new LiveStreamError(camera, subUrl, (err as Error).message);
  }
  const p = pipeline;
  const out = p.element("out") as Element;
  /** Next chunk, or null at the end (EOS, or closed); throws on a pipeline error. */
  const nextChunk = async (timeoutMs: number): Promise<Uint8Array | null> => {
    const deadline = Date.now() + timeoutMs;
    while (closing === null) {
      const pull = out.pullSample(250);
      pending = pull;
      const sample = await pull.finally(() => pending = null);
      if (sample) return sample.data;
      if (closing !== null) return null;
      for (let msg = p.poll(); msg; msg = p.poll()) {
        if (msg.type === "error") throw new Error(msg.message);
        if (msg.type === "eos") return null;
      }
      if (Date.now() > deadline) throw new Error(`no video within ${timeoutMs} ms`);
    }
    return null;
  };

  let first: Uint8Array | null;
  try {
    first = await nextChunk(opts.openTimeoutMs ?? 8000);
    if (first === null) throw new Error("the stream ended at once");
  } catch (err) {
    await close();
    throw new LiveStreamError(camera, subUrl, (err as Error).message);
  }
  let head: Uint8Array | null = first;

  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (head) {
        controller.enqueue(head);
        head = null;
        return;
      }
      let chunk: Uint8Array | null;
      try {
        // A camera that stops sending for 10 s ends the stream; the page falls back or retries.
        chunk = await nextChunk(10_000);
      } catch (err) {
        await close();
        if (!cancelled) controller.error(err);
        return;
      }
      if (cancelled) return;
      if (chunk) controller.enqueue(chunk);
      else {
        await close();
        controller.close();
      }
    },
    async cancel() {
      cancelled = true;
      await close();
    },
  });
}
