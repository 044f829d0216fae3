/**
 * Fleet at scale (issue 19): the fleet console against N simulated boxes (the daemon's real fleet
 * link each, runtime/fleet_console/simulate.ts) on one Mosquitto on 127.0.0.1. One mode a run:
 *
 *   deno run -A bench/fleet_scale.ts <mode> [--devices 100] [...]
 *
 *   memory    N boxes held: RSS and heap of this process before and after, per box.
 *   cmd       `ping` to all N: share answered within --timeout (30 s), round trip p50/p99/max.
 *   config    a desired configuration to all N while --offline % of them are stopped: time to
 *             99 % of the online ones, then the offline ones restarted: time from reconnect to
 *             their report (p50/p99/max), and the final count.
 *   rollout   waves --waves (1,10,100), halt at --halt-percent (5) after --min-boxes (10),
 *             simulated install --install (30 s): once without faults (time to done), once with
 *             --fail-rate (0.2) failing installs (which wave it halted in; boxes beyond the first
 *             two waves that got the update: must be 0).
 *   presence  each box killed (socket dropped, no DISCONNECT: the broker publishes its Will) and
 *             restarted at random every 1–5 s for --minutes (1), the console in its own process
 *             (--console process, the default; `inline`: in this one). The truth (each box's
 *             CONNACK time and kill time) against the console's view (each change of a box's
 *             state in the registry, timed there) at the same instants: the share of
 *             device-seconds that agree (sampled each second, and integrated), the lag of every
 *             transition, transitions never shown or shown against the truth.
 *   enrol     N first boots against the shipped broker configuration and `deno task fleet enrol`
 *             (its own process) with an allow-list missing --unlisted (10) serials: time until
 *             every listed box is enrolled and online as itself (p50/p99 per box), refusals.
 *
 * Every run is bounded: N boxes, fixed timeouts, and a --minutes deadline for presence. Loopback
 * only. Progress on stderr, a Markdown table on stdout, last a JSON line with every figure. The
 * boxes, the console and this driver share one process (and the machine with the broker), so a
 * figure is an upper bound of what the console alone costs.
 */
import { parseArgs } from "node:util";
import { Mosquitto } from "../runtime/testing/mosquitto.ts";
import { startEnrolSetup } from "../runtime/testing/enrol_setup.ts";
import { FleetConsole } from "../runtime/fleet_console/console.ts";
import { Registry } from "../runtime/fleet_console/registry.ts";
import { runRollout } from "../runtime/fleet_console/rollout.ts";
import {
  type SimulatedBox,
  type SimulatedFleet,
  simulatedSerial,
  simulateFleet,
  type SimulateOptions,
} from "../runtime/fleet_console/simulate.ts";
import { prng } from "../runtime/lib/prng.ts";
import { comparePresence, type Timeline, watchView } from "./fleet_view.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    devices: { type: "string", default: "100" },
    timeout: { type: "string", default: "30" },
    offline: { type: "string", default: "10" },
    waves: { type: "string", default: "1,10,100" },
    "halt-percent": { type: "string", default: "5" },
    "min-boxes": { type: "string", default: "10" },
    install: { type: "string", default: "30" },
    "fail-rate": { type: "string", default: "0.2" },
    minutes: { type: "string", default: "1" },
    unlisted: { type: "string", default: "10" },
    concurrency: { type: "string", default: "100" },
    seed: { type: "string", default: "1" },
    console: { type: "string", default: "process" },
  },
});
const MODES = ["memory", "cmd", "config", "rollout", "presence", "enrol"] as const;
type Mode = typeof MODES[number];
const mode = positionals[0] as Mode;
if (!MODES.includes(mode)) {
  console.error(`usage: deno run -A bench/fleet_scale.ts <${MODES.join("|")}> [--devices N] …`);
  Deno.exit(64);
}
function num(name: keyof typeof values, min = 0): number {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v < min) throw new RangeError(`--${name}: give a number ≥ ${min}`);
  return v;
}
const DEVICES = num("devices", 1);
const SEED = num("seed");
const say = (msg: string) => console.error(`[bench/fleet_scale ${mode}] ${msg}`);

function percentiles(ms: readonly number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  const r = (x: number | undefined) => x === undefined ? null : Math.round(x);
  return { n: s.length, p50: r(at(0.5)), p99: r(at(0.99)), max: r(s.at(-1)) };
}

/** Waits for `check` every 100 ms, up to `ms`; returns whether it came true. */
async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** N simulated boxes on `broker` (the bench's --devices, seed and --concurrency). */
function simulateBoxes(broker: string, options: Partial<SimulateOptions> = {}) {
  return simulateFleet({
    broker,
    devices: DEVICES,
    seed: SEED,
    concurrency: num("concurrency", 1),
    ...options,
  });
}

/** A broker, a console with its registry, N simulated boxes, all online in the registry. */
async function fleetOn(options: Partial<SimulateOptions> = {}) {
  const broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-bench-fleet-" });
  const registry = new Registry(`${dir}/registry.db`);
  const fc = await FleetConsole.connect({ broker: broker.url, registry });
  const t0 = performance.now();
  const fleet = await simulateBoxes(broker.url, options);
  const online = await until(
    () => registry.list().filter((r) => r.state === "online").length === DEVICES,
    120_000,
  );
  say(
    `${DEVICES} boxes started in ${Math.round(performance.now() - t0)} ms; all online: ${online}`,
  );
  return {
    fc,
    fleet,
    registry,
    async [Symbol.asyncDispose]() {
      await fleet.stop();
      await fc.close();
      registry.close();
      await broker[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

const ids = (fleet: SimulatedFleet) => fleet.boxes.map((b) => b.id);
const rows: [string, string][] = [];
const figures: Record<string, unknown> = { mode, devices: DEVICES };
const row = (what: string, value: unknown, key?: string) => {
  rows.push([what, typeof value === "object" ? JSON.stringify(value) : String(value)]);
  if (key) figures[key] = value;
};

async function memory() {
  const before = Deno.memoryUsage();
  await using f = await fleetOn();
  const after = Deno.memoryUsage();
  const kib = (b: number) => Math.round(b / DEVICES / 1024);
  row("RSS per box (KiB)", kib(after.rss - before.rss), "rssPerBoxKiB");
  row("JS heap per box (KiB)", kib(after.heapUsed - before.heapUsed), "heapPerBoxKiB");
  row("RSS total (MiB)", Math.round(after.rss / 2 ** 20), "rssMiB");
  void f;
}

async function cmd() {
  await using f = await fleetOn();
  const timeoutMs = num("timeout", 1) * 1000;
  const arrived = new Map<string, number>();
  const stop = f.fc.listen((topic) => {
    const [, , id, kind] = topic.split("/");
    if (kind === "cmd-result" && id && !arrived.has(id)) arrived.set(id, performance.now());
  });
  const t0 = performance.now();
  const s = await f.fc.command(ids(f.fleet), { cmd: "ping" }, timeoutMs);
  stop();
  const rtt = [...arrived.values()].map((t) => t - t0);
  const within = rtt.filter((ms) => ms <= timeoutMs).length;
  row(`answered within ${timeoutMs / 1000} s`, `${within}/${DEVICES}`, "answered");
  row("share answered (%)", Math.round((within / DEVICES) * 10_000) / 100, "answeredPercent");
  row("ok / failed / no answer", `${s.ok} / ${s.failed} / ${s.timedOut}`);
  row("round trip ms (p50, p99, max)", percentiles(rtt), "roundTripMs");
}

async function config() {
  await using f = await fleetOn();
  const offline = Math.round((num("offline") / 100) * DEVICES);
  const down = f.fleet.boxes.slice(0, offline);
  await Promise.all(down.map((b) => b.link.stop()));
  const downIds = new Set(down.map((b) => b.id));
  const online = DEVICES - offline;
  const reported = new Map<string, number>();
  let version = Infinity;
  const stop = f.fc.listen((topic, payload) => {
    const [, , id, a, b] = topic.split("/");
    if (a !== "config" || b !== "reported" || !id || reported.has(id)) return;
    const r = JSON.parse(new TextDecoder().decode(payload));
    if ((r.appliedVersion ?? 0) >= version) reported.set(id, performance.now());
  });
  version = 1 + Math.max(0, ...f.registry.list().map((r) => r.appliedVersion ?? 0));
  const t0 = performance.now();
  const done = f.fc.config(ids(f.fleet), { device: { name: "bench" } }, 120_000);
  const onlineTimes = () => [...reported].filter(([id]) => !downIds.has(id)).map(([, t]) => t - t0);
  await until(() => onlineTimes().length >= online, 90_000);
  const times = onlineTimes().sort((a, b) => a - b);
  const at99 = times[Math.ceil(0.99 * online) - 1];
  row(`online boxes: time to 99 % (ms)`, at99 === undefined ? "not reached" : Math.round(at99));
  figures.timeTo99PercentMs = at99 === undefined ? null : Math.round(at99);
  row("online boxes converged", `${times.length}/${online}`, "onlineConverged");
  // The offline ones come back: time from their restart to their report.
  const restartAt = new Map<string, number>();
  await Promise.all(down.map(async (b) => {
    restartAt.set(b.id, performance.now());
    await f.fleet.restart(f.fleet.boxes.indexOf(b));
  }));
  const s = await done;
  stop();
  const after = down.flatMap((b) => {
    const t = reported.get(b.id);
    return t === undefined ? [] : [t - restartAt.get(b.id)!];
  });
  row("offline boxes: from restart to report ms", percentiles(after), "offlineAfterReconnectMs");
  row("final: applied / rejected / pending", `${s.converged} / ${s.rejected} / ${s.pending}`);
  figures.final = { converged: s.converged, rejected: s.rejected, pending: s.pending };
}

async function rollout() {
  const waves = values.waves.split(",").map(Number);
  const installMs = num("install") * 1000;
  for (const failRate of [0, num("fail-rate")]) {
    await using f = await fleetOn({ installMs, failRate, rebootMs: 1_000 });
    const t0 = performance.now();
    const report = await runRollout(f.fc, ids(f.fleet), {
      id: `bench-${failRate}`,
      url: "https://updates.example.com/bench.raucb",
      sha256: "a".repeat(64),
      size: 1,
      version: "2.0.0",
      waves,
      haltPercent: num("halt-percent"),
      minBoxes: num("min-boxes", 1),
      boxTimeoutMs: installMs + 120_000,
      maxInFlight: DEVICES,
      seed: SEED,
    }, (line) => say(line));
    const ms = Math.round(performance.now() - t0);
    const waveOf = new Map(report.waves.flatMap((w, i) => w.map((id) => [id, i] as const)));
    const beyondTwo = f.fleet.boxes.filter((b) => b.installs.length > 0 && waveOf.get(b.id)! >= 2);
    const label = failRate ? `${failRate * 100} % failing installs` : "no faults";
    row(`${label}: status, waves started`, `${report.status}, ${report.lastWave + 1}`);
    row(`${label}: time (ms)`, ms);
    row(`${label}: outcomes`, report.counts);
    row(`${label}: boxes beyond the first two waves updated`, beyondTwo.length);
    figures[failRate ? "faults" : "clean"] = {
      status: report.status,
      wavesStarted: report.lastWave + 1,
      ms,
      counts: report.counts,
      beyondTwoWaves: beyondTwo.length,
    };
  }
}

async function presence() {
  const consoleMode = values.console;
  if (consoleMode !== "process" && consoleMode !== "inline") {
    throw new RangeError("--console: give process or inline");
  }
  const loadBefore = (await Deno.readTextFile("/proc/loadavg")).trim();
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-bench-presence-" });
  // The console's view: every change of a box's online state in its registry, with its time.
  const view = new Map<string, Timeline>();
  const seen = (id: string, online: boolean, t: number) => {
    const line = view.get(id) ?? [];
    line.push([t, online]);
    view.set(id, line);
  };
  const onlineInView = () => [...view.values()].filter((l) => l.at(-1)![1]).length;
  let closeConsole: () => Promise<void>;
  if (consoleMode === "inline") {
    const registry = new Registry(`${dir}/registry.db`);
    watchView(registry, seen);
    const fc = await FleetConsole.connect({ broker: broker.url, registry });
    closeConsole = async () => {
      await fc.close();
      registry.close();
    };
  } else {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./fleet_console_view.ts", import.meta.url).pathname,
        "--broker",
        broker.url,
        "--registry",
        `${dir}/registry.db`,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const ready = Promise.withResolvers<void>();
    const reading = (async () => {
      let buf = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === "ready") ready.resolve();
          const [v, id, state, t] = line.split(" ");
          if (v === "v" && id && t) seen(id, state === "online", Number(t));
        }
      }
      ready.reject(new Error("bench/fleet_console_view.ts ended before it was ready"));
    })();
    await ready.promise;
    closeConsole = async () => {
      await child.stdin.close();
      await reading;
      await child.status;
    };
  }
  const t0 = performance.now();
  const fleet = await simulateBoxes(broker.url);
  const allOnline = await until(() => onlineInView() === DEVICES, 120_000);
  say(
    `${DEVICES} boxes started in ${
      Math.round(performance.now() - t0)
    } ms; all online: ${allOnline}`,
  );
  // This process's event loop delay (it carries the boxes, and the console if inline).
  const loopDelays: number[] = [];
  let tick = performance.now();
  const loopTimer = setInterval(() => {
    const now = performance.now();
    loopDelays.push(now - tick - 100);
    tick = now;
  }, 100);

  const random = prng(SEED);
  const from = Date.now();
  const end = from + num("minutes") * 60_000;
  const between = () => 1_000 + random() * 4_000;
  const counts = { kills: 0, killedBeforeOnline: 0, droppedOtherwise: 0 };
  // The truth: when each box's link really came up (its connection's own time of CONNACK) and
  // when it was killed (socket dropped, no DISCONNECT: the broker publishes the Will).
  const truth = new Map<string, Timeline>(
    fleet.boxes.map((b) => [b.id, [[from, b.link.status().connected]]]),
  );
  const cameUp = (b: SimulatedBox) => {
    const st = b.link.status();
    const line = truth.get(b.id)!;
    if (st.connected && st.since > line.at(-1)![0]) line.push([st.since, true]);
    if (st.connects > 1) counts.droppedOtherwise++;
    return st.connected;
  };
  const churn = fleet.boxes.map(async (b, i) => {
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, between()));
      if (Date.now() >= end) break;
      if (!cameUp(b)) counts.killedBeforeOnline++;
      const killedAt = Date.now();
      const line = truth.get(b.id)!;
      if (line.at(-1)![1]) line.push([killedAt, false]);
      await fleet.kill(i);
      counts.kills++;
      await new Promise((r) => setTimeout(r, between()));
      await fleet.restart(i);
    }
  });
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 5_000));
    say(`${Math.round((end - Date.now()) / 1000)} s left; ${counts.kills} kills`);
  }
  for (const b of fleet.boxes) cameUp(b);
  // Transitions near the end: give the view 5 s to show them (only the window is counted).
  await new Promise((r) => setTimeout(r, 5_000));
  clearInterval(loopTimer);
  await Promise.all(churn);
  await fleet.stop();
  await closeConsole();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const r = comparePresence(truth, view, from, end);
  const loopMs = percentiles(loopDelays);
  row("console", consoleMode === "inline" ? "in the boxes' process" : "its own process", "console");
  row("device-seconds sampled", r.deviceSeconds, "deviceSeconds");
  row("view agrees with the truth, sampled each second (%)", r.sampledAgreePercent, "agree");
  row("view agrees with the truth, integrated (%)", r.exactAgreePercent, "agreeExact");
  row("boxes killed and restarted", counts.kills, "kills");
  row("true transitions (offline, online)", r.transitions, "transitions");
  row("lag truth → view, going offline (ms)", r.lagMs.offline);
  row("lag truth → view, going online (ms)", r.lagMs.online);
  figures.lagMs = r.lagMs;
  row("transitions the view never showed", r.missed, "missed");
  row("view changes against the truth", r.againstTruth, "againstTruth");
  row("disagreeing device-ms: lag / other / total", r.disagreeMs, "disagreeMs");
  row("killed before online / dropped otherwise", counts, "counts");
  row("boxes' process event loop delay (ms)", loopMs, "loopDelayMs");
  row("load average before", loadBefore, "loadBefore");
  row("load average after", (await Deno.readTextFile("/proc/loadavg")).trim(), "loadAfter");
}

async function enrol() {
  const unlisted = Math.min(DEVICES, num("unlisted"));
  const listed = Array.from(
    { length: DEVICES - unlisted },
    (_, i) => simulatedSerial("bench", i, DEVICES),
  );
  await using setup = await startEnrolSetup(listed);
  const t0 = Date.now();
  const fleet = await simulateFleet({
    broker: setup.fleetUrl,
    devices: DEVICES,
    prefix: "bench",
    concurrency: num("concurrency", 1),
    enrol: {
      url: setup.enrolUrl,
      caPem: setup.caPem,
      bootstrap: setup.bootstrap,
      timing: { refusedRetryMs: 10 * 60_000 },
    },
  });
  try {
    await fleet.enrolment();
    const ms = Date.now() - t0;
    const boxes = fleet.boxes.map((b) => b.enrolment!);
    const enrolled = boxes.filter((e) => e.state === "enrolled");
    const refused = fleet.boxes.filter((b) => b.enrolment!.state === "refused");
    const wronglyRefused = refused.filter((b) => listed.includes(b.serial!)).length;
    const wronglyEnrolled = fleet.boxes.filter((b) =>
      b.enrolment!.state === "enrolled" && !listed.includes(b.serial!)
    ).length;
    row("listed boxes enrolled and online", `${enrolled.length}/${listed.length}`, "enrolled");
    row("time until every box enrolled or refused (ms)", ms, "ms");
    row(
      "per box, first request to online as itself (ms)",
      percentiles(enrolled.map((e) => e.connectedAt! - e.startedAt)),
      "perBoxMs",
    );
    row("unlisted serials refused", `${refused.length - wronglyRefused}/${unlisted}`, "refused");
    row("listed refused / unlisted enrolled", `${wronglyRefused} / ${wronglyEnrolled}`);
    figures.wrong = { refusedListed: wronglyRefused, enrolledUnlisted: wronglyEnrolled };
  } finally {
    await fleet.stop();
  }
}

await ({ memory, cmd, config, rollout, presence, enrol } satisfies Record<Mode, () => unknown>)
  [mode]();
const width = Math.max(...rows.map((r) => r[0].length));
console.log(`| fleet_scale ${mode}, ${DEVICES} boxes | |\n|---|---|`);
for (const [what, value] of rows) console.log(`| ${what.padEnd(width)} | ${value} |`);
console.log(JSON.stringify(figures));
