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
 * Frames delivered are counted, not only bytes: each viewer counts its binary WebSocket messages
 * (one per frame after the init segment, bench/live_viewer_reader.ts) against the camera's frame
 * rate over the phase. `--readers process` runs each viewer in its own `deno run` (the default,
 * `inline`, runs them all in this process's one thread); the readers' own CPU is reported, so a
 * reader starved of CPU is told from frames the daemon skipped.
 *
 *   deno run -A bench/live_viewers.ts [--seconds 20] [--bitrate 4000] [--viewers 0,1,4,8]
 *     [--readers inline|process] [--daemon-log FILE]
 *
 * `--daemon-log` keeps the daemon's log (JSON lines: viewers dropped and why, with the most bytes
 * that waited unsent on their socket). Each row also says how many viewers were still connected
 * at the end of its phase.
 *
 * Prints progress on stderr, a Markdown table on stdout, and last a JSON line with every figure.
 */
import { ensureLoopClip } from "../hw-tests/sim/loop_clip.ts";
import { startVirtualCamera } from "../hw-tests/sim/virtual_camera.ts";
import { freePort } from "../hw-tests/sim/ports.ts";
import { clockTicksPerSecond, readProc } from "./proc_stats.ts";
import { recorderPids } from "../runtime/testing/proc.ts";
import { signIn, upgrade } from "../runtime/testing/live_ws_client.ts";
import { drain, WsCounter } from "./live_viewer_reader.ts";

const flag = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`--${name} must be a positive number`);
  return v;
};
const SECONDS = flag("seconds", 20);
const BITRATE = flag("bitrate", 4000);
const listFlag = (name: string, fallback: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? (Deno.args[i + 1] ?? "") : fallback;
};
const VIEWERS = listFlag("viewers", "0,1,4,8").split(",").map(Number);
if (VIEWERS.some((n) => !Number.isInteger(n) || n < 0) || VIEWERS[0] !== 0) {
  throw new RangeError("--viewers must be counts in order, starting with 0 (the baseline)");
}
const READERS = listFlag("readers", "inline");
if (READERS !== "inline" && READERS !== "process") {
  throw new RangeError("--readers must be inline or process");
}
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
    // With --daemon-log: every viewer's end and its unsent peak (a debug line).
    ...(listFlag("daemon-log", "") ? { log: { level: "debug" } } : {}),
  }),
);
const DAEMON_LOG = listFlag("daemon-log", "");
const daemonLog = DAEMON_LOG
  ? await Deno.open(DAEMON_LOG, { write: true, create: true, truncate: true })
  : null;
const daemon = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-all", `${repoRoot}runtime/main.ts`, "--config", configPath],
  cwd: repoRoot,
  env: { NO_COLOR: "1" },
  stdin: "null",
  stdout: daemonLog ? "piped" : "null",
  stderr: daemonLog ? "piped" : "null",
}).spawn();
if (daemonLog) {
  // Both streams into the one file, as lines come (the log is one JSON object a line on stdout).
  const sink = (s: ReadableStream<Uint8Array>) =>
    s.pipeTo(new WritableStream({ write: (c) => void daemonLog.writeSync(c) })).catch(() => {});
  sink(daemon.stdout);
  sink(daemon.stderr);
}

const hz = clockTicksPerSecond();
/** One viewer: what it has counted so far, its process (process readers), how to end it. */
interface Viewer {
  counts(): { bytes: number; binary: number };
  /** False once its connection ended (the daemon dropped it, or it failed). */
  open(): boolean;
  readonly pid: number | null;
  close(): void;
}
const open: Viewer[] = [];
const total = () =>
  open.reduce((t, v) => {
    const c = v.counts();
    return { bytes: t.bytes + c.bytes, binary: t.binary + c.binary };
  }, { bytes: 0, binary: 0 });
/** CPU ticks of the readers: this process (inline), or the reader processes. */
const readerTicks = () =>
  READERS === "inline"
    ? readProc(Deno.pid)!.ticks
    : open.reduce((t, v) => t + (v.pid ? readProc(v.pid)?.ticks ?? 0 : 0), 0);
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
    while (open.length < n) open.push(await openViewer(target, cookie, origin, port));
    await new Promise((r) => setTimeout(r, 3_000)); // settle: every viewer past its first GOP
    const d0 = readProc(daemon.pid)!;
    const w0 = readProc(worker)!;
    const t0 = performance.now();
    const c0 = total();
    const k0 = readerTicks();
    const rss: number[] = [];
    while (performance.now() - t0 < SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 500));
      rss.push(readProc(daemon.pid)?.rssKb ?? 0);
    }
    const d1 = readProc(daemon.pid)!;
    const w1 = readProc(worker)!;
    const s = (performance.now() - t0) / 1000;
    const c1 = total();
    const row = {
      viewers: n,
      receivedKbpsPerViewer: n ? Math.round((c1.bytes - c0.bytes) * 8 / s / 1000 / n) : 0,
      /** Frames each viewer got, as a share of the camera's frames over the phase. */
      framesPct: n ? Math.round((c1.binary - c0.binary) / n / (CLIP.fps * s) * 1000) / 10 : 0,
      readersCpuPct: Math.round((readerTicks() - k0) / hz / s * 1000) / 10,
      stillOpen: open.filter((v) => v.open()).length,
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
    "| viewers | still connected | kbit/s each | frames each | readers' CPU | daemon CPU " +
      "(% of a core) | recorder process CPU | daemon RSS mean / peak (MiB) | per viewer: CPU, RSS |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    const per = r.viewers
      ? `${((r.daemonCpuPct! - base.daemonCpuPct!) / r.viewers).toFixed(2)} %, ${
        ((r.daemonRssMiB! - base.daemonRssMiB!) / r.viewers).toFixed(1)
      } MiB`
      : "—";
    console.log(
      `| ${r.viewers} | ${r.stillOpen} | ${r.receivedKbpsPerViewer} | ${r.framesPct} % | ` +
        `${r.readersCpuPct} % | ` +
        `${r.daemonCpuPct} | ${r.recorderCpuPct} | ${r.daemonRssMiB} / ` +
        `${r.daemonRssPeakMiB} | ${per} |`,
    );
  }
  console.log(
    JSON.stringify({ clipKbps: clip.measuredKbps, seconds: SECONDS, readers: READERS, rows }),
  );
} finally {
  for (const v of open) v.close();
  daemon.kill("SIGTERM");
  await daemon.status;
  await new Promise((r) => setTimeout(r, 200)); // the log's last lines through the pipes
  try {
    daemonLog?.close();
  } catch { /* closed */ }
  await Deno.remove(work, { recursive: true }).catch(() => {});
}

/** One more viewer: a socket read here, or a reader process of its own (`--readers process`). */
async function openViewer(
  target: Parameters<typeof upgrade>[0],
  cookie: string,
  origin: string,
  port: number,
): Promise<Viewer> {
  if (READERS === "inline") {
    const { conn, head, rest } = await upgrade(
      target,
      "cam",
      { Cookie: cookie, Origin: origin },
      "h265",
    );
    if (!/^HTTP\/1\.1 101/.test(head)) throw new Error(`viewer refused: ${head}`);
    const counter = new WsCounter();
    let ended = false;
    drain(conn, counter, rest).finally(() => (ended = true));
    return {
      counts: () => ({ bytes: counter.bytes, binary: counter.binary }),
      open: () => !ended,
      pid: null,
      close: () => {
        try {
          conn.close();
        } catch { /* closed */ }
      },
    };
  }
  const certFile = `${work}/cert.pem`;
  await Deno.writeTextFile(certFile, target.daemon.tls!.certPem);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${repoRoot}bench/live_viewer_reader.ts`,
      String(port),
      "cam",
      cookie,
      certFile,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let last = { bytes: 0, binary: 0 };
  let exited = false;
  child.status.finally(() => (exited = true));
  let first: () => void = () => {};
  const started = new Promise<void>((r) => (first = r));
  (async () => {
    let text = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      const lines = text.split("\n");
      text = lines.pop() ?? "";
      const line = lines.at(-1);
      if (line) {
        last = JSON.parse(line);
        if (last.binary > 0) first();
      }
    }
  })();
  // Counting starts with its first frame (its start-up and the upgrade are not in the phase).
  const deadline = setTimeout(() => first(), 20_000);
  await started;
  clearTimeout(deadline);
  if (last.binary === 0) throw new Error("a reader process got no frame within 20 s");
  return {
    counts: () => last,
    open: () => !exited,
    pid: child.pid,
    close: () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
    },
  };
}
