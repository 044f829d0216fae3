import { assert, assertEquals } from "../../testing/assert.ts";
import { type AccessUnit, accessUnits, encodeTestStream } from "../../testing/encode_fixture.ts";
import { parameterSetKind } from "../codec/h26x.ts";
import { Pipeline } from "../../gst/mod.ts";
import { scanFmp4 } from "./scan.ts";
import { NON_SYNC_SAMPLE, readAt, trackFragments, tracks } from "./boxes.ts";
import { removeTrimLeftovers, TRIM_SUFFIX, trimToFirstKeyframe } from "./trim.ts";
import { initSegment, mediaFragment } from "./writer.ts";
import { concat } from "../../std/bytes/concat.ts";

const START_CODE = [0, 0, 0, 1];

/**
 * Records `units` with GStreamer's own muxer (appsrc ! h264parse ! mp4mux, the muxer the
 * GStreamer recording path uses), the way a recorder joining a stream between keyframes sees it:
 * the camera's parameter sets first, then whatever picture comes next.
 */
async function muxWithGStreamer(path: string, units: readonly AccessUnit[]): Promise<void> {
  await using p = Pipeline.parse(
    "appsrc name=in is-live=true do-timestamp=true format=time " +
      'caps="video/x-h264,stream-format=byte-stream,alignment=au" ! h264parse ! ' +
      "mp4mux fragment-duration=1000 streamable=true ! " +
      `filesink location="${path}"`,
    { name: "trim-fixture" },
  );
  p.play();
  const src = p.element("in")!;
  for (const unit of units) {
    const size = unit.nals.reduce((n, nal) => n + 4 + nal.length, 0);
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const nal of unit.nals) {
      bytes.set(START_CODE, at);
      bytes.set(nal, at + 4);
      at += 4 + nal.length;
    }
    assert(src.pushBuffer(bytes), "appsrc took the picture");
    await new Promise((r) => setTimeout(r, 5));
  }
  src.endOfStream();
  for (let i = 0; i < 200; i++) {
    const msg = await p.next(5_000);
    if (msg === null || msg.type === "eos") break;
    if (msg.type === "error") throw new Error(`fixture pipeline: ${msg.message}`);
  }
}

/** sync flag of every video sample, fragment by fragment, and the fragments' decode times. */
async function fragments(path: string): Promise<{ sync: boolean[]; baseTime: number | null }[]> {
  using file = await Deno.open(path);
  const bytes = await readAt(file, 0, (await file.stat()).size);
  const out: { sync: boolean[]; baseTime: number | null }[] = [];
  let known: ReturnType<typeof tracks> = [];
  for (let at = 0; at + 8 <= bytes.length;) {
    const size = new DataView(bytes.buffer, at, 4).getUint32(0);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const box = bytes.subarray(at, at + size);
    if (type === "moov") known = tracks(box);
    if (type === "moof") {
      const traf = trackFragments(box, known)[0]!;
      out.push({ sync: traf.flags.map((f) => !(f & NON_SYNC_SAMPLE)), baseTime: traf.baseTime });
    }
    at += size;
  }
  return out;
}

/** 45 pictures, keyframes at 0, 15 and 30. */
async function stream(dir: string): Promise<AccessUnit[]> {
  const units = accessUnits(
    "h264",
    await encodeTestStream(dir, "h264", { width: 160, height: 120, frames: 45 }),
  );
  assertEquals(units.map((u, i) => u.keyframe ? i : -1).filter((i) => i >= 0), [0, 15, 30]);
  return units;
}

/** The stream as a recorder joining at picture `from` gets it: parameter sets, then pictures. */
function joinedAt(units: readonly AccessUnit[], from: number): AccessUnit[] {
  const sets = units[0]!.nals.filter((n) => parameterSetKind("h264", n) !== null);
  const first = units[from]!;
  return [{ nals: [...sets, ...first.nals], keyframe: first.keyframe }, ...units.slice(from + 1)];
}

Deno.test("a recording that joined between keyframes is cut to start on its first keyframe", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-trim-" });
  try {
    const path = `${dir}/joined.mp4`;
    await muxWithGStreamer(path, joinedAt(await stream(dir), 5));
    const before = await fragments(path);
    // What GStreamer wrote: 10 pictures that cannot be decoded, alone in the first fragment.
    assertEquals(before[0]!.sync, Array(10).fill(false));
    assertEquals(before.slice(1).map((f) => f.sync[0]), [true, true]);
    const secondStart = before[1]!.baseTime!;
    assert(secondStart > 0);

    const trim = await trimToFirstKeyframe(path);
    assertEquals(trim.droppedFrames, 10);
    assertEquals(trim.leftAsIs, null);
    assert(trim.droppedSeconds > 0 && trim.droppedSeconds < 1, `${trim.droppedSeconds} s`);

    const after = await fragments(path);
    assertEquals(after.length, 2);
    assertEquals(after.map((f) => f.sync[0]), [true, true]);
    assertEquals(after[0]!.baseTime, 0, "the file still starts at zero");
    assertEquals(
      after[1]!.baseTime,
      before[2]!.baseTime! - secondStart,
      "fragments keep their spacing",
    );
    const scan = await scanFmp4(path);
    assertEquals([scan.frames, scan.fragments, scan.completeBytes], [
      30,
      2,
      (await Deno.stat(path)).size,
    ]);
    assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(TRIM_SUFFIX)), []);

    // ffprobe decodes every picture left, the first one a keyframe.
    const probe = await new Deno.Command("ffprobe", {
      args: ["-v", "error", "-show_entries", "frame=key_frame", "-of", "csv=p=0", path],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const frames = new TextDecoder().decode(probe.stdout).trim().split("\n");
    assertEquals(new TextDecoder().decode(probe.stderr), "");
    assertEquals(frames.length, 30);
    assertEquals(frames[0], "1");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a recording that starts on a keyframe, or holds none, is left exactly as it is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-trim-" });
  try {
    const units = await stream(dir);
    const whole = `${dir}/whole.mp4`;
    await muxWithGStreamer(whole, units);
    const bytes = await Deno.readFile(whole);
    assertEquals(await trimToFirstKeyframe(whole), {
      droppedFrames: 0,
      droppedSeconds: 0,
      leftAsIs: null,
    });
    assertEquals(await Deno.readFile(whole), bytes);

    const noKey = `${dir}/no-keyframe.mp4`;
    await muxWithGStreamer(noKey, joinedAt(units.slice(0, 15), 3));
    const noKeyBytes = await Deno.readFile(noKey);
    assertEquals((await trimToFirstKeyframe(noKey)).leftAsIs, "no-keyframe");
    assertEquals(
      await Deno.readFile(noKey),
      noKeyBytes,
      "nothing is thrown away when nothing would be left",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a copy left half-written by a crash while trimming is removed; the original stays", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-trim-" });
  try {
    await Deno.writeTextFile(`${dir}/run-00001.mp4`, "original");
    await Deno.writeTextFile(`${dir}/run-00001.mp4${TRIM_SUFFIX}`, "half");
    await Deno.writeTextFile(`${dir}/live-00001.mp4${TRIM_SUFFIX}`, "being trimmed now");
    assertEquals(await removeTrimLeftovers(dir, "live-"), 1);
    assertEquals(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      [`live-00001.mp4${TRIM_SUFFIX}`, "run-00001.mp4"],
    );
    assertEquals(await removeTrimLeftovers(`${dir}/missing`), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a keyframe inside a fragment: the pictures before it are cut out of that fragment", async () => {
  // mp4mux does this now and then under load ("....K....."); written here with our own writer,
  // which lays fragments out the same way (one traf, one trun with sizes and a data offset).
  const dir = await Deno.makeTempDir({ prefix: "nvr-trim-" });
  try {
    const units = await stream(dir);
    const param = (kind: string) =>
      units[0]!.nals.find((n) => parameterSetKind("h264", n) === kind)!;
    const picture = (i: number) => ({
      nals: units[i]!.nals.filter((n) => parameterSetKind("h264", n) === null),
      duration: 6_000,
      keyframe: units[i]!.keyframe,
    });
    const run = (from: number, to: number) =>
      [...Array(to - from).keys()].map((i) => picture(from + i));
    // Joined at picture 5: fragment 1 holds 5..24 (keyframe at 15), fragment 2 holds 25..44.
    const path = `${dir}/inside.mp4`;
    await Deno.writeFile(
      path,
      concat([
        initSegment({ codec: "h264", sps: param("sps"), pps: param("pps"), timescale: 90_000 }),
        mediaFragment(1, { baseTime: 0, samples: run(5, 25) }),
        mediaFragment(2, { baseTime: 20 * 6_000, samples: run(25, 45) }),
      ]),
    );
    assertEquals((await fragments(path)).map((f) => f.sync.indexOf(true)), [10, 5]);
    const trim = await trimToFirstKeyframe(path);
    assertEquals(trim, { droppedFrames: 10, droppedSeconds: 10 / 15, leftAsIs: null });
    const after = await fragments(path);
    assertEquals(after.map((f) => f.sync.length), [10, 20]);
    assertEquals(after[0]!.sync[0], true);
    assertEquals(after.map((f) => f.baseTime), [0, 10 * 6_000]);
    const probe = await new Deno.Command("ffprobe", {
      args: ["-v", "error", "-show_entries", "packet=pts,flags", "-of", "csv=p=0", path],
      stdout: "piped",
    }).output();
    const packets = new TextDecoder().decode(probe.stdout).trim().split("\n");
    assertEquals(packets.length, 30);
    assert(packets[0]!.startsWith("0,K"), packets[0]);
    const decode = await new Deno.Command("ffmpeg", {
      args: ["-v", "error", "-i", path, "-f", "null", "-"],
      stderr: "piped",
    }).output();
    assertEquals(new TextDecoder().decode(decode.stderr), "", "every picture decodes");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
