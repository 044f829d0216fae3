/** ffprobe, for tests that check what really landed on disk. */

export interface ProbeResult {
  readonly codec: string;
  readonly width: number;
  readonly height: number;
  readonly durationSeconds: number;
  readonly frames: number;
}

/** Probes the first video stream, decoding every frame to count them. Throws with ffprobe's words. */
export async function ffprobe(path: string): Promise<ProbeResult> {
  const out = await new Deno.Command("ffprobe", {
    args: [
      "-v",
      "error",
      "-count_frames",
      "-select_streams",
      "v:0",
      "-show_entries",
      "stream=codec_name,width,height,nb_read_frames:format=duration",
      "-of",
      "json",
      path,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (!out.success) throw new Error(`ffprobe ${path}: ${stderr}`);
  const json = JSON.parse(new TextDecoder().decode(out.stdout));
  const stream = json.streams?.[0] ?? {};
  return {
    codec: String(stream.codec_name),
    width: Number(stream.width),
    height: Number(stream.height),
    durationSeconds: Number(json.format?.duration),
    frames: Number(stream.nb_read_frames),
  };
}

/** Flags of every video packet in order ("K_" marks a keyframe), without decoding. */
export async function packetFlags(path: string): Promise<string[]> {
  const out = await new Deno.Command("ffprobe", {
    args: [
      "-v",
      "error",
      "-select_streams",
      "v:0",
      "-show_entries",
      "packet=flags",
      "-of",
      "csv=p=0",
      path,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`ffprobe ${path}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim() !== "");
}

/** Presentation and decode time (in the stream's time base) and keyframe flag of every video packet. */
export async function packetTimes(
  path: string,
): Promise<{ pts: number; dts: number; key: boolean }[]> {
  const out = await new Deno.Command("ffprobe", {
    args: ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts,dts,flags"]
      .concat("-of", "csv=p=0", path),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`ffprobe ${path}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim() !== "")
    .map((l) => {
      const [pts, dts, flags] = l.split(",");
      return { pts: Number(pts), dts: Number(dts), key: (flags ?? "").startsWith("K") };
    });
}
