/**
 * The built-in remuxer against scripted RTSP streams: a resolution change mid-session,
 * parameter sets only in the SDP, broken RTP and garbage.
 */
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { ffprobe, packetFlags } from "../../testing/ffprobe.ts";
import { makeTestStream, startScriptServer } from "../../../hw-tests/sim/rtsp_script_server.ts";
import { memoryLogger } from "../../lib/log.ts";
import { indexPath, SegmentIndex } from "../../storage/mod.ts";
import { recordCameraRemux } from "./remux_recorder.ts";
import { camera, context, noneSeen, recordUntil } from "./remux_fixture.ts";

Deno.test("built-in remuxer: a resolution change inside one RTSP session starts a new segment", async () => {
  const dir = await Deno.makeTempDir();
  const small = await makeTestStream("h265", { width: 320, height: 240, fps: 15, seconds: 3, dir });
  const large = await makeTestStream("h265", { width: 640, height: 480, fps: 15, seconds: 3, dir });
  await using server = await startScriptServer({
    codec: "h265",
    scenes: [
      { kind: "video", file: small, fps: 15 },
      { kind: "video", file: large, fps: 15 },
    ],
  });
  using index = SegmentIndex.open(indexPath(dir));
  const seen = noneSeen();
  await recordUntil(
    (signal) =>
      recordCameraRemux(
        camera(server.url, "h265"),
        { ...context(dir, index, memoryLogger("info"), seen), segmentSeconds: 60 },
        signal,
      ),
    () => seen.segments.length >= 1 && (seen.stats?.framesIn ?? 0) >= 80,
    "both scenes",
  );
  assertEquals(server.sessions, 1, "one RTSP session");
  const sizes = [];
  for (const seg of index.range("cam1", 0, Date.now() + 60_000)) {
    const probe = await ffprobe(`${dir}/${seg.path}`);
    sizes.push(`${probe.width}x${probe.height}`);
    assertEquals(`${seg.width}x${seg.height}`, `${probe.width}x${probe.height}`);
  }
  assertEquals(sizes, ["320x240", "640x480"]);
  const [a, b] = index.range("cam1", 0, Date.now() + 60_000);
  assertEquals(b!.startMs, a!.endMs, "the second segment starts where the first ended");
  await Deno.remove(dir, { recursive: true });
});

for (const codec of ["h264", "h265"] as const) {
  Deno.test(`built-in remuxer: a ${codec} camera that sends its parameter sets only in the SDP is recorded`, async () => {
    const dir = await Deno.makeTempDir();
    const clip = await makeTestStream(codec, { width: 320, height: 240, fps: 15, seconds: 2, dir });
    await using server = await startScriptServer({
      codec,
      scenes: [{ kind: "video", file: clip, fps: 15, loops: 3, parameterSets: "sdp" }],
    });
    using index = SegmentIndex.open(indexPath(dir));
    const seen = noneSeen();
    await recordUntil(
      (signal) =>
        recordCameraRemux(
          camera(server.url, codec),
          context(dir, index, memoryLogger("info"), seen, codec),
          signal,
        ),
      () => seen.segments.length >= 2,
      "two segments",
    );
    assertEquals(seen.stats?.droppedFrames, 0);
    assertEquals(seen.stats?.framesIn, seen.stats?.framesOut, "every picture received is on disk");
    for (const seg of seen.segments) {
      const path = `${dir}/${seg.path}`;
      const probe = await ffprobe(path);
      assertEquals([probe.width, probe.height], [320, 240]);
      const flags = await packetFlags(path);
      assert(flags[0]?.startsWith("K"), `${seg.path} starts on a keyframe`);
      assertEquals(probe.frames, flags.length, `${seg.path}: every picture decodes`);
    }
    assertEquals(
      (await packetFlags(`${dir}/${seen.segments[0]!.path}`)).length,
      30,
      "the first segment holds the first 2 s, from the very first picture",
    );
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("built-in remuxer: broken RTP and garbage mid-session do not stop recording; a silent camera ends the run with the segment kept", async () => {
  const dir = await Deno.makeTempDir();
  const clip = await makeTestStream("h264", { width: 320, height: 240, fps: 15, seconds: 2, dir });
  await using server = await startScriptServer({
    codec: "h264",
    scenes: [
      { kind: "video", file: clip, fps: 15 },
      { kind: "bad-rtp", packets: 50 },
      { kind: "video", file: clip, fps: 15 },
      { kind: "garbage", bytes: 4096 },
    ],
  });
  using index = SegmentIndex.open(indexPath(dir));
  const seen = noneSeen();
  const err = await recordCameraRemux(
    camera(server.url, "h264"),
    { ...context(dir, index, memoryLogger("info"), seen, "h264"), segmentSeconds: 60 },
    AbortSignal.timeout(15_000),
  ).then(() => null, (e: Error) => e);
  assert(err !== null, "the camera falling silent ends the run");
  assertMatch(err.message, /no frames for 4 s/);
  assert((seen.stats?.droppedFrames ?? 0) > 0, "damaged pictures counted as dropped");
  assert((seen.stats?.packetsLost ?? 0) > 0, "the broken packets counted");
  const segments = index.range("cam1", 0, Date.now() + 60_000);
  assertEquals(segments.length, 1, "the segment in progress was finished and indexed");
  const path = `${dir}/${segments[0]!.path}`;
  const probe = await ffprobe(path);
  assertEquals([probe.codec, probe.width, probe.height], ["h264", 320, 240]);
  // The first clean scene (30 pictures) and the second after the loss are on disk. A packet gap
  // right before a keyframe marks that keyframe damaged (the lost packets could have been its
  // start), so its GOP may go too: at least 45 of the 60 clean pictures.
  const flags = await packetFlags(path);
  assert(flags.length >= 45, `both clean scenes kept: ${flags.length} frames`);
  assert(flags[0]?.startsWith("K"));
  await Deno.remove(dir, { recursive: true });
});
