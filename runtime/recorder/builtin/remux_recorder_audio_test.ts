/** The built-in remuxer with audio: AAC beside the video, G.711 recorded as Opus. */
import { assert, assertEquals } from "../../testing/assert.ts";
import { packetFlags } from "../../testing/ffprobe.ts";
import { runCommand } from "../../testing/ffmpeg.ts";
import { startVirtualCamera } from "../../../hw-tests/sim/virtual_camera.ts";
import { memoryLogger } from "../../lib/log.ts";
import { indexPath, SegmentIndex } from "../../storage/mod.ts";
import { recordCameraRemux } from "./remux_recorder.ts";
import { CameraSupervisor } from "../supervisor/supervisor.ts";
import { probeStreams } from "../../testing/record_pipeline.ts";
import { camera, context, noneSeen, recordUntil } from "./remux_fixture.ts";

Deno.test("built-in remuxer: AAC audio is recorded beside the video", async () => {
  const dir = await Deno.makeTempDir();
  using index = SegmentIndex.open(indexPath(dir));
  const seen = noneSeen();
  {
    await using cam = await startVirtualCamera({
      codec: "h264",
      width: 320,
      height: 240,
      fps: 15,
      audio: "aac",
    });
    await recordUntil(
      (signal) =>
        recordCameraRemux(
          camera(cam.rtspUrl, "h264"),
          context(dir, index, memoryLogger("info"), seen, "h264"),
          signal,
        ),
      () => seen.segments.length >= 2,
      "two segments",
    );
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
    const seen = noneSeen();
    const supervisor = new CameraSupervisor(
      camera(cam.rtspUrl, "h264"),
      { ...context(dir, index, log, seen, "h264"), remux: "builtin" },
      { backoffMs: [200], jitter: 0 },
    );
    await recordUntil(
      (signal) => supervisor.run(signal),
      () => supervisor.status().segments >= 3,
      "three segments",
    );
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
