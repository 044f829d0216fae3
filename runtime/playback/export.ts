/**
 * Joins consecutive segments into one MP4 without re-encoding (ffmpeg's concat demuxer, stream
 * copy) and streams it as it is written: fragmented MP4 on ffmpeg's stdout, so a three-hour clip
 * costs ffmpeg's buffers, not gigabytes of memory or a temporary file on a small board. Segments
 * are fragmented MP4 cut on keyframes, so they join cleanly; the result plays in browsers and
 * players as it is.
 */

export class ClipExportError extends Error {
  constructor(detail: string) {
    super(`Clip export failed: ${detail}`);
    this.name = "ClipExportError";
  }
}

/** ffmpeg's complaint, kept short for an error message. */
const STDERR_KEEP = 2_000;

/**
 * Starts the export and resolves once ffmpeg has written the clip's first bytes, so a clip that
 * cannot be made is a ClipExportError before any answer is sent. The stream ends when the clip
 * is whole; it errors if ffmpeg fails later. Cancelling it stops ffmpeg.
 */
export async function exportClip(paths: readonly string[]): Promise<ReadableStream<Uint8Array>> {
  if (paths.length === 0) throw new ClipExportError("no segments to join");
  const dir = await Deno.makeTempDir({ prefix: "nvr-clip-" });
  const cleanup = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  let child: Deno.ChildProcess;
  try {
    const list = paths.map((p) => `file '${p.replaceAll("'", "'\\''")}'`).join("\n");
    await Deno.writeTextFile(`${dir}/list.txt`, list + "\n");
    child = new Deno.Command("ffmpeg", {
      args: [
        ...["-nostdin", "-v", "error", "-f", "concat", "-safe", "0", "-i", `${dir}/list.txt`],
        ...["-map", "0", "-c", "copy", "-f", "mp4"],
        ...["-movflags", "frag_keyframe+empty_moov+default_base_moof", "pipe:1"],
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    await cleanup();
    throw new ClipExportError(
      err instanceof Deno.errors.NotFound
        ? "ffmpeg is not installed (Debian package ffmpeg)"
        : (err as Error).message,
    );
  }
  let stderr = "";
  const stderrDone = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) {
      stderr = (stderr + dec.decode(chunk, { stream: true })).slice(-STDERR_KEEP);
    }
  })().catch(() => {});
  const failure = async (): Promise<ClipExportError | null> => {
    const status = await child.status;
    await stderrDone;
    await cleanup();
    return status.success
      ? null
      : new ClipExportError(stderr.trim() || `ffmpeg exited with code ${status.code}`);
  };

  const reader = child.stdout.getReader();
  const first = await reader.read();
  if (first.done) {
    throw await failure() ?? new ClipExportError("ffmpeg wrote nothing");
  }
  let pending: Uint8Array | null = first.value;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending !== null) {
        controller.enqueue(pending);
        pending = null;
        return;
      }
      const next = await reader.read();
      if (!next.done) return controller.enqueue(next.value);
      const err = await failure();
      if (err) controller.error(err);
      else controller.close();
    },
    async cancel() {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      await reader.cancel().catch(() => {});
      await failure();
    },
  });
}

/**
 * How many exports run at once (each is an ffmpeg process reading the disk): beyond `max`,
 * `tryAcquire` says no and the API answers 429 with Retry-After.
 */
export class ExportLimit {
  readonly max: number;
  #running = 0;
  constructor(max = 2) {
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`max: ${max} is not 1 or more`);
    this.max = max;
  }
  get running(): number {
    return this.#running;
  }
  /** A release function (idempotent), or null when `max` exports already run. */
  tryAcquire(): (() => void) | null {
    if (this.#running >= this.max) return null;
    this.#running++;
    let released = false;
    return () => {
      if (!released) this.#running--;
      released = true;
    };
  }
}

/** The stream, calling `release` once it ends, fails or is cancelled. */
export function releasing(
  stream: ReadableStream<Uint8Array>,
  release: () => void,
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await reader.read();
        if (next.done) {
          release();
          controller.close();
        } else controller.enqueue(next.value);
      } catch (err) {
        release();
        controller.error(err);
      }
    },
    async cancel(reason) {
      try {
        await reader.cancel(reason);
      } finally {
        release();
      }
    },
  });
}
