import { assert, assertEquals } from "../../testing/assert.ts";
import { runCommand } from "../../testing/ffmpeg.ts";
import { ffprobe, packetTimes } from "../../testing/ffprobe.ts";
import { accessUnits, encodeTestStream } from "../../testing/encode_fixture.ts";
import { scanFmp4 } from "../../storage/mod.ts";
import type { VideoAccessUnit } from "../codec/types.ts";
import { Fmp4Segmenter, type SegmenterOutput } from "./segmenter.ts";
import { snapshotJpeg } from "../../recorder/snapshot.ts";

const TICKS = 6_000; // 90 kHz / 15 fps

/** Feeds pictures and collects files: each "open" starts a new byte list. */
function run(segmenter: Fmp4Segmenter, units: VideoAccessUnit[]) {
  const files: { startTs: number; endTs: number; frames: number; bytes: Uint8Array[] }[] = [];
  const out: SegmenterOutput[] = [];
  const take = () => {
    for (const o of out.splice(0)) {
      if (o.type === "open") {
        files.push({ startTs: o.startTs, endTs: -1, frames: 0, bytes: [o.init] });
      } else if (o.type === "fragment") files.at(-1)!.bytes.push(o.bytes);
      else Object.assign(files.at(-1)!, { endTs: o.endTs, frames: o.frames });
    }
  };
  for (const au of units) {
    segmenter.pushVideo(au, out);
    take();
  }
  segmenter.finish(out);
  take();
  return files;
}

async function write(dir: string, name: string, parts: Uint8Array[]): Promise<string> {
  const path = `${dir}/${name}`;
  const size = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  await Deno.writeFile(path, all);
  return path;
}

async function stream(dir: string, codec: "h264" | "h265", frames: number, start = 1_000) {
  const units = accessUnits(
    codec,
    await encodeTestStream(dir, codec, { width: 320, height: 240, frames }),
  );
  return units.map((u, i): VideoAccessUnit => ({
    nals: u.nals,
    timestamp: start + i * TICKS,
    keyframe: u.keyframe,
    damaged: false,
  }));
}

Deno.test("segments start on keyframes, join exactly, and each decodes", async () => {
  const dir = await Deno.makeTempDir();
  // 4 s at 15 fps, keyframe every 15 pictures; begin mid-GOP (the first 5 pictures are skipped).
  const all = await stream(dir, "h265", 60);
  const units = all.slice(5);
  // The camera's SDP carries the parameter sets (the stream repeats them only at its start).
  const parameterSets = all[0]!.nals.filter((n) => [32, 33, 34].includes((n[0]! >> 1) & 0x3f));
  assertEquals(parameterSets.length, 3);
  const segmenter = new Fmp4Segmenter({
    codec: "h265",
    clockRate: 90_000,
    segmentSeconds: 2,
    parameterSets,
  });
  const files = run(segmenter, units);
  assertEquals(segmenter.counters.skipped, 10, "pictures before the first keyframe");
  assertEquals(files.map((f) => f.frames), [30, 15]);
  assertEquals(files[1]!.startTs, files[0]!.endTs, "joined at the cut keyframe");
  assertEquals(files[0]!.startTs, units[10]!.timestamp);
  assertEquals(files[1]!.endTs, units.at(-1)!.timestamp + TICKS);
  for (const [i, f] of files.entries()) {
    const path = await write(dir, `${i}.mp4`, f.bytes);
    const scan = await scanFmp4(path);
    assertEquals(scan.frames, f.frames);
    assertEquals(scan.fragments, f.frames / 15, "a fragment a second");
    const decode = await runCommand(
      "ffmpeg",
      ["-v", "error", "-i", path, "-f", "null", "-"],
      30_000,
    );
    assertEquals(decode.stderr.trim(), "");
  }
  assertEquals([segmenter.size?.width, segmenter.size?.height], [320, 240]);
  const jpegInput = segmenter.latestPictures();
  assert(jpegInput && jpegInput.length > 100, "the latest keyframe with its parameter sets");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a damaged picture and what depends on it are dropped until the next keyframe", async () => {
  const dir = await Deno.makeTempDir();
  const units = await stream(dir, "h264", 45);
  units[20] = { ...units[20]!, damaged: true };
  const segmenter = new Fmp4Segmenter({ codec: "h264", clockRate: 90_000, segmentSeconds: 10 });
  const files = run(segmenter, units);
  assertEquals(segmenter.counters.dropped, 10, "pictures 20..29");
  assertEquals(files.length, 1);
  assertEquals(files[0]!.frames, 35);
  // The picture before the hole lasts until the keyframe after it: the timeline stays exact.
  assertEquals(files[0]!.endTs - files[0]!.startTs, 45 * TICKS);
  const path = await write(dir, "damaged.mp4", files[0]!.bytes);
  const decode = await runCommand("ffmpeg", ["-v", "error", "-i", path, "-f", "null", "-"], 30_000);
  assertEquals(decode.stderr.trim(), "", "nothing undecodable was written");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("timestamps that jump or go back end the segment; the next starts at a keyframe", async () => {
  const dir = await Deno.makeTempDir();
  const units = await stream(dir, "h265", 45);
  const jumped = units.map((u, i) => i >= 20 ? { ...u, timestamp: u.timestamp + 60 * 90_000 } : u);
  const segmenter = new Fmp4Segmenter({ codec: "h265", clockRate: 90_000, segmentSeconds: 10 });
  const files = run(segmenter, jumped);
  assertEquals(files.map((f) => f.frames), [20, 15]);
  assertEquals(segmenter.counters.dropped, 10, "pictures 20..29 wait for the keyframe at 30");
  assertEquals(files[1]!.startTs, jumped[30]!.timestamp);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("new parameter sets in the stream (another resolution) start a new segment at once", async () => {
  const dir = await Deno.makeTempDir();
  const small = await stream(dir, "h264", 30);
  const bigUnits = accessUnits(
    "h264",
    await encodeTestStream(dir, "h264", { width: 640, height: 480, frames: 30 }),
  );
  const big = bigUnits.map((u, i): VideoAccessUnit => ({
    nals: u.nals,
    timestamp: small.at(-1)!.timestamp + (i + 1) * TICKS,
    keyframe: u.keyframe,
    damaged: false,
  }));
  const segmenter = new Fmp4Segmenter({ codec: "h264", clockRate: 90_000, segmentSeconds: 60 });
  const files = run(segmenter, [...small, ...big]);
  assertEquals(files.map((f) => f.frames), [30, 30]);
  assertEquals(files[1]!.startTs, files[0]!.endTs);
  for (const [i, f] of files.entries()) {
    const path = await write(dir, `${i}.mp4`, f.bytes);
    const probe = await runCommand("ffprobe", [
      "-v",
      "error",
      "-show_entries",
      "stream=width,height",
      "-of",
      "csv=p=0",
      path,
    ], 30_000);
    assertEquals(probe.stdout.trim(), i === 0 ? "320,240" : "640,480");
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("B-frames: decode order kept, decode times rise, presentation times exact", async () => {
  const dir = await Deno.makeTempDir();
  const units = await stream(dir, "h264", 45, 0);
  // Sent in decode order I P B B P B B …: each P is shown after the two B's that follow it.
  const shown = (i: number) => {
    const gop = i - (i % 15);
    const k = i % 15;
    if (k === 0) return gop;
    const group = Math.floor((k - 1) / 3) * 3;
    const pos = (k - 1) % 3; // 0: the P (shown 3rd), 1, 2: the B's
    return gop + Math.min(group + (pos === 0 ? 3 : pos), 14);
  };
  // The last group of a GOP has one B-frame: its P is shown at 14, the B at 13.
  const pts = units.map((_, i) => shown(i));
  const fixed = units.map((u, i) => ({ ...u, timestamp: pts[i]! * TICKS }));
  assertEquals(new Set(pts).size, 45, `presentation order is a permutation: ${pts}`);
  const segmenter = new Fmp4Segmenter({ codec: "h264", clockRate: 90_000, segmentSeconds: 1 });
  const files = run(segmenter, fixed);
  assert(segmenter.counters.reordered > 0);
  assertEquals(files.map((f) => f.frames), [15, 15, 15]);
  assertEquals(files.map((f) => f.startTs), [0, 15 * TICKS, 30 * TICKS]);
  for (const [n, f] of files.entries()) {
    const path = await write(dir, `b${n}.mp4`, f.bytes);
    const packets = await packetTimes(path);
    assertEquals(packets.length, 15);
    assert(packets[0]!.key, "starts on a keyframe");
    const steps = packets.slice(1).map((p, i) => p.dts - packets[i]!.dts);
    assertEquals(steps, Array(14).fill(TICKS), "decode times one picture apart");
    const times = packets.map((p) => Math.round((p.pts - packets[0]!.pts) / TICKS));
    assertEquals(times, pts.slice(n * 15, n * 15 + 15).map((t) => t - n * 15));
    // Decoded (the pictures are really in presentation order: only their times were swapped).
    assertEquals((await ffprobe(path)).frames, 15);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a snapshot shows the latest picture, not the keyframe before it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A moving ball, keyframes at pictures 0, 15 and 30.
    const es = await encodeTestStream(dir, "h265", {
      width: 320,
      height: 240,
      frames: 45,
      pattern: "ball",
    });
    const units = accessUnits("h265", es).map((u, i): VideoAccessUnit => ({
      nals: u.nals,
      timestamp: i * TICKS,
      keyframe: u.keyframe,
      damaged: false,
    }));
    const segmenter = new Fmp4Segmenter({ codec: "h265", clockRate: 90_000, segmentSeconds: 10 });
    const out: SegmenterOutput[] = [];
    for (const au of units) segmenter.pushVideo(au, out);
    const pictures = segmenter.latestPictures()!;
    await Deno.writeFile(`${dir}/gop.h265`, pictures);
    assertEquals((await gray(["-f", "hevc", "-i", `${dir}/gop.h265`])).length, 320 * 240 * 14);

    const jpeg = await snapshotJpeg(
      "cam1",
      () => Promise.resolve({ data: pictures, caps: "video/x-h265,stream-format=byte-stream" }),
      "h265",
    );
    await Deno.writeFile(`${dir}/snap.jpg`, jpeg);
    const shot = await gray(["-i", `${dir}/snap.jpg`]);
    const all = await gray(["-f", "hevc", "-i", `${dir}/h265_320x240_45ball.h265`]);
    const frame = (n: number) => all.subarray(n * shot.length, (n + 1) * shot.length);
    const diff = (n: number) => {
      let sum = 0;
      for (let i = 0; i < shot.length; i++) sum += Math.abs(shot[i]! - frame(n)[i]!);
      return sum / shot.length;
    };
    // Picture 44 is still held (its duration is known when the next comes): 43 is the latest.
    // (Compared by closeness: the JPEG is full range, the video limited, so none is exact.)
    const diffs = [...Array(45).keys()].map(diff);
    const best = diffs.indexOf(Math.min(...diffs));
    assertEquals(best, 43, diffs.map((d, n) => `${n}: ${d.toFixed(1)}`).join(", "));
    assert(diffs[30]! - diffs[43]! > 2, "far from the keyframe picture");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Decodes with ffmpeg to 8-bit gray pictures, one after the other. */
async function gray(input: string[]): Promise<Uint8Array> {
  const out = await new Deno.Command("ffmpeg", {
    args: ["-v", "error", ...input, "-f", "rawvideo", "-pix_fmt", "gray", "-"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return out.stdout;
}
