/**
 * The recorder against cameras that come and go: each test runs the real daemon against virtual
 * cameras and checks what lands on disk and in the index. (What cameras send and what storage
 * holds: faults_input_test.ts; split so the two run side by side in the parallel suite.)
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { ffprobe } from "../testing/ffprobe.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";

const small = { codec: "h265", width: 320, height: 240, fps: 15 } as const;

Deno.test("a camera that drops out and returns: recording resumes within 2 s, the gap is indexed", async () => {
  await using cam = await startVirtualCamera(small);
  await using h = await startHarness({ cameras: [{ id: "cam1", url: cam.rtspUrl }] }, {
    supervisor: {}, // the shipped retry pauses
  });
  await h.until("cam1", (s) => s.segments >= 1, "first segment");
  await cam.drop();
  await h.until("cam1", (s) => s.state === "retrying", "the drop noticed", 15_000);
  await new Promise((r) => setTimeout(r, 3_000));
  await cam.restore();
  const back = Date.now();
  await h.until("cam1", (s) => s.state === "recording", "recording again", 10_000);
  const resumedMs = Date.now() - back;
  console.log(`faults: recording resumed ${resumedMs} ms after the camera returned`);
  assert(resumedMs <= 2_000, `resumed ${resumedMs} ms after the camera returned`);
  const before = h.camera("cam1").segments;
  await h.until("cam1", (s) => s.segments > before, "a segment after the return");
  const gaps = h.index().gaps("cam1", 0, Date.now() + 1);
  assertEquals(gaps.length, 1, JSON.stringify(gaps));
  const gap = gaps[0]!;
  assert(gap.endMs - gap.startMs >= 3_000, `gap of ${gap.endMs - gap.startMs} ms`);
  assertMatch(gap.reason, /Could not (read|open|write)|no frames|EOS|closed the connection/);
  const kinds = h.index().events(0, Date.now() + 1, "cam1").map((e) => e.kind);
  assert(kinds.includes("camera-down") && kinds.includes("camera-up"), kinds.join());
});

Deno.test("a camera that comes back at another resolution is recorded at the new one", async () => {
  // The first camera picks its ports (and tries others if one is taken meanwhile); the second
  // comes back on the same RTSP port, as a camera would.
  const first = await startVirtualCamera(small);
  const rtspPort = first.info.rtspPort;
  await using h = await startHarness({ cameras: [{ id: "cam1", url: first.rtspUrl }] });
  try {
    await h.until("cam1", (s) => s.segments >= 1 && s.stats.width === 320, "320x240 segments");
  } finally {
    await first.stop();
  }
  await using second = await startVirtualCamera({ ...small, rtspPort, width: 640, height: 360 });
  await h.until("cam1", (s) => s.stats.width === 640, "640x360 stats", 20_000);
  const before = h.camera("cam1").segments;
  await h.until("cam1", (s) => s.segments > before, "a 640x360 segment");
  const segments = h.index().range("cam1", 0, Date.now() + 1);
  const last = segments.at(-1)!;
  assertEquals([last.width, last.height], [640, 360]);
  const probe = await ffprobe(`${h.dir}/data/${last.path}`);
  assertEquals([probe.codec, probe.width, probe.height], ["hevc", 640, 360]);
  const probeFirst = await ffprobe(`${h.dir}/data/${segments[0]!.path}`);
  assertEquals([probeFirst.width, probeFirst.height], [320, 240]);
  void second;
});

Deno.test("a camera that hangs (connection open, no frames) is restarted by the stall watchdog", async () => {
  await using cam = await startVirtualCamera(small);
  await using h = await startHarness({
    recording: { stallSeconds: 3 },
    cameras: [{ id: "cam1", url: cam.rtspUrl }],
  });
  await h.until("cam1", (s) => s.segments >= 1, "first segment");
  Deno.kill(cam.pid!, "SIGSTOP"); // the process freezes; its sockets stay open
  try {
    const stalled = await h.until("cam1", (s) => s.restarts >= 1, "the watchdog", 15_000);
    assertMatch(
      stalled.lastError ?? "",
      /no frames for 3 s|Could not (read|open)|timeout|timed out/i,
    );
  } finally {
    Deno.kill(cam.pid!, "SIGCONT");
  }
  const before = h.camera("cam1").segments;
  await h.until("cam1", (s) => s.segments > before, "recording after the camera woke up", 20_000);
});
