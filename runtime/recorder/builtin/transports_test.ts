/**
 * The built-in remuxer over the transports other than interleaved TCP: RTP over UDP, and
 * rtsps:// (TLS, through a TLS-terminating relay in front of the virtual camera: see
 * hw-tests/sim/tls_relay.ts for why a relay).
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../../testing/assert.ts";
import { packetFlags } from "../../testing/ffprobe.ts";
import { runCommand } from "../../testing/ffmpeg.ts";
import { makeTestCertificates } from "../../testing/mosquitto.ts";
import { startVirtualCamera } from "../../../hw-tests/sim/virtual_camera.ts";
import { startTlsRelay } from "../../../hw-tests/sim/tls_relay.ts";
import { validateConfig } from "../../config/mod.ts";
import type { CameraConfig } from "../../config/types.ts";
import { memoryLogger } from "../../lib/log.ts";
import { ensureWritable, indexPath, SegmentIndex, type SegmentRecord } from "../../storage/mod.ts";
import type { CameraStats } from "../supervisor/camera_stats.ts";
import { chooseEngine, type RecorderContext } from "../engine.ts";
import { CameraSupervisor } from "../supervisor/supervisor.ts";
import { CameraStreamError, recordCameraRemux } from "./remux_recorder.ts";
import { readUdpReceiveBuffer, udpBufferWarning } from "./udp_buffer.ts";
import { recordUntil } from "./remux_fixture.ts";

interface Seen {
  segments: SegmentRecord[];
  stats: CameraStats | null;
}

function context(dir: string, index: SegmentIndex, seen: Seen): RecorderContext {
  return {
    dataDir: dir,
    segmentSeconds: 2,
    index: () => index,
    log: memoryLogger("info"),
    now: Date.now,
    checkStorage: () => ensureWritable(dir),
    stallMs: 4_000,
    plan: {
      mode: "passthrough",
      codec: "h264",
      encoder: null,
      decoder: null,
      reason: "camera sends h264",
      launch: "",
    },
    onSegment: (s) => seen.segments.push(s),
    onStats: (s) => (seen.stats = s),
  };
}

function camera(extra: Record<string, unknown>): CameraConfig {
  return validateConfig({ cameras: [{ id: "cam1", codec: "h264", ...extra }] }).cameras[0]!;
}

/** Records through a supervisor until three segments are indexed; returns the middle ones. */
async function recordThree(cam: CameraConfig, dir: string): Promise<{
  segments: SegmentRecord[];
  stats: CameraStats;
  supervisor: CameraSupervisor;
  log: Record<string, unknown>[];
}> {
  await Deno.mkdir(dir, { recursive: true });
  using index = SegmentIndex.open(indexPath(dir));
  const seen: Seen = { segments: [], stats: null };
  const ctx = context(dir, index, seen);
  const supervisor = new CameraSupervisor(
    cam,
    { ...ctx, remux: "builtin" },
    { backoffMs: [200], jitter: 0 },
  );
  await recordUntil(
    (signal) => supervisor.run(signal),
    () => supervisor.status().segments >= 3,
    "three segments",
    30_000,
  );
  const log = (ctx.log as ReturnType<typeof memoryLogger>).lines;
  return { segments: seen.segments.slice(1, 3), stats: seen.stats!, supervisor, log };
}

/** Every picture of 2 s at 15 fps, starting on a keyframe, decoding cleanly. */
async function assertWhole(dir: string, segments: readonly SegmentRecord[]): Promise<void> {
  assertEquals(segments.length, 2);
  for (const segment of segments) {
    const path = `${dir}/${segment.path}`;
    const flags = await packetFlags(path);
    assertEquals(flags.length, 30, `${segment.path}: every picture of 2 s at 15 fps`);
    assert(flags[0]?.startsWith("K"), `${segment.path} starts on a keyframe`);
    const decode = await runCommand(
      "ffmpeg",
      ["-v", "error", "-i", path, "-f", "null", "-"],
      30_000,
    );
    assertEquals(decode.stderr.trim(), "", `${segment.path} decodes without errors`);
  }
}

Deno.test("built-in remuxer: an RTSP-over-UDP camera with G.711 audio stays on the built-in engine, every picture recorded", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using cam = await startVirtualCamera({ codec: "h264", fps: 15, audio: "pcmu" });
    const config = camera({ url: cam.rtspUrl, transport: "udp" });
    assertEquals(chooseEngine(config, { mode: "passthrough" }, "builtin"), "builtin");
    const { segments, stats, supervisor, log } = await recordThree(config, dir);
    assertEquals(supervisor.status().restarts, 0);
    assertEquals(supervisor.status().plan.recorder, "builtin");
    await assertWhole(dir, segments);
    assertEquals([stats.packetsLost, stats.droppedFrames], [0, 0]);
    // This machine's kernel setting decides whether the camera is warned about (once).
    const expected = udpBufferWarning(readUdpReceiveBuffer());
    const warned = log.filter((l) => String(l.msg).includes("UDP receive buffer"));
    assertEquals(warned.length, expected === null ? 0 : 1, JSON.stringify(warned));
    assertEquals(log.filter((l) => l.msg === "rtp packets lost").length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("built-in remuxer: an rtsps:// camera whose CA is in cameras[].caFile is recorded", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pki = await makeTestCertificates(`${dir}/pki`);
    await using cam = await startVirtualCamera({ codec: "h264", fps: 15 });
    await using relay = await startTlsRelay({
      target: cam.info.rtspPort,
      certFile: pki.serverCertFile,
      keyFile: pki.serverKeyFile,
    });
    const config = camera({ url: relay.urlFor("/main"), caFile: pki.caFile });
    assertEquals(chooseEngine(config, { mode: "passthrough" }, "builtin"), "builtin");
    const { segments, stats, supervisor } = await recordThree(config, `${dir}/data`);
    assertEquals(supervisor.status().restarts, 0);
    await assertWhole(`${dir}/data`, segments);
    assertEquals(stats.packetsLost, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cameras[].caFile: a missing file or one without a certificate names the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    using index = SegmentIndex.open(indexPath(dir));
    const seen: Seen = { segments: [], stats: null };
    await Deno.writeTextFile(`${dir}/not-pem.txt`, "hello");
    for (
      const [file, expected] of [
        [`${dir}/absent.pem`, /cannot read cameras\[\]\.caFile .*absent\.pem/],
        [`${dir}/not-pem.txt`, /caFile .*not-pem\.txt holds no PEM certificate/],
      ] as const
    ) {
      const err = await assertRejects(
        () =>
          recordCameraRemux(
            camera({ url: "rtsps://127.0.0.1:1/main", caFile: file }),
            context(dir, index, seen),
            new AbortController().signal,
          ),
        CameraStreamError,
      );
      assertMatch(err.message, expected);
    }
    const bad = () =>
      validateConfig({
        cameras: [{ id: "c", url: "rtsp://10.0.0.5/main", caFile: "/etc/ca.pem" }],
      });
    assertMatch(
      (() => {
        try {
          bad();
          return "";
        } catch (err) {
          return String(err);
        }
      })(),
      /cameras\[0\]\.caFile: is set but the camera's url is not rtsps/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
