/**
 * What landed on disk for one recorded stream: the frames in its segment files (ffprobe
 * -count_packets) and which source frames they were (the loop clip's in-band frame markers, see
 * hw-tests/sim/loop_clip.ts), so lost and duplicated frames are counted exactly.
 */
import { findFrameMarkers } from "../hw-tests/sim/loop_clip.ts";

export interface MarkerRun {
  /** Source frames from the first to the last one recorded (both included). */
  readonly span: number;
  /** Source frames inside the span that are not on disk. */
  readonly lost: number;
  /** Frames on disk twice in a row. */
  readonly duplicates: number;
  /** The largest hole, in frames. */
  readonly largestGap: number;
}

/**
 * Walks markers in recording order. The clip repeats every `loopFrames` frames, so the step from
 * one marker to the next is taken modulo the loop: 1 is the next frame, 0 a repeat, k > 1 means
 * k − 1 frames are missing. A hole of a whole loop or more cannot be seen this way (the bench
 * checks the frame count against the clock for that).
 */
export function analyzeMarkers(markers: readonly number[], loopFrames: number): MarkerRun {
  if (markers.length === 0) return { span: 0, lost: 0, duplicates: 0, largestGap: 0 };
  let span = 1;
  let lost = 0;
  let duplicates = 0;
  let largestGap = 0;
  for (let i = 1; i < markers.length; i++) {
    const step = (((markers[i] ?? 0) - (markers[i - 1] ?? 0)) % loopFrames + loopFrames) %
      loopFrames;
    if (step === 0) {
      duplicates++;
      continue;
    }
    span += step;
    lost += step - 1;
    largestGap = Math.max(largestGap, step - 1);
  }
  return { span, lost, duplicates, largestGap };
}

export interface StreamFrames extends MarkerRun {
  readonly stream: string;
  readonly files: number;
  readonly bytes: number;
  /** Video packets in all segments, by ffprobe -count_packets. */
  readonly packets: number;
  /** Frame markers found in the files (equal to packets when the recorder keeps SEI). */
  readonly markers: number;
  /** Segments ffprobe could not read (e.g. an MP4 without its index after a crash). */
  readonly unreadable: string[];
  /** Whether the first packet of the first segment is a keyframe (else the head is undecodable). */
  readonly startsOnKeyframe: boolean;
  /** Segments whose packet count differs from their marker count (a frame without its SEI). */
  readonly mismatched: { file: string; packets: number; markers: number }[];
}

/** Video packets in one file, or null when ffprobe cannot read it. */
export async function countPackets(path: string): Promise<number | null> {
  const out = await new Deno.Command("ffprobe", {
    args: [
      "-v",
      "error",
      "-count_packets",
      "-select_streams",
      "v:0",
      "-show_entries",
      "stream=nb_read_packets",
      "-of",
      "csv=p=0",
      path,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const n = Number(new TextDecoder().decode(out.stdout).trim());
  return out.success && Number.isFinite(n) ? n : null;
}

/** Whether the first video packet of `path` is a keyframe. */
export async function firstPacketIsKeyframe(path: string): Promise<boolean> {
  const out = await new Deno.Command("ffprobe", {
    args: [
      "-v",
      "error",
      "-select_streams",
      "v:0",
      "-read_intervals",
      "%+#1",
      "-show_entries",
      "packet=flags",
      "-of",
      "csv=p=0",
      path,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim().startsWith("K");
}

/** Counts one stream's segments, given in recording order. */
export async function countStream(
  stream: string,
  files: readonly string[],
  loopFrames: number,
): Promise<StreamFrames> {
  let bytes = 0;
  let packets = 0;
  const markers: number[] = [];
  const unreadable: string[] = [];
  const mismatched: { file: string; packets: number; markers: number }[] = [];
  for (const f of files) {
    const data = await Deno.readFile(f);
    bytes += data.length;
    const found = findFrameMarkers(data);
    markers.push(...found);
    const n = await countPackets(f);
    if (n === null) unreadable.push(f);
    else packets += n;
    if (n !== null && n !== found.length) {
      mismatched.push({ file: f, packets: n, markers: found.length });
    }
  }
  return {
    stream,
    files: files.length,
    bytes,
    packets,
    markers: markers.length,
    unreadable,
    startsOnKeyframe: files[0] === undefined ? true : await firstPacketIsKeyframe(files[0]),
    mismatched,
    ...analyzeMarkers(markers, loopFrames),
  };
}

/** Every file under `dir` (recursively) whose name ends in `.mp4`, as absolute paths. */
export async function listMp4(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile && e.name.endsWith(".mp4")) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping the order of results. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
