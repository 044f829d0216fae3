/**
 * Joins consecutive segments into one MP4 without re-encoding (ffmpeg's concat demuxer, stream
 * copy). Segments are fragmented MP4 cut on keyframes, so they join cleanly.
 */

export class ClipExportError extends Error {
  constructor(detail: string) {
    super(`Clip export failed: ${detail}`);
    this.name = "ClipExportError";
  }
}

export async function exportClip(paths: readonly string[]): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-clip-" });
  try {
    const list = paths.map((p) => `file '${p.replaceAll("'", "'\\''")}'`).join("\n");
    await Deno.writeTextFile(`${dir}/list.txt`, list + "\n");
    const out = await new Deno.Command("ffmpeg", {
      args: [
        "-v",
        "error",
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        `${dir}/list.txt`,
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        "-y",
        `${dir}/clip.mp4`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new ClipExportError(new TextDecoder().decode(out.stderr).trim());
    return await Deno.readFile(`${dir}/clip.mp4`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
