import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { validateConfig } from "../config/mod.ts";
import { memoryLogger } from "../lib/log.ts";
import { type Daemon, startDaemon } from "./daemon.ts";
import type { CameraStatus } from "../recorder/mod.ts";
import { daemonHttps } from "../testing/https_client.ts";

async function waitFor(
  daemon: Daemon,
  ok: (cams: CameraStatus[]) => boolean,
): Promise<CameraStatus[]> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const cams = daemon.cameras();
    if (ok(cams)) return cams;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out; cameras: ${JSON.stringify(daemon.cameras())}`);
}

const fast = { backoffMs: [100, 200], jitter: 0 };

Deno.test("bad cameras fail alone: unknown scheme, unreachable camera; the API keeps answering", async () => {
  const dir = await Deno.makeTempDir();
  const log = memoryLogger("info");
  // Port 1 (tcpmux): nothing listens there. A free port from freePort() could be bound by another
  // test's camera or broker while this one runs (they draw from the same range), and "gone" would
  // then connect to it.
  const port = 1;
  const config = validateConfig({
    storage: { dataDir: dir, segmentSeconds: 2 },
    http: { listen: "127.0.0.1:0" },
    // In the daemon's own process, so that its log lines can be counted here.
    recording: { camerasPerProcess: 0 },
    cameras: [
      { id: "ftpcam", url: "ftp://10.0.0.9/stream" },
      { id: "gone", url: `rtsp://127.0.0.1:${port}/main` },
      { id: "off", url: "rtsp://127.0.0.1:1/x", enabled: false },
    ],
  });
  const daemon = await startDaemon(config, { log, supervisor: fast });
  try {
    const cams = await waitFor(
      daemon,
      (c) => c[0]?.state === "failed" && (c[1]?.restarts ?? 0) >= 2,
    );
    assertEquals(
      cams[0]?.lastError,
      "Camera 'ftpcam': URL scheme 'ftp:' is not supported; use one of rtsp:, rtsps:, v4l2: " +
        "(fix cameras[].url in the config)",
    );
    assertMatch(
      cams[1]?.lastError ?? "",
      /^Camera 'gone': (src: Could not open resource|rtsp:\/\/.*: cannot connect)/,
    );
    assertEquals(cams[2]?.state, "disabled");
    const failedLines = log.lines.filter((l) => l.camera === "ftpcam" && l.level === "error");
    assertEquals(failedLines.length, 1, "an unsupported camera is reported once, not in a loop");

    using https = daemonHttps(daemon);
    const res = await https.fetch("/healthz");
    assertEquals(res.status, 200);
    await res.body?.cancel();
  } finally {
    await daemon.stop();
    await Deno.remove(dir, { recursive: true });
  }
  assertEquals(daemon.cameras().map((c) => c.state), ["failed", "stopped", "disabled"]);
});

Deno.test("a data folder that cannot be written: one clear error, the API keeps answering", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/not-a-folder`, "");
  const log = memoryLogger("info");
  const config = validateConfig({
    storage: { dataDir: `${dir}/not-a-folder/data` },
    http: { listen: "127.0.0.1:0" },
    cameras: [{ id: "cam1", url: "rtsp://127.0.0.1:1/x" }],
  });
  const daemon = await startDaemon(config, { log, supervisor: fast });
  try {
    const cams = await waitFor(daemon, (c) => c[0]?.state === "retrying");
    assertMatch(cams[0]?.lastError ?? "", /^Data folder '.*not-a-folder\/data' cannot be used: /);
    const storageErrors = log.lines.filter((l) => l.msg === "storage unavailable");
    assertEquals(storageErrors.length, 1);
    using https = daemonHttps(daemon);
    const res = await https.fetch("/healthz");
    assert(res.ok);
    await res.body?.cancel();

    // The disk "gets mounted": the next retry gets past storage to the camera itself.
    await Deno.remove(`${dir}/not-a-folder`);
    await waitFor(
      daemon,
      (c) => /Could not open resource|cannot connect/.test(c[0]?.lastError ?? ""),
    );
  } finally {
    await daemon.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
