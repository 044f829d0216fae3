import { assert, assertEquals } from "../../testing/assert.ts";
import { ffprobe, packetFlags, packetTimes } from "../../testing/ffprobe.ts";
import { runCommand } from "../../testing/ffmpeg.ts";
import { startVirtualCamera } from "../../../hw-tests/sim/virtual_camera.ts";
import { memoryLogger } from "../../lib/log.ts";
import { incomingDir, indexPath, SegmentIndex } from "../../storage/mod.ts";
import { recordCameraRemux } from "./remux_recorder.ts";
import { snapshotJpeg } from "../snapshot.ts";
import { camera, context, noneSeen, recordUntil, until } from "./remux_fixture.ts";

for (const codec of ["h265", "h264"] as const) {
  Deno.test(`built-in remuxer: a ${codec} camera becomes playable, contiguous segments that each start on a keyframe`, async () => {
    const dir = await Deno.makeTempDir();
    await using cam = await startVirtualCamera({ codec, width: 320, height: 240, fps: 15 });
    using index = SegmentIndex.open(indexPath(dir));
    const log = memoryLogger("info");
    const seen = noneSeen();
    const stop = new AbortController();
    const run = recordCameraRemux(
      camera(cam.rtspUrl, codec),
      context(dir, index, log, seen, codec),
      stop.signal,
    );
    try {
      await until(() => seen.segments.length >= 2, "two segments");
      const jpeg = await snapshotJpeg("cam1", seen.tap, codec);
      assertEquals([jpeg[0], jpeg[1]], [0xff, 0xd8], "a JPEG of the latest keyframe");
    } finally {
      stop.abort();
      await run;
    }
    assert(seen.tap === null, "the keyframe tap is withdrawn when the run ends");
    const segments = index.range("cam1", 0, Date.now() + 60_000);
    assertEquals(segments.length, seen.segments.length);
    assert(segments.length >= 3, `segments: ${segments.length} ${JSON.stringify(log.lines)}`);
    let frames = 0;
    for (const [i, seg] of segments.entries()) {
      const path = `${dir}/${seg.path}`;
      const probe = await ffprobe(path);
      assertEquals([probe.codec, probe.width, probe.height], [
        codec === "h265" ? "hevc" : "h264",
        320,
        240,
      ], seg.path);
      assertEquals([seg.width, seg.height], [320, 240]);
      const flags = await packetFlags(path);
      assert(flags[0]?.startsWith("K"), `${seg.path} starts on a keyframe: ${flags[0]}`);
      frames += flags.length;
      const decode = await runCommand(
        "ffmpeg",
        ["-v", "error", "-i", path, "-f", "null", "-"],
        30_000,
      );
      assertEquals(decode.stderr.trim(), "", `${seg.path} decodes without errors`);
      const next = segments[i + 1];
      if (next) {
        assertEquals(next.startMs, seg.endMs, "segments join with no gap");
        assertEquals(flags.length, 30, `${seg.path}: 2 s of 15 fps`);
      }
    }
    const stats = seen.stats!;
    assertEquals(stats.framesOut, frames, "frames out = frames in the files");
    assertEquals(stats.droppedFrames, 0);
    assertEquals(stats.packetsLost, 0);
    assert(stats.framesIn >= frames, `${stats.framesIn} in, ${frames} on disk`);
    assertEquals([...Deno.readDirSync(incomingDir(dir, "cam1"))], [], "nothing left half-written");
    await Deno.remove(dir, { recursive: true });
  });
}

for (const codec of ["h264", "h265"] as const) {
  Deno.test(`built-in remuxer: ${codec} with B-frames keeps decode order, rising decode times and every picture`, async () => {
    const dir = await Deno.makeTempDir();
    await using cam = await startVirtualCamera({
      codec,
      width: 320,
      height: 240,
      fps: 15,
      bframes: 2,
    });
    using index = SegmentIndex.open(indexPath(dir));
    const seen = noneSeen();
    await recordUntil(
      (signal) =>
        recordCameraRemux(
          camera(cam.rtspUrl, codec),
          context(dir, index, memoryLogger("info"), seen, codec),
          signal,
        ),
      () => seen.segments.length >= 3,
      "three segments",
    );
    assertEquals(seen.stats?.droppedFrames, 0);
    // Whole segments (the first may start late): 2 s of 15 fps each.
    for (const seg of seen.segments.slice(1, 3)) {
      const path = `${dir}/${seg.path}`;
      const packets = await packetTimes(path);
      assert(packets[0]!.key, `${seg.path} starts on a keyframe`);
      assertEquals(packets.length, 30, `${seg.path}: 2 s of 15 fps`);
      assertEquals((await ffprobe(path)).frames, 30, "every picture decodes");
      const dts = packets.map((p) => p.dts);
      assert(dts.every((t, i) => i === 0 || t > dts[i - 1]!), `decode times rise: ${dts}`);
      const pts = packets.map((p) => p.pts);
      assert(pts.some((t, i) => i > 0 && t < pts[i - 1]!), "B-frames kept (shown out of order)");
      const shown = pts.toSorted((a, b) => a - b);
      assert(
        shown.every((t, i) => i === 0 || Math.abs(t - shown[i - 1]! - 6000) < 600),
        `presentation times one picture apart, none missing or doubled: ${shown}`,
      );
      const decode = await runCommand(
        "ffmpeg",
        ["-v", "error", "-i", path, "-f", "null", "-"],
        30_000,
      );
      assertEquals(decode.stderr.trim(), "", `${seg.path} decodes without errors`);
    }
    await Deno.remove(dir, { recursive: true });
  });
}
