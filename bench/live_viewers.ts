/**
 * What a live viewer costs the box (issue 14): the daemon in its own process (runtime/main.ts,
 * HTTPS, a recorder process) records one virtual camera serving a pre-encoded 1920x1080 15 fps
 * H.265 clip (~4 Mbit/s, hw-tests/sim/loop_clip.ts) and restreams it to 0, 1, 4 and 8 live.ws
 * viewers in turn; each phase runs `--seconds` (default 20). Viewers are raw TLS WebSocket
 * clients in this process that read and discard (runtime/testing/live_ws_client.ts), so what is
 * measured is the daemon's side only: CPU of the daemon process and of its recorder process
 * (/proc/<pid>/stat utime + stime over the phase) and the daemon's RSS (VmRSS, mean and peak of
 * samples every 500 ms). One phase's figures minus the 0-viewer phase's, divided by the viewers,
 * is the cost of one viewer.
 *
 *   deno run -A bench/live_viewers.ts [--seconds 20] [--bitrate 4000]
 *
 * Prints progress on stderr, a Markdown table on stdout, and last a JSON line with every figure.
 */
import { ensureLoopClip } from "../hw-tests/sim/loop_clip.ts";
import { startVirtualCamera } from "../hw-tests/sim/virtual_camera.ts";
import { freePort } from "../hw-tests/sim/ports.ts";
import { clockTicksPerSecond, readProc } from "./proc_stats.ts";
import { recorderPids } from "../runtime/testing/proc.ts";
import { signIn, upgrade } from "../runtime/testing/live_ws_client.ts";

const flag = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`--${name} must be a positive number`);
  return v;
};
const SECONDS = flag("seconds", 20);
const BITRATE = flag("bitrate", 4000);
const VIEWERS = [0, 1, 4, 8] as const;
const CLIP = { width: 1920, height: 1080, fps: 15, bitrateKbps: BITRATE, seconds: 4 } as const;

function progress(msg: string): void {
  console.error(`[bench/live_viewers] ${msg}`);
}

const repoRoot = new URL("..", import.meta.url).pathname;
const work = await Deno.makeTempDir({ prefix: "nvr-bench-live-" });
const cacheDir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/nvr-bench/clips`;
const clip = await ensureLoopClip(cacheDir, CLIP);
progress(`clip ${clip.width}x${clip.height} ${clip.measuredKbps} kbit/s`);
await using cam = await startVirtualCamera({
  width: CLIP.width,
  height: CLIP.height,
  fps: CLIP.fps,
  loopFile: clip.path,
});
const port = freePort();
const dataDir = `${work}/data`;
await Deno.mkdir(dataDir, { recursive: true });
const configPath = `${work}/config.json`;
await Deno.writeTextFile(
  configPath,
  JSON.stringify({
    device: { name: "bench" },
    storage: { dataDir, segmentSeconds: 10 },
    http: { listen: `127.0.0.1:${port}`, liveViewersPerCamera: 16, liveViewersTotal: 16 },
    cameras: [{ id: "cam", url: cam.rtspUrl, codec: "h265" }],
  }),
);
const daemon = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-all", `${repoRoot}runtime/main.ts`, "--config", configPath],
  cwd: repoRoot,
  env: { NO_COLOR: "1" },
  stdin: "null",
  stdout: "null",
  stderr: "null",
}).spawn();

const hz = clockTicksPerSecond();
const open: Deno.TlsConn[] = [];
/** Bytes the viewers received, all together. */
let received = 0;
try {
  // Ready: the certificate is on disk and a segment was written.
  const deadline = Date.now() + 60_000;
  let certPem = "";
  for (;;) {
    certPem = await Deno.readTextFile(`${dataDir}/tls/cert.pem`).catch(() => "");
    const recorded = await Deno.readDir(`${dataDir}/recordings`)[Symbol.asyncIterator]().next()
      .then((r) => !r.done, () => false);
    if (certPem && recorded) break;
    if (Date.now() > deadline) throw new Error(`the daemon did not come up (${work})`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const target = {
    daemon: {
      listen: { scheme: "https" as const, hostname: "127.0.0.1", port },
      tls: { certPem, fingerprint: "" },
    },
    dir: work,
  };
  const cookie = await signIn(target);
  const origin = `https://127.0.0.1:${port}`;
  const [worker] = await recorderPids(daemon.pid);
  if (worker === undefined) throw new Error("no recorder process under the daemon");

  const rows: Record<string, number>[] = [];
  for (const n of VIEWERS) {
    while (open.length < n) {
      const { conn, head } = await upgrade(
        target,
        "cam",
        { Cookie: cookie, Origin: origin },
        "h265",
      );
      if (!/^HTTP\/1\.1 101/.test(head)) throw new Error(`viewer refused: ${head}`);
      open.push(conn);
      // Read and discard, as fast as it comes.
      (async () => {
        const buf = new Uint8Array(256 * 1024);
        try {
          for (;;) {
            const got = await conn.read(buf);
            if (got === null) break;
            received += got;
          }
        } catch { /* closed at the end */ }
      })();
    }
    await new Promise((r) => setTimeout(r, 3_000)); // settle: every viewer past its first GOP
    const d0 = readProc(daemon.pid)!;
    const w0 = readProc(worker)!;
    const t0 = performance.now();
    const r0 = received;
    const rss: number[] = [];
    while (performance.now() - t0 < SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 500));
      rss.push(readProc(daemon.pid)?.rssKb ?? 0);
    }
    const d1 = readProc(daemon.pid)!;
    const w1 = readProc(worker)!;
    const s = (performance.now() - t0) / 1000;
    const row = {
      viewers: n,
      receivedKbpsPerViewer: n ? Math.round((received - r0) * 8 / s / 1000 / n) : 0,
      daemonCpuPct: Math.round((d1.ticks - d0.ticks) / hz / s * 1000) / 10,
      recorderCpuPct: Math.round((w1.ticks - w0.ticks) / hz / s * 1000) / 10,
      daemonRssMiB: Math.round(rss.reduce((a, b) => a + b, 0) / rss.length / 102.4) / 10,
      daemonRssPeakMiB: Math.round(Math.max(...rss) / 102.4) / 10,
    };
    progress(JSON.stringify(row));
    rows.push(row);
  }
  const base = rows[0]!;
  console.log(
    "| viewers | kbit/s each | daemon CPU (% of a core) | recorder process CPU | daemon RSS mean / peak (MiB) | " +
      "per viewer: CPU, RSS |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    const per = r.viewers
      ? `${((r.daemonCpuPct! - base.daemonCpuPct!) / r.viewers).toFixed(2)} %, ${
        ((r.daemonRssMiB! - base.daemonRssMiB!) / r.viewers).toFixed(1)
      } MiB`
      : "—";
    console.log(
      `| ${r.viewers} | ${r.receivedKbpsPerViewer} | ${r.daemonCpuPct} | ${r.recorderCpuPct} | ${r.daemonRssMiB} / ` +
        `${r.daemonRssPeakMiB} | ${per} |`,
    );
  }
  console.log(JSON.stringify({ clipKbps: clip.measuredKbps, seconds: SECONDS, rows }));
} finally {
  for (const c of open) {
    try {
      c.close();
    } catch { /* closed */ }
  }
  daemon.kill("SIGTERM");
  await daemon.status;
  await Deno.remove(work, { recursive: true }).catch(() => {});
}
