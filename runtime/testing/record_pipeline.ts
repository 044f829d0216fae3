/** Runs a recording pipeline for a while and looks at the files, for tests of sources. */
import { Pipeline } from "../gst/mod.ts";

/**
 * Plays `description` for `ms` (or until it ends by itself), then sends EOS and waits for it.
 * An error on the bus throws with the element's name and GStreamer's words.
 */
export async function runPipeline(description: string, ms: number, name = "test"): Promise<void> {
  await using pipeline = Pipeline.parse(description, { name });
  pipeline.play();
  const fail = (source: string, message: string) =>
    new Error(`${name}: ${source}: ${message}\n${description}`);
  for (const until = Date.now() + ms; Date.now() < until;) {
    const msg = await pipeline.next(Math.max(1, Math.min(200, until - Date.now())));
    if (msg?.type === "error") throw fail(msg.source, msg.message);
    if (msg?.type === "eos") return;
  }
  pipeline.sendEos();
  for (const until = Date.now() + 10_000; Date.now() < until;) {
    const msg = await pipeline.next(200);
    if (msg?.type === "error") throw fail(msg.source, msg.message);
    if (msg?.type === "eos") return;
  }
  throw fail("pipeline", "no EOS within 10 s of sending it");
}

export interface StreamInfo {
  /** "video" or "audio" */
  readonly type: string;
  /** ffprobe's codec name: "hevc", "h264", "aac", … */
  readonly codec: string;
  readonly sampleRate: number | null;
  readonly channels: number | null;
  readonly width: number | null;
  readonly height: number | null;
  readonly durationSeconds: number;
}

/** Every stream of a media file, as ffprobe sees it. Throws with ffprobe's words. */
export async function probeStreams(path: string): Promise<StreamInfo[]> {
  const json = await ffprobeJson(path, [
    "-show_entries",
    "stream=codec_type,codec_name,sample_rate,channels,width,height,duration",
  ]);
  const streams = (json.streams ?? []) as Record<string, unknown>[];
  const num = (v: unknown) => (v === undefined ? null : Number(v));
  return streams.map((s) => ({
    type: String(s.codec_type),
    codec: String(s.codec_name),
    sampleRate: num(s.sample_rate),
    channels: num(s.channels),
    width: num(s.width),
    height: num(s.height),
    durationSeconds: Number(s.duration),
  }));
}

/** Key flags of the video packets, in order ("K" for a keyframe, "_" otherwise). */
export async function videoKeyFlags(path: string): Promise<string> {
  const json = await ffprobeJson(path, ["-select_streams", "v:0", "-show_entries", "packet=flags"]);
  const packets = (json.packets ?? []) as { flags?: string }[];
  return packets.map((p) => (p.flags ?? "").startsWith("K") ? "K" : "_").join("");
}

/**
 * Decodes every stream to the end (ffprobe -count_frames) and returns the frames of each; throws
 * with ffprobe's words when a stream is broken or has no frame.
 */
export async function decodeAll(path: string): Promise<number[]> {
  const out = await new Deno.Command("ffprobe", {
    args: ["-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "json"]
      .concat(path),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (!out.success || stderr !== "") throw new Error(`ffprobe ${path}: ${stderr || "failed"}`);
  const streams = JSON.parse(new TextDecoder().decode(out.stdout)).streams ?? [];
  const frames = streams.map((s: { nb_read_frames?: string }) => Number(s.nb_read_frames));
  if (frames.length === 0 || frames.some((n: number) => !(n > 0))) {
    throw new Error(`ffprobe ${path}: a stream without frames (${frames.join(", ")})`);
  }
  return frames;
}

async function ffprobeJson(path: string, args: string[]): Promise<Record<string, unknown>> {
  const out = await new Deno.Command("ffprobe", {
    args: ["-v", "error", ...args, "-of", "json", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (!out.success) throw new Error(`ffprobe ${path}: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
