/**
 * Writes one export to a file: segments joined by ffmpeg, with progress from `-progress pipe:1`.
 *
 * Segments of one size are joined by the concat demuxer with stream copy (no decoding: seconds
 * for an hour of video). The concat demuxer cannot join different SPS sizes (a camera that came
 * back at another resolution mid-range): the player would get one track whose picture size
 * changes, which browsers show broken. Then the segments are split into runs of one size, each
 * run joined by stream copy into a temporary file, and the runs are joined by the concat filter,
 * scaled to the first run's size and encoded once with x264 ultrafast (H.264 plays everywhere).
 * Only that case decodes and encodes; its cost is measured in export_jobs_test.ts.
 */
export class ClipExportError extends Error {
  constructor(detail: string) {
    super(`Clip export failed: ${detail}`);
    this.name = "ClipExportError";
  }
}

export interface ExportSegment {
  readonly path: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly width: number | null;
  readonly height: number | null;
}

/** ffmpeg's complaint, kept short for an error message. */
const STDERR_KEEP = 1_000;

/**
 * Joins `segments` into `out` (MP4, moov first). `onProgress` gets 0..1 from ffmpeg's position
 * against the segments' total duration. Aborting `signal` stops ffmpeg. Throws ClipExportError.
 */
export async function writeExport(
  segments: readonly ExportSegment[],
  out: string,
  opts: { onProgress?: (p: number) => void; signal?: AbortSignal } = {},
): Promise<{ reencoded: boolean }> {
  if (segments.length === 0) throw new ClipExportError("no segments to join");
  const totalMs = segments.reduce((n, s) => n + Math.max(0, s.endMs - s.startMs), 0);
  const runs = sizeRuns(segments);
  const tmp = `${out}.d`;
  await Deno.mkdir(tmp, { recursive: true });
  try {
    if (runs.length === 1) {
      await ffmpeg(
        [
          ...concatInput(await listFile(tmp, "all", segments)),
          ...["-map", "0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4", out],
        ],
        totalMs,
        opts,
      );
      return { reencoded: false };
    }
    // Each run of one size: stream copy (fast, no progress shown: the encode below dominates).
    const parts: string[] = [];
    for (const [i, run] of runs.entries()) {
      const part = `${tmp}/run${i}.mp4`;
      await ffmpeg(
        [
          ...concatInput(await listFile(tmp, `run${i}`, run)),
          ...["-map", "0:v", "-c", "copy", "-f", "mp4", part],
        ],
        0,
        { ...(opts.signal ? { signal: opts.signal } : {}) },
      );
      parts.push(part);
    }
    const first = runs[0]![0]!;
    const size = first.width && first.height ? `${first.width}:${first.height}` : "-2:-2";
    const chains = parts.map((_, i) =>
      `[${i}:v]scale=${size}:force_original_aspect_ratio=decrease,` +
      `pad=${size}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p[v${i}]`
    );
    const graph = `${chains.join(";")};${parts.map((_, i) => `[v${i}]`).join("")}` +
      `concat=n=${parts.length}:v=1:a=0[out]`;
    await ffmpeg(
      [
        ...parts.flatMap((p) => ["-i", p]),
        ...["-filter_complex", graph, "-map", "[out]"],
        ...["-c:v", "libx264", "-preset", "ultrafast", "-crf", "23"],
        ...["-movflags", "+faststart", "-f", "mp4", out],
      ],
      totalMs,
      opts,
    );
    return { reencoded: true };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Consecutive segments of one picture size (unknown sizes join the run before them). */
export function sizeRuns<T extends ExportSegment>(segments: readonly T[]): T[][] {
  const runs: T[][] = [];
  let key = "";
  for (const s of segments) {
    const k = s.width && s.height ? `${s.width}x${s.height}` : key;
    if (runs.length === 0 || k !== key) runs.push([]);
    runs[runs.length - 1]!.push(s);
    key = k;
  }
  return runs;
}

function concatInput(list: string): string[] {
  return ["-f", "concat", "-safe", "0", "-i", list];
}

async function listFile(dir: string, name: string, segs: readonly ExportSegment[]) {
  const path = `${dir}/${name}.txt`;
  const text = segs.map((s) => `file '${s.path.replaceAll("'", "'\\''")}'`).join("\n");
  await Deno.writeTextFile(path, text + "\n");
  return path;
}

async function ffmpeg(
  args: string[],
  totalMs: number,
  opts: { onProgress?: (p: number) => void; signal?: AbortSignal },
): Promise<void> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("ffmpeg", {
      args: ["-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1", ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(opts.signal ? { signal: opts.signal } : {}),
    }).spawn();
  } catch (err) {
    throw new ClipExportError(
      err instanceof Deno.errors.NotFound
        ? "ffmpeg is not installed (Debian package ffmpeg)"
        : (err as Error).message,
    );
  }
  let stderr = "";
  const dec = new TextDecoder();
  const errDone = (async () => {
    for await (const c of child.stderr) {
      stderr = (stderr + dec.decode(c, { stream: true })).slice(-STDERR_KEEP);
    }
  })().catch(() => {});
  const outDone = (async () => {
    let buf = "";
    const d = new TextDecoder();
    for await (const c of child.stdout) {
      buf += d.decode(c, { stream: true });
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const line of lines) {
        // out_time_us is microseconds (out_time_ms is too, despite its name).
        const m = /^out_time_us=(\d+)/.exec(line);
        if (m && totalMs > 0) opts.onProgress?.(Math.min(1, Number(m[1]) / 1000 / totalMs));
      }
    }
  })().catch(() => {});
  const status = await child.status;
  await Promise.all([errDone, outDone]);
  if (opts.signal?.aborted) throw new ClipExportError("stopped");
  if (!status.success) {
    throw new ClipExportError(stderr.trim() || `ffmpeg exited with code ${status.code}`);
  }
}
