/**
 * The loop clip (frame markers) and the virtual camera's --loop-file mode, end to end: a real
 * x265 clip, a real RTSP server, real ffmpeg clients. Small (320x240, 1 s clip) to stay fast.
 */
import { assert, assertEquals } from "../../runtime/testing/assert.ts";
import {
  ensureLoopClip,
  findFrameMarkers,
  frameMarkerNal,
  stampFrameMarkers,
} from "./loop_clip.ts";
import { startVirtualCamera } from "./virtual_camera.ts";
import { recordRtsp } from "../../runtime/testing/ffmpeg.ts";

/** An Annex B NAL unit: 4-byte start code, 2-byte H.265 header, then `body`. */
function nal(type: number, body: number[]): number[] {
  return [0, 0, 0, 1, type << 1, 1, ...body];
}

Deno.test("stampFrameMarkers: one marker before the first slice of each picture, read back in order", () => {
  const stream = new Uint8Array([
    ...nal(32, [0x0c]), // VPS
    ...nal(33, [0x01]), // SPS
    ...nal(34, [0xc1]), // PPS
    ...nal(19, [0x80, 0x11, 0x22]), // IDR, first slice of picture 0
    ...nal(1, [0x80, 0x33]), // TRAIL_R, first slice of picture 1 …
    ...nal(1, [0x00, 0x44]), // … and its second slice: no marker
    ...[0, 0, 1, 1 << 1, 1, 0x80, 0x55], // picture 2 after a 3-byte start code
  ]);
  const { data, frames } = stampFrameMarkers(stream);
  assertEquals(frames, 3);
  assertEquals(findFrameMarkers(data), [0, 1, 2]);
  // The marker sits right in front of the IDR's start code, after the parameter sets.
  const m0 = frameMarkerNal(0);
  const idrAt = 3 * 7;
  assertEquals([...data.subarray(idrAt, idrAt + m0.length)], [...m0]);
  assertEquals([...data.subarray(idrAt + m0.length, idrAt + m0.length + 6)], [0, 0, 0, 1, 38, 1]);
  // Everything else is unchanged.
  assertEquals(data.length, stream.length + 3 * m0.length);
  // No marker byte is zero, so no emulation prevention is needed anywhere.
  assertEquals(m0.subarray(4).includes(0), false);
  assertEquals(findFrameMarkers(new Uint8Array(1000)), []);
});

/** Presentation times of the video packets, in seconds. */
async function packetTimes(path: string): Promise<number[]> {
  const out = await new Deno.Command("ffprobe", {
    args: ["-v", "error", "-show_entries", "packet=pts_time", "-of", "csv=p=0", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, `ffprobe ${path}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trim().split("\n").map(Number);
}

/** Asserts that markers step by exactly one frame, modulo the loop. */
function assertContinuous(markers: number[], loopFrames: number, who: string): void {
  for (let i = 1; i < markers.length; i++) {
    const step = ((markers[i] ?? 0) - (markers[i - 1] ?? 0) + loopFrames) % loopFrames;
    assertEquals(step, 1, `${who}: frame ${markers[i - 1]} is followed by ${markers[i]}`);
  }
}

Deno.test("--loop-file: every frame, continuous across loops, 1/fps apart; a joining client disturbs nobody", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-loop-test-" });
  try {
    const clip = await ensureLoopClip(dir, {
      width: 320,
      height: 240,
      fps: 15,
      bitrateKbps: 300,
      seconds: 1,
    });
    assertEquals(clip.frames, 15);
    assertEquals(findFrameMarkers(await Deno.readFile(clip.path)).length, 15);
    // A second call finds the cached file instead of encoding again.
    assertEquals((await ensureLoopClip(dir, clip)).bytes, clip.bytes);

    await using cam = await startVirtualCamera({
      loopFile: clip.path,
      width: 320,
      height: 240,
      fps: 15,
    });
    assertEquals(cam.info.loopFile, clip.path);
    const a = recordRtsp(cam.rtspUrl, `${dir}/a.mp4`, 4);
    await new Promise((r) => setTimeout(r, 1000));
    const b = await recordRtsp(cam.rtspUrl, `${dir}/b.mp4`, 2);
    const aOut = await a;
    assertEquals(aOut.code, 0, aOut.stderr);
    assertEquals(b.code, 0, b.stderr);

    const aMarkers = findFrameMarkers(await Deno.readFile(`${dir}/a.mp4`));
    const bMarkers = findFrameMarkers(await Deno.readFile(`${dir}/b.mp4`));
    assert(aMarkers.length >= 55, `client a got ${aMarkers.length} frames in 4 s`);
    assert(bMarkers.length >= 8, `client b got ${bMarkers.length} frames in 2 s`);
    // ffmpeg starts at a keyframe, and the 1 s clip has one: its first frame.
    assertEquals(aMarkers[0], 0);
    assertEquals(bMarkers[0], 0);
    assertContinuous(aMarkers, clip.frames, "client a (b joined meanwhile)");
    assertContinuous(bMarkers, clip.frames, "client b");

    // RTP timestamps run on across the loop: packets 1/15 s apart (ffmpeg shifts the very
    // first packet of a session, so start from the second). Under a loaded test run a frame may
    // be stamped late (seen once in CI: one gap of 0.133 s), so: no timestamp goes back or jumps
    // a second, nearly all gaps are exact, and the span is within two frames of exact.
    const times = await packetTimes(`${dir}/a.mp4`);
    const gaps = times.slice(2).map((t, i) => t - (times[i + 1] ?? 0));
    const off = gaps.filter((g) => Math.abs(g - 1 / 15) >= 0.002);
    assert(gaps.every((g) => g >= 0 && g < 0.2), `gaps within [0, 0.2) s: ${gaps.join()}`);
    assert(off.length <= 2, `gaps off 1/15 s: ${off.map((g) => g.toFixed(4)).join()}`);
    const span = (times.at(-1) ?? 0) - (times[1] ?? 0);
    assert(
      Math.abs(span - gaps.length / 15) < 0.14,
      `${gaps.length} gaps over ${span.toFixed(3)} s`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
