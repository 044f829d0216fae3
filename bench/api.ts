/**
 * API benchmark (issue 5): latency of `GET /api/recordings` over an index of 30 days × 4 cameras
 * of 1-minute segments (172 800 rows), through the real daemon and its Hono app over a real
 * socket, while the daemon records the same 4 cameras from one virtual 1080p H.265 camera.
 *
 *   deno run -A bench/api.ts [--requests 2000] [--concurrency 8]
 *
 * The history is bulk-inserted before the daemon starts (one SQL statement, as
 * runtime/storage/segment_index_scale_test.ts does), ending a minute before now, so the daemon's
 * own segments land after it in the same index. The source is a virtual camera serving a
 * pre-encoded 1920x1080 15 fps ~4 Mbit/s clip in a loop (encoded once and cached, see
 * hw-tests/sim/loop_clip.ts); the daemon records it as 4 cameras with 2 s segments, so index
 * writes happen during the measurement.
 *
 * Each request asks for a random 1-hour window (61 segments) of a random camera; a smaller set
 * asks for 24 hours (1 441 segments). Baselines in the same run: the same 1-hour query straight
 * on a SegmentIndex of the same file (range + gaps + JSON, no HTTP), and `GET /healthz` over the
 * same socket (HTTP + Hono, no auth, no SQL), and `GET /api/me` (HTTP + session check). Latency is to the last byte of the body.
 *
 * Prints progress on stderr, a Markdown table on stdout, and last a JSON line with every figure.
 */
import { prng } from "../runtime/lib/prng.ts";
import { DatabaseSync } from "node:sqlite";
import { ensureLoopClip } from "../hw-tests/sim/loop_clip.ts";
import { startVirtualCamera } from "../hw-tests/sim/virtual_camera.ts";
import { indexPath, SegmentIndex } from "../runtime/storage/mod.ts";
import { startHarness } from "../runtime/testing/daemon_harness.ts";
import { daemonHttps } from "../runtime/testing/https_client.ts";

const CAMERAS = ["cam00", "cam01", "cam02", "cam03"] as const;
const DAYS = 30;
const MINUTES = DAYS * 24 * 60;
const MIN = 60_000;
const HOUR = 3600_000;
const CLIP = { width: 1920, height: 1080, fps: 15, bitrateKbps: 4000, seconds: 15 } as const;

interface Stats {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
}

function stats(ms: number[]): Stats {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    mean: round(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
    max: round(s.at(-1) ?? 0),
  };
}

function progress(msg: string): void {
  console.error(`[bench/api] ${msg}`);
}

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(Deno.args[i + 1]);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new Error(`--${name}: expected a whole number ≥ 1, got ${Deno.args[i + 1]}`);
  }
  return n;
}

/** 30 days of 1-minute segments per camera, ending at `endMs`, in one transaction. */
function bulkInsert(file: string, endMs: number): void {
  SegmentIndex.open(file).close(); // creates the schema
  const t0 = endMs - MINUTES * MIN;
  const db = new DatabaseSync(file);
  try {
    db.exec(`
      BEGIN;
      WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < ${
      CAMERAS.length * MINUTES - 1
    })
      INSERT INTO segments (camera, start_ms, end_ms, bytes, codec, path, width, height)
      SELECT printf('cam%02d', x / ${MINUTES}),
             ${t0} + (x % ${MINUTES}) * ${MIN},
             ${t0} + (x % ${MINUTES} + 1) * ${MIN},
             30000000, 'h265', printf('recordings/cam%02d/history/%07d.mp4', x / ${MINUTES}, x),
             1920, 1080
      FROM n;
      COMMIT;`);
  } finally {
    db.close();
  }
}

/** Runs `total` timed calls of `one`, `concurrency` at a time; returns each call's ms. */
async function timed(
  total: number,
  concurrency: number,
  one: (i: number) => Promise<void> | void,
): Promise<number[]> {
  const out: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const t = performance.now();
      await one(i);
      out.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

async function main(): Promise<void> {
  const requests = arg("requests", 2000);
  const concurrency = arg("concurrency", 8);
  const cacheDir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/nvr-bench/clips`;
  progress(`loop clip in ${cacheDir} (encoded once, about 10 s)`);
  const clip = await ensureLoopClip(cacheDir, CLIP);

  const dir = await Deno.makeTempDir({ prefix: "nvr-bench-api-" });
  try {
    const dataDir = `${dir}/data`;
    await Deno.mkdir(dataDir, { recursive: true });
    const endMs = Math.floor(Date.now() / MIN) * MIN - MIN;
    const startMs = endMs - MINUTES * MIN;
    const t = performance.now();
    bulkInsert(indexPath(dataDir), endMs);
    const insertMs = Math.round(performance.now() - t);
    progress(`indexed ${CAMERAS.length * MINUTES} segments in ${insertMs} ms`);

    await using cam = await startVirtualCamera({
      codec: "h265",
      width: CLIP.width,
      height: CLIP.height,
      fps: CLIP.fps,
      bitrateKbps: CLIP.bitrateKbps,
      loopFile: clip.path,
    });
    await using h = await startHarness({
      storage: { segmentSeconds: 2 },
      cameras: CAMERAS.map((id) => ({ id, url: cam.rtspUrl })),
    }, { dir });
    for (const id of CAMERAS) {
      await h.until(id, (s) => s.state === "recording", `${id} records`, 30_000);
    }
    progress("4 cameras recording");
    // The daemon serves HTTPS with its own certificate: the figures include TLS, as on a box.
    using https = daemonHttps(h.daemon);
    const fetch = (url: string, init: RequestInit = {}) => https.fetch(url, init);
    const base = "";
    const json = (body: unknown): RequestInit => ({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const admin = { name: "Bench", email: "bench@example.org", password: "a long passphrase" };
    const setupCode = (await Deno.readTextFile(`${dir}/data/setup-code`)).trim();
    const setup = await fetch(
      `${base}/api/setup`,
      json({ ...admin, setupCode, acceptPrivacyNotice: true }),
    );
    if (setup.status !== 201) throw new Error(`setup: ${setup.status} ${await setup.text()}`);
    const login = await fetch(
      `${base}/api/auth/login`,
      json({ email: admin.email, password: admin.password }),
    );
    if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
    await login.body?.cancel();
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const headers = { cookie };

    const random = prng(5);
    const window = (hours: number) => {
      const camera = CAMERAS[Math.floor(random() * CAMERAS.length)]!;
      const from = startMs + Math.floor(random() * (MINUTES * MIN - hours * HOUR)) + 30_000;
      return { camera, from, to: from + hours * HOUR };
    };
    const windows = (n: number, hours: number) => Array.from({ length: n }, () => window(hours));
    const expectRows = (hours: number) => hours * 60 + 1;
    const getRecordings =
      (w: { camera: string; from: number; to: number }, hours: number) => async () => {
        const res = await fetch(
          `${base}/api/recordings?camera=${w.camera}&from=${w.from}&to=${w.to}`,
          { headers },
        );
        const body = await res.text();
        if (res.status !== 200) throw new Error(`GET /api/recordings: ${res.status} ${body}`);
        // Checked on a sample only, so parsing does not weigh on the figures.
        if (random() < 0.01) {
          const n = (JSON.parse(body) as { segments: unknown[] }).segments.length;
          if (n !== expectRows(hours)) throw new Error(`${w.camera}: ${n} segments, not ${hours}h`);
        }
      };

    // Warm-up: connections, JIT, SQLite page cache.
    for (const w of windows(200, 1)) await getRecordings(w, 1)();

    const segmentsBefore = CAMERAS.reduce((n, id) => n + h.camera(id).segments, 0);
    const load0 = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
    const started = performance.now();
    progress(`1 h windows: ${requests} sequential`);
    const w1 = windows(requests, 1);
    const seq = await timed(requests, 1, (i) => getRecordings(w1[i]!, 1)());
    progress(`1 h windows: ${requests} with concurrency ${concurrency}`);
    const w2 = windows(requests, 1);
    const conc = await timed(requests, concurrency, (i) => getRecordings(w2[i]!, 1)());
    const dayN = Math.max(1, Math.round(requests / 4));
    progress(`24 h windows: ${dayN} sequential`);
    const w3 = windows(dayN, 24);
    const day = await timed(dayN, 1, (i) => getRecordings(w3[i]!, 24)());

    progress(`baselines: ${requests} × GET /healthz, GET /api/me, SegmentIndex 1 h`);
    const healthz = await timed(requests, 1, async () => {
      const res = await fetch(`${base}/healthz`);
      await res.text();
    });
    const me = await timed(requests, 1, async () => {
      const res = await fetch(`${base}/api/me`, { headers });
      await res.text();
    });
    const direct = SegmentIndex.open(indexPath(dataDir));
    let directMs: number[];
    try {
      const w4 = windows(requests, 1);
      directMs = await timed(requests, 1, (i) => {
        const w = w4[i]!;
        JSON.stringify({
          segments: direct.range(w.camera, w.from, w.to),
          gaps: direct.gaps(w.camera, w.from, w.to),
        });
      });
    } finally {
      direct.close();
    }
    const wallS = (performance.now() - started) / 1000;
    const segmentsAfter = CAMERAS.reduce((n, id) => n + h.camera(id).segments, 0);
    const states = CAMERAS.map((id) => h.camera(id).state);
    const load1 = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];

    const rows: [string, Stats][] = [
      ["GET /api/recordings, 1 h, sequential", stats(seq)],
      [`GET /api/recordings, 1 h, concurrency ${concurrency}`, stats(conc)],
      ["GET /api/recordings, 24 h, sequential", stats(day)],
      ["baseline: GET /healthz, sequential", stats(healthz)],
      ["baseline: SegmentIndex range+gaps+JSON, 1 h, in-process", stats(directMs)],
      ["baseline: GET /api/me (session check, no index), sequential", stats(me)],
    ];
    const s1 = rows[0]![1];
    const hz = rows[3]![1];
    const dr = rows[4]![1];
    console.log(
      `\nIndex: ${CAMERAS.length} cameras × ${DAYS} days of 1-minute segments ` +
        `(${CAMERAS.length * MINUTES} rows, bulk insert ${insertMs} ms); ` +
        `recording ${CAMERAS.length} × 1080p H.265 meanwhile ` +
        `(${segmentsAfter - segmentsBefore} segments finished during the ${
          wallS.toFixed(1)
        } s run; states ${states.join(",")}); load average ${load0} → ${load1}, ` +
        `${navigator.hardwareConcurrency} cores.\n`,
    );
    console.log("| what | n | p50 ms | p99 ms | mean ms | max ms |");
    console.log("|---|---:|---:|---:|---:|---:|");
    for (const [what, s] of rows) {
      console.log(`| ${what} | ${s.n} | ${s.p50} | ${s.p99} | ${s.mean} | ${s.max} |`);
    }
    const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 10) / 10 : null);
    const ratios = {
      recordingsVsHealthzP50: ratio(s1.p50, hz.p50),
      recordingsVsHealthzP99: ratio(s1.p99, hz.p99),
      recordingsVsDirectP50: ratio(s1.p50, dr.p50),
      recordingsVsDirectP99: ratio(s1.p99, dr.p99),
    };
    console.log(
      `\nRatios (1 h sequential): ×${ratios.recordingsVsHealthzP50} p50 / ` +
        `×${ratios.recordingsVsHealthzP99} p99 of GET /healthz; ` +
        `×${ratios.recordingsVsDirectP50} p50 / ×${ratios.recordingsVsDirectP99} p99 of the ` +
        "in-process query.",
    );
    console.log(JSON.stringify({
      rows: CAMERAS.length * MINUTES,
      insertMs,
      segmentsDuringRun: segmentsAfter - segmentsBefore,
      states,
      load: [load0, load1],
      results: Object.fromEntries(rows),
      ratios,
    }));
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
