/**
 * Crash isolation: cameras recorded by different worker processes. Killing one worker (as a
 * crash in a GStreamer element would) stops only its cameras, for about a second; the other
 * camera and the API never notice.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { daemonHttps } from "../testing/https_client.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import type { WorkerPool } from "./mod.ts";

const small = { codec: "h265", width: 320, height: 240, fps: 15 } as const;

Deno.test("a crashed recorder process takes down only its own camera, which comes back", async () => {
  await using camA = await startVirtualCamera(small);
  await using camB = await startVirtualCamera(small);
  await using h = await startHarness({
    recording: { camerasPerProcess: 1, builtinCamerasPerProcess: 1 },
    cameras: [{ id: "a", url: camA.rtspUrl }, { id: "b", url: camB.rtspUrl }],
  });
  await h.until("a", (s) => s.segments >= 1, "a records");
  await h.until("b", (s) => s.segments >= 1, "b records");
  const pool = h.daemon.recorders as WorkerPool;
  const pids = pool.pids();
  assert(pids.a !== pids.b, "one process per camera");

  const bBefore = h.camera("b").segments;
  // What a failed assertion in a GStreamer element does (g_error aborts). A SIGSEGV sent with
  // kill() is no stand-in for a real fault: V8's trap handler swallows a signal that no faulting
  // instruction raised.
  Deno.kill(pids.a!, "SIGABRT");
  const lost = await h.until("a", (s) => s.state === "retrying", "a's process lost", 5_000);
  assertMatch(lost.lastError ?? "", /^Recorder process of a was killed by SIGABRT; restarting it$/);
  const crashedAt = Date.now();
  await h.until("a", (s) => s.state === "recording", "a records again", 10_000);
  const backMs = Date.now() - crashedAt;
  assert(backMs < 4_000, `a was back after ${backMs} ms`);

  // b recorded straight through, and the API answered all along.
  await h.until("b", (s) => s.segments >= bBefore + 1, "b keeps recording");
  assertEquals(h.camera("b").restarts, 0);
  assertEquals(h.camera("b").state, "recording");
  using https = daemonHttps(h.daemon);
  const res = await https.fetch("/healthz");
  assertEquals(res.status, 200);
  await res.body?.cancel();
  const events = h.index().events(0, Date.now() + 1, "a").map((e) => e.kind);
  assert(events.includes("recorder-lost"), events.join());
  await h.until("a", (s) => s.segments >= 1, "a's first segment after the crash");
  // The hole is the lost fragment plus the restart, not the whole open segment (the segment
  // cut short is salvaged). Holes under 1.5 s are not indexed as gaps; measure it on segments.
  const segments = h.index().range("a", 0, Date.now() + 1);
  const holes = segments.slice(1).map((s, i) => s.startMs - segments[i]!.endMs);
  const hole = Math.max(...holes);
  assert(hole < 4_000, `hole of ${hole} ms after the crash: ${holes}`);
  assert(h.index().gaps("a", 0, Date.now() + 1).length <= 1);
});

Deno.test("snapshot and restart requests reach the camera through its worker process", async () => {
  await using cam = await startVirtualCamera(small);
  await using h = await startHarness({ cameras: [{ id: "cam1", url: cam.rtspUrl }] });
  await h.until("cam1", (s) => s.state === "recording" && s.stats.keyframes > 0, "keyframes");
  const jpeg = await h.daemon.snapshot("cam1");
  assertEquals([jpeg[0], jpeg[1]], [0xff, 0xd8]);
  const probe = await new Deno.Command("ffprobe", {
    args: ["-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", "-"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = probe.stdin.getWriter();
  await writer.write(jpeg);
  await writer.close();
  const out = new TextDecoder().decode((await probe.output()).stdout).trim();
  assertEquals(out, "mjpeg,320,240");

  // A restart on request (the fleet's restart-camera) finishes the segment and records again.
  const before = h.camera("cam1");
  await h.daemon.recorders.restartCamera("cam1");
  await h.until("cam1", (s) => s.restarts > before.restarts, "the restart");
  await h.until(
    "cam1",
    (s) => s.segments > before.segments && s.state === "recording",
    "recording",
  );
});

Deno.test("a recorder process that hangs is killed and restarted; the other camera never notices", async () => {
  await using camA = await startVirtualCamera(small);
  await using camB = await startVirtualCamera(small);
  await using h = await startHarness({
    recording: { camerasPerProcess: 1, builtinCamerasPerProcess: 1 },
    cameras: [{ id: "a", url: camA.rtspUrl }, { id: "b", url: camB.rtspUrl }],
  }, { workerHangMs: 3_000 });
  await h.until("a", (s) => s.segments >= 1, "a records");
  await h.until("b", (s) => s.segments >= 1, "b records");
  const pool = h.daemon.recorders as WorkerPool;
  const frozen = pool.pids().a!;
  Deno.kill(frozen, "SIGSTOP"); // a JS thread stuck in a call that never returns looks like this
  const lost = await h.until("a", (s) => s.state === "retrying", "the hang noticed", 10_000);
  assertMatch(lost.lastError ?? "", /stopped answering for 3 s and was killed/);
  await h.until("a", (s) => s.state === "recording", "a records again", 10_000);
  assert(pool.pids().a !== frozen, "a new process");
  assertEquals(h.camera("b").restarts, 0);
});
