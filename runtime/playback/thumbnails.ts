/**
 * Thumbnails for the timeline: a small JPEG of a segment's first keyframe (every segment starts
 * on one), decoded once by GStreamer when first asked for (or when the segment closed,
 * thumbnail_queue.ts) and cached on the data disk
 * (storage/layout.ts thumbnailPath), under a size cap; retention deletes a segment's thumbnail
 * with the segment. One decode runs at a time and only a few wait, so a pointer sweeping over
 * the timeline cannot queue up work: beyond that the answer is "busy" and the page shows none.
 * Cost measured on this machine (docs/benchmarks.md): see the "thumbnail" row.
 */
import { Pipeline } from "../gst/mod.ts";
import { type IndexedSegment, thumbnailDir, thumbnailPath } from "../storage/mod.ts";

/** Too many thumbnails are being made; ask again later. */
export class ThumbnailBusyError extends Error {
  constructor(why = "Thumbnails are busy") {
    super(`${why}; try again in a moment`);
    this.name = "ThumbnailBusyError";
  }
}

/** The segment could not be turned into a picture (file gone, codec unknown, decoder error). */
export class ThumbnailError extends Error {
  constructor(segment: IndexedSegment, why: string) {
    super(`No thumbnail of segment ${segment.id} of camera '${segment.camera}': ${why}`);
    this.name = "ThumbnailError";
  }
}

export interface ThumbnailOptions {
  readonly dataDir: string;
  /** Most bytes the cache holds; the oldest thumbnails go first. Default 64 MiB. */
  readonly capBytes?: number;
  /** Width in pixels; the height keeps the picture's shape. Default 160. */
  readonly width?: number;
  /** Longest one decode may take. Default 5 s. */
  readonly timeoutMs?: number;
  /** Requests that may wait for the decoder; more answer ThumbnailBusyError. Default 4. */
  readonly maxWaiting?: number;
  /** The recording disk's check: a picture is kept only while the data folder is on it. */
  readonly checkStorage?: () => Promise<void>;
}

const PARSERS: Record<string, string> = {
  h264: "h264parse ! avdec_h264 max-threads=1",
  h265: "h265parse ! avdec_h265 max-threads=1",
};

/**
 * One JPEG of a segment file's first picture (every segment starts on a keyframe): demux, parse,
 * decode that one picture single-threaded, scale, encode; `jpegenc snapshot=true` ends the
 * stream after it, so nothing past the first keyframe is decoded. `slow`: no picture and no
 * error within the time (a loaded box, not a bad file).
 */
export async function firstKeyframeJpeg(
  source: string,
  codec: string,
  opts: { width: number; timeoutMs: number; name: string },
): Promise<
  { jpeg: Uint8Array; error?: never; slow?: never } | {
    jpeg: null;
    error: string;
    slow: boolean;
  }
> {
  const parse = PARSERS[codec];
  if (!parse) return { jpeg: null, error: `no decoder for codec '${codec}'`, slow: false };
  await using p = Pipeline.parse(
    `filesrc name=src ! qtdemux ! ${parse} ! videoconvert ! videoscale ! ` +
      `video/x-raw,width=${opts.width},pixel-aspect-ratio=1/1 ! ` +
      "jpegenc quality=70 snapshot=true ! appsink name=out sync=false",
    { name: opts.name },
  );
  p.element("src")?.set("location", source);
  p.play();
  const sample = await p.element("out")?.pullSample(opts.timeoutMs);
  if (sample && sample.data.length > 0) return { jpeg: sample.data };
  const msg = p.poll();
  if (msg?.type === "error") return { jpeg: null, error: msg.message, slow: false };
  return {
    jpeg: null,
    error: `No picture within ${opts.timeoutMs} ms (the box is busy)`,
    slow: true,
  };
}

export class Thumbnails {
  readonly #opts: Required<ThumbnailOptions>;
  /** Cached files and their sizes, oldest first (filled from the disk on first use). */
  #cached: Map<string, number> | null = null;
  #bytes = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #waiting = 0;
  readonly #pending = new Map<number, Promise<Uint8Array>>();

  constructor(opts: ThumbnailOptions) {
    this.#opts = {
      capBytes: 64 << 20,
      width: 160,
      timeoutMs: 5_000,
      maxWaiting: 4,
      checkStorage: () => Promise.resolve(),
      ...opts,
    };
  }

  /** The segment's thumbnail: from the cache, or made now. Throws ThumbnailBusyError/-Error. */
  async jpeg(segment: IndexedSegment): Promise<Uint8Array> {
    const path = thumbnailPath(this.#opts.dataDir, segment.camera, segment.id);
    const cached = await Deno.readFile(path).catch(() => null);
    if (cached && cached.length > 0) return cached;
    const pending = this.#pending.get(segment.id);
    if (pending) return await pending;
    if (this.#waiting >= this.#opts.maxWaiting) throw new ThumbnailBusyError();
    this.#waiting++;
    const made = this.#queue.then(() => this.#make(segment, path)).finally(() => {
      this.#waiting--;
      this.#pending.delete(segment.id);
    });
    this.#queue = made.catch(() => {});
    this.#pending.set(segment.id, made);
    return await made;
  }

  async #make(segment: IndexedSegment, path: string): Promise<Uint8Array> {
    const source = `${this.#opts.dataDir}/${segment.path}`;
    if (!(await Deno.stat(source).then((s) => s.isFile, () => false))) {
      throw new ThumbnailError(segment, "its file is no longer on disk");
    }
    const made = await firstKeyframeJpeg(source, segment.codec, {
      width: this.#opts.width,
      timeoutMs: this.#opts.timeoutMs,
      name: `${segment.camera}-thumbnail`,
    });
    if (made.jpeg) {
      await this.#store(path, made.jpeg);
      return made.jpeg;
    }
    // No error, just slow: a loaded box, not a bad segment. "Busy", so the page asks again.
    if (made.slow) throw new ThumbnailBusyError(made.error);
    throw new ThumbnailError(segment, made.error);
  }

  /** A thumbnail written by someone else (the on-close queue): counted against the cap. */
  async adopt(path: string, size: number): Promise<void> {
    const cached = this.#cached ?? await this.#load();
    this.#account(cached, path, size);
    await this.#evict(cached);
  }

  async #store(path: string, jpeg: Uint8Array): Promise<void> {
    const cached = this.#cached ?? await this.#load();
    try {
      await this.#opts.checkStorage(); // never onto the root filesystem
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      const tmp = `${path}.tmp`;
      await Deno.writeFile(tmp, jpeg);
      await Deno.rename(tmp, path);
    } catch {
      return; // a full or read-only disk: the picture is still answered, just not kept
    }
    this.#account(cached, path, jpeg.length);
    await this.#evict(cached);
  }

  #account(cached: Map<string, number>, path: string, size: number): void {
    this.#bytes += size - (cached.get(path) ?? 0);
    cached.delete(path);
    cached.set(path, size);
  }

  async #evict(cached: Map<string, number>): Promise<void> {
    for (const [old, size] of cached) {
      if (this.#bytes <= this.#opts.capBytes) break;
      await Deno.remove(old).catch(() => {});
      cached.delete(old);
      this.#bytes -= size;
    }
  }

  /** What the cache folder holds, oldest first (by change time). */
  async #load(): Promise<Map<string, number>> {
    const found: Array<[string, number, number]> = [];
    const root = thumbnailDir(this.#opts.dataDir);
    const list = async (dir: string) => {
      try {
        return await Array.fromAsync(Deno.readDir(dir));
      } catch {
        return [];
      }
    };
    for (const cam of await list(root)) {
      if (!cam.isDirectory) continue;
      for (const f of await list(`${root}/${cam.name}`)) {
        if (!f.isFile || !f.name.endsWith(".jpg")) continue;
        const st = await Deno.stat(`${root}/${cam.name}/${f.name}`).catch(() => null);
        if (st) found.push([`${root}/${cam.name}/${f.name}`, st.size, st.mtime?.getTime() ?? 0]);
      }
    }
    found.sort((a, b) => a[2] - b[2]);
    this.#cached = new Map(found.map(([p, size]) => [p, size]));
    this.#bytes = found.reduce((n, f) => n + f[1], 0);
    return this.#cached;
  }
}
