/**
 * Downloads an update bundle into a folder of the data disk's state area, resuming with HTTP
 * Range after a dropped connection or a restart. Everything from the network is untrusted: the
 * body may not exceed the announced size, and the file is kept only when its SHA-256 is the
 * announced one (else it is removed). Nothing downloaded is executed here; the bundle is only
 * handed to RAUC (rauc.ts), which checks its signature.
 *
 * Files in `dir`: `bundle.part` (bytes so far), `bundle.json` (`{size, sha256}` of the bundle the
 * part belongs to; a part for another bundle is discarded), `bundle.raucb` (the verified bundle).
 */
import { createHash } from "node:crypto";

export interface BundleRef {
  readonly url: string;
  readonly size: number;
  /** Lower-case hex. */
  readonly sha256: string;
}

export interface Progress {
  readonly bytes: number;
  readonly size: number;
  /** Whole percent, 0–100. */
  readonly percent: number;
}

export interface DownloadOptions {
  /** Folder for the part file and the bundle (created 0700). */
  readonly dir: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: Progress) => void;
  /** Progress at most every this many percent… (default 5) */
  readonly progressPercent?: number;
  /** …or when this much time passed since the last one (default 2000 ms). */
  readonly progressMs?: number;
  /** Connection attempts, the first included (default 5). */
  readonly attempts?: number;
  /** Pause before a retry (default 2000 ms, doubled each time up to 30 s). */
  readonly retryMs?: number;
  /** A connection that sends nothing for this long is dropped and resumed (default 60 s). */
  readonly stallMs?: number;
  /**
   * PEM files of CAs trusted for the bundle's server besides the system's roots: the fleet's own CA
   * (mqtt.caFile, from provisioning), so bundles can come from the fleet's servers.
   */
  readonly caFiles?: readonly string[];
  readonly now?: () => number;
}

export type DownloadErrorKind = "hash" | "size" | "http" | "network" | "aborted" | "url";

export class DownloadError extends Error {
  readonly kind: DownloadErrorKind;
  constructor(kind: DownloadErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DownloadError";
    this.kind = kind;
  }
}

const PART = "bundle.part";
const META = "bundle.json";
export const BUNDLE_FILE = "bundle.raucb";

/** Whether the bundle may be fetched from `url`: https, or http to the loopback only. */
export function allowedBundleUrl(url: string): boolean {
  try {
    const u = new URL(url);
    if (u.username || u.password) return false;
    if (u.protocol === "https:") return true;
    return u.protocol === "http:" && (u.hostname === "127.0.0.1" || u.hostname === "[::1]");
  } catch {
    return false;
  }
}

/**
 * Downloads `ref` into `dir` and returns the path of the verified bundle. Resumes a part left
 * by an earlier call for the same size and SHA-256. Throws DownloadError naming what failed.
 */
export async function downloadBundle(ref: BundleRef, opts: DownloadOptions): Promise<string> {
  if (!allowedBundleUrl(ref.url)) {
    throw new DownloadError("url", "the bundle URL must be https: (http: only to the loopback)");
  }
  const now = opts.now ?? Date.now;
  const part = `${opts.dir}/${PART}`;
  const meta = `${opts.dir}/${META}`;
  const done = `${opts.dir}/${BUNDLE_FILE}`;
  await Deno.mkdir(opts.dir, { recursive: true, mode: 0o700 });
  await Deno.remove(done).catch(ignoreNotFound);
  if (!(await samePart(meta, ref))) {
    await Deno.remove(part).catch(ignoreNotFound);
    await Deno.writeTextFile(meta, JSON.stringify({ size: ref.size, sha256: ref.sha256 }), {
      mode: 0o600,
    });
  }
  const progress = throttle(ref.size, opts, now);
  const attempts = opts.attempts ?? 5;
  let pause = opts.retryMs ?? 2000;
  for (let attempt = 1;; attempt++) {
    opts.signal?.throwIfAborted();
    let offset = await sizeOf(part);
    if (offset > ref.size) {
      await Deno.remove(part);
      offset = 0;
    }
    if (offset === ref.size) break;
    try {
      await fetchInto(ref, part, offset, opts, progress);
      if ((await sizeOf(part)) === ref.size) break;
      throw new DownloadError(
        "network",
        `the connection ended after ${await sizeOf(part)} of ${ref.size} bytes`,
      );
    } catch (err) {
      if (opts.signal?.aborted) {
        throw new DownloadError("aborted", "the download was stopped", { cause: err });
      }
      if (!(err instanceof DownloadError) || err.kind !== "network") {
        if (err instanceof DownloadError && err.kind === "size") await discard(opts.dir);
        throw err;
      }
      if (attempt >= attempts) {
        throw new DownloadError(
          "network",
          `the bundle is truncated: ${err.message}, ${attempts} attempts; the part is kept ` +
            "and the next update command resumes it",
          { cause: err },
        );
      }
      await sleep(pause, opts.signal);
      pause = Math.min(pause * 2, 30_000);
    }
  }
  const actual = await sha256File(part);
  if (actual !== ref.sha256) {
    await discard(opts.dir);
    throw new DownloadError(
      "hash",
      `the bundle's SHA-256 is ${actual}, not the announced ${ref.sha256}; the file was removed`,
    );
  }
  progress(ref.size, true);
  await Deno.rename(part, done);
  await Deno.remove(meta).catch(ignoreNotFound);
  return done;
}

/** Removes everything a download left in `dir`. */
export async function discard(dir: string): Promise<void> {
  for (const name of [PART, META, BUNDLE_FILE]) {
    await Deno.remove(`${dir}/${name}`).catch(ignoreNotFound);
  }
}

async function fetchInto(
  ref: BundleRef,
  part: string,
  offset: number,
  opts: DownloadOptions,
  progress: (bytes: number, force?: boolean) => void,
): Promise<void> {
  const stallMs = opts.stallMs ?? 60_000;
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  opts.signal?.addEventListener("abort", onAbort);
  let stall = setTimeout(() => abort.abort(), stallMs);
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  let file: Deno.FsFile | undefined;
  let client: Deno.HttpClient | undefined;
  try {
    let res: Response;
    try {
      const caCerts = await Promise.all((opts.caFiles ?? []).map((f) => Deno.readTextFile(f)));
      client = caCerts.length > 0 ? Deno.createHttpClient({ caCerts }) : undefined;
      res = await fetch(ref.url, {
        headers,
        signal: abort.signal,
        ...(client ? { client } : {}),
      });
    } catch (err) {
      throw new DownloadError("network", `cannot fetch the bundle: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!allowedBundleUrl(res.url || ref.url)) {
      await res.body?.cancel();
      throw new DownloadError("url", "the bundle URL redirected to a URL that is not https:");
    }
    let start: number;
    if (res.status === 206 && offset > 0) {
      start = contentRangeStart(res.headers.get("content-range"));
      if (start !== offset) {
        await res.body?.cancel();
        throw new DownloadError(
          "network",
          `the server answered the range from ${offset} with one from ${start}`,
        );
      }
    } else if (res.status === 200) {
      start = 0; // no Range support: start again from the first byte
    } else {
      await res.body?.cancel();
      const kind = res.status >= 500 || res.status === 408 || res.status === 429
        ? "network"
        : "http";
      throw new DownloadError(kind, `the bundle server answered HTTP ${res.status}`);
    }
    const length = Number(res.headers.get("content-length") ?? NaN);
    if (Number.isFinite(length) && start + length > ref.size) {
      await res.body?.cancel();
      throw new DownloadError(
        "size",
        `the server sends ${start + length} bytes; the bundle was announced as ${ref.size}`,
      );
    }
    file = await Deno.open(part, {
      write: true,
      create: true,
      truncate: start === 0,
      append: start > 0,
      mode: 0o600,
    });
    let bytes = start;
    const reader = res.body?.getReader();
    if (!reader) return;
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          throw new DownloadError("network", `the connection dropped: ${(err as Error).message}`, {
            cause: err,
          });
        }
        if (chunk.done) break;
        clearTimeout(stall);
        stall = setTimeout(() => abort.abort(), stallMs);
        if (bytes + chunk.value.byteLength > ref.size) {
          throw new DownloadError(
            "size",
            `the server sent more than the announced ${ref.size} bytes; the file was removed`,
          );
        }
        let written = 0;
        while (written < chunk.value.byteLength) {
          written += await file.write(chunk.value.subarray(written));
        }
        bytes += chunk.value.byteLength;
        progress(bytes);
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
    await file.syncData();
  } finally {
    file?.close();
    client?.close();
    clearTimeout(stall);
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

function contentRangeStart(header: string | null): number {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header ?? "");
  return m ? Number(m[1]) : -1;
}

function throttle(
  size: number,
  opts: DownloadOptions,
  now: () => number,
): (bytes: number, force?: boolean) => void {
  const stepPercent = opts.progressPercent ?? 5;
  const stepMs = opts.progressMs ?? 2000;
  let lastPercent = -Infinity;
  let lastAt = -Infinity;
  return (bytes, force = false) => {
    if (!opts.onProgress) return;
    const percent = Math.floor((bytes / size) * 100);
    const t = now();
    if (!force && percent - lastPercent < stepPercent && t - lastAt < stepMs) return;
    if (force && percent === lastPercent) return;
    lastPercent = percent;
    lastAt = t;
    opts.onProgress({ bytes, size, percent });
  };
}

async function samePart(meta: string, ref: BundleRef): Promise<boolean> {
  try {
    const m = JSON.parse(await Deno.readTextFile(meta)) as { size?: unknown; sha256?: unknown };
    return m.size === ref.size && m.sha256 === ref.sha256;
  } catch {
    return false;
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
}

/** SHA-256 of a file, read in chunks (bundles are hundreds of MB). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

function ignoreNotFound(err: unknown): void {
  if (!(err instanceof Deno.errors.NotFound)) throw err;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
