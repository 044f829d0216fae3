import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { ffprobe, packetFlags, packetTimes } from "../../testing/ffprobe.ts";
import { runCommand } from "../../testing/ffmpeg.ts";
import { startVirtualCamera } from "../../../hw-tests/sim/virtual_camera.ts";
import { makeTestStream, startScriptServer } from "../../../hw-tests/sim/rtsp_script_server.ts";
import { validateConfig } from "../../config/mod.ts";
import type { CameraConfig } from "../../config/types.ts";
import { type Logger, memoryLogger } from "../../lib/log.ts";
import {
  ensureWritable,
  incomingDir,
  indexPath,
  SegmentIndex,
  type SegmentRecord,
} from "../../storage/mod.ts";
import type { CameraStats } from "../supervisor/camera_stats.ts";
import type { RecorderContext } from "../engine.ts";
import { recordCameraRemux } from "./remux_recorder.ts";
import { CameraSupervisor } from "../supervisor/supervisor.ts";
import { probeStreams } from "../../testing/record_pipeline.ts";
import { type KeyframeTap, snapshotJpeg } from "../snapshot.ts";

function context(
  dir: string,
  index: SegmentIndex,
  log: Logger,
  seen: { segments: SegmentRecord[]; stats: CameraStats | null; tap: KeyframeTap | null },
  codec: "h264" | "h265" = "h265",
): RecorderContext {
  return {
    dataDir: dir,
    segmentSeconds: 2,
    index: () => index,
    log,
    now: Date.now,
    checkStorage: () => ensureWritable(dir),
    stallMs: 4_000,

    plan: {
      mode: "passthrough",
      codec,
      encoder: null,
      decoder: null,
      reason: `camera sends ${codec}`,
      launch: "",
    },
    onSegment: (s) => seen.segments.push(s),
    onStats: (s) => (seen.stats = s),
    onKeyframes: (tap) => (seen.tap = tap),
  };
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function camera(url: string, codec: "h264" | "h265"): CameraConfig {
  return validateConfig({ cameras: [{ id: "cam1", url, codec }] }).cameras[0]!;
}

for (const codec of ["h265", "h264"] as const) {
  Deno.test(`built-in remuxer: a ${codec} camera becomes playable, contiguous segments that each start on a keyframe`, async () => {
    const dir = await Deno.makeTempDir();
    await using cam = await startVirtualCamera({ codec, width: 320, height: 240, fps: 15 });
    using index = SegmentIndex.open(indexPath(dir));
    const log = memoryLogger("info");
    const seen = { segments: [] as SegmentRecord[], stats: null as CameraStats | null, tap: null };
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
    const seen = { segments: [] as SegmentRecord[], stats: null as CameraStats | null, tap: null };
    const stop = new AbortController();
    const run = recordCameraRemux(
      camera(cam.rtspUrl, codec),
      context(dir, index, memoryLogger("info"), seen, codec),
      stop.signal,
    );
    try {
      await until(() => seen.segments.length >= 3, "three segments");
    } finally {
      stop.abort();
      await run;
    }
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

Deno.test("built-in remuxer: AAC audio is recorded beside the video", async () => {
  const dir = await Deno.makeTempDir();
  using index = SegmentIndex.open(indexPath(dir));
  const seen = { segments: [] as SegmentRecord[], stats: null as CameraStats | null, tap: null };
  {
    await using cam = await startVirtualCamera({
      codec: "h264",
      width: 320,
      height: 240,
      fps: 15,
      audio: "aac",
    });
    const stop = new AbortController();
    const run = recordCameraRemux(
      camera(cam.rtspUrl, "h264"),
      context(dir, index, memoryLogger("info"), seen, "h264"),
      stop.signal,
    );
    try {
      await until(() => seen.segments.length >= 2, "two segments");
    } finally {
      stop.abort();
      await run;
    }
    const path = `${dir}/${seen.segments[1]!.path}`;
    const out = await runCommand("ffprobe", [
      "-v",
      "error",
      "-show_entries",
      "stream=codec_type,codec_name,duration",
      "-of",
      "csv=p=0",
      path,
    ], 30_000);
    const streams = out.stdout.trim().split("\n");
    assertEquals(streams.length, 2, out.stdout);
    const audio = streams.find((s) => s.startsWith("aac"));
    assert(audio, `an AAC stream: ${out.stdout}`);
    const seconds = Number(audio.split(",").at(-1));
    assert(seconds > 1.5 && seconds < 2.5, `audio lasts as long as the video: ${out.stdout}`);
  }
  await Deno.remove(dir, { recursive: true });
});

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
  const seen = { segments: [] as SegmentRecord[], stats: null as CameraStats | null, tap: null };
  const stop = new AbortController();
  const run = recordCameraRemux(
    camera(server.url, "h265"),
    { ...context(dir, index, memoryLogger("info"), seen), segmentSeconds: 60 },
    stop.signal,
  );
  try {
    await until(
      () => seen.segments.length >= 1 && (seen.stats?.framesIn ?? 0) >= 80,
      "both scenes",
    );
  } finally {
    stop.abort();
    await run;
  }
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
    const seen = { segments: [] as SegmentRecord[], stats: null as CameraStats | null, tap: null };
    const stop = new AbortController();
    const run = recordCameraRemux(
      camera(server.url, codec),
      context(dir, index, memoryLogger("info"), seen, codec),
      stop.signal,
    );
    try {
      await until(() => seen.segments.length >= 2, "two segments");
    } finally {
      stop.abort();
      await run;
    }
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
  const seen = { segments: [] as SegmentRecord[], stats: null as CameraStats | null, tap: null };
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

for (const law of ["pcmu", "pcma"] as const) {
  Deno.test(`a camera with G.711 ${law} audio stays on the built-in remuxer and is recorded with Opus a browser plays`, async () => {
    const dir = await Deno.makeTempDir();
    await using cam = await startVirtualCamera({
      codec: "h264",
      width: 320,
      height: 240,
      fps: 15,
      audio: law,
    });
    using index = SegmentIndex.open(indexPath(dir));
    const log = memoryLogger("info");
    const seen = { segments: [] as SegmentRecord[], stats: null as CameraStats | null, tap: null };
    const supervisor = new CameraSupervisor(
      camera(cam.rtspUrl, "h264"),
      { ...context(dir, index, log, seen, "h264"), remux: "builtin" },
      { backoffMs: [200], jitter: 0 },
    );
    const stop = new AbortController();
    const run = supervisor.run(stop.signal);
    try {
      await until(() => supervisor.status().segments >= 3, "three segments");
    } finally {
      stop.abort();
      await run;
    }
    assertEquals(supervisor.status().restarts, 0);
    assertEquals(supervisor.status().plan.recorder, "builtin", "status says who records it");
    for (const segment of seen.segments.slice(1, 3)) {
      const path = `${dir}/${segment.path}`;
      const streams = await probeStreams(path);
      assertEquals(streams.map((s) => [s.type, s.codec, s.sampleRate, s.channels]), [
        ["video", "h264", null, null],
        ["audio", "opus", 48000, 1],
      ]);
      const audio = streams[1]!.durationSeconds;
      assert(audio > 1.7 && audio < 2.3, `audio lasts as long as the video (2 s): ${audio}`);
      assertEquals(await packetFlags(path).then((f) => f.length), 30, "every picture");
      // Decoded to PCM: the camera's tick a second is there, not silence.
      const pcm = await new Deno.Command("ffmpeg", {
        args: ["-v", "error", "-i", path, "-vn", "-f", "s16le", "-ac", "1", "-ar", "8000", "-"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(new TextDecoder().decode(pcm.stderr).trim(), "", "the audio decodes cleanly");
      const samples = new Int16Array(pcm.stdout.buffer, 0, pcm.stdout.length >> 1);
      const peak = samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert(samples.length > 14_000, `about 2 s of samples: ${samples.length}`);
      assert(peak > 3000, `the ticks are audible (peak ${peak})`);
    }
    await Deno.remove(dir, { recursive: true });
  });
}
