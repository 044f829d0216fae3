/**
 * Fleet link benchmark (issue 4), against a real Mosquitto on 127.0.0.1, each figure beside a
 * baseline measured in the same run: plain MQTT.js publishing the same payloads (QoS 1, the same
 * window of 64 unacknowledged messages) with no durable queue.
 *
 *   deno run -A bench/fleet.ts [--messages 1000] [--queue 10000] [--cameras 32]
 *
 * 1. Health for --cameras cameras: --messages health messages, one after the other as the
 *    daemon sends them (publishHealthNow: sample → JSON → Deno KV → MQTT → PUBACK → delete).
 *    CPU per message = this process's utime+stime (/proc/self/stat) over the run / messages.
 * 2. Drain: the broker is killed, --queue health messages are queued (fill rate), the link is
 *    restarted while the broker is down (time to open the queue), the broker comes back, and the
 *    time from reconnect to an empty queue gives the drain rate.
 *
 * A mosquitto_sub subscriber (a separate process) receives everything, as the cloud would. The
 * broker's and the subscriber's CPU are not counted on either side. Prints a table, then a JSON
 * line with every figure.
 */
// @ts-types="../runtime/fleet/mqtt_types.d.ts"
import mqtt from "npm:mqtt@5.16.0";
import { Buffer } from "node:buffer";
import { validateConfig } from "../runtime/config/validate.ts";
import { createLogger } from "../runtime/lib/log.ts";
import { type FleetLink, type FleetLinkDeps, startFleetLink } from "../runtime/fleet/link.ts";
import { Mosquitto } from "../runtime/testing/mosquitto.ts";
import { clockTicksPerSecond, readProc } from "./proc_stats.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  const value = i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} needs a whole number`);
  return value;
}

const MESSAGES = arg("messages", 1000);
const QUEUE = arg("queue", 10_000);
const CAMERAS = arg("cameras", 32);
const WINDOW = 64;
const HZ = clockTicksPerSecond();

const say = (msg: string) => console.error(`[bench/fleet] ${msg}`);

/** A health sample shaped like the daemon's, with `cameras` per-camera recording stats. */
function healthSample(cameras: number, i: number): Record<string, unknown> {
  return {
    uptimeSeconds: 86_400 + i,
    load: [0.41, 0.38, 0.35],
    cpuPercent: 23.5,
    memory: { totalBytes: 8_323_104_768, availableBytes: 5_012_345_678 },
    cpuTemperatureC: 58.4,
    throttled: {
      underVoltage: false,
      frequencyCapped: false,
      throttled: false,
      softTempLimit: false,
    },
    disks: [
      {
        device: "nvme0n1",
        mount: "/mnt/ssd",
        totalBytes: 1_000_204_886_016,
        freeBytes: 412_345_678_901,
        smart: { passed: true, percentageUsed: 3, temperatureC: 41 },
      },
    ],
    cameras: Array.from({ length: cameras }, (_, c) => ({
      id: `cam${String(c + 1).padStart(2, "0")}`,
      state: "recording",
      fps: 15,
      bitrateKbps: 4096 + c,
      segmentsToday: 1234 + i,
      bytesToday: 45_678_901_234,
      lastSegmentEndMs: 1_767_225_600_000 + i * 1000,
      gapsToday: c % 3,
      restarts: 0,
      lastError: null,
    })),
    plugins: [{ id: "door-sensor", state: "running" }],
    version: "0.1.0",
  };
}

function cpuSeconds(): number {
  const p = readProc(Deno.pid);
  return p ? p.ticks / HZ : 0;
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function startSubscriber(broker: Mosquitto): Deno.ChildProcess {
  return new Deno.Command("mosquitto_sub", {
    args: ["-h", "127.0.0.1", "-p", String(broker.port), "-q", "1", "-t", "nvr/#", "-t", "bench/#"],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function stopProcess(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  await child.status;
}

/**
 * Plain MQTT.js: `count` QoS 1 publishes of `payload(i)` (made inside the measured window, as the
 * link makes its own), at most WINDOW unacknowledged, until every PUBACK.
 */
async function plainPublish(url: string, count: number, payloadOf: (i: number) => Uint8Array) {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: "bench-baseline" });
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    let next = 0;
    let acked = 0;
    let inflight = 0;
    const pump = () => {
      while (inflight < WINDOW && next < count) {
        const payload = payloadOf(next++);
        inflight++;
        client.publish(
          "bench/baseline/health",
          Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
          { qos: 1 },
          (err) => {
            if (err) return reject(err);
            inflight--;
            if (++acked === count) resolve();
            else pump();
          },
        );
      }
    };
    pump();
  });
  const result = { seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSeconds() - cpu0 };
  await client.endAsync();
  return result;
}

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-bench-fleet-" });
  await using broker = await Mosquitto.start();
  let subscriber = startSubscriber(broker);
  const config = validateConfig({
    storage: { dataDir: `${dir}/data` },
    mqtt: { url: broker.url, queueMaxMessages: Math.max(QUEUE, 100) },
  });
  let sample = 0;
  const deps: FleetLinkDeps = {
    config,
    deviceId: "bench-box",
    version: "0.1.0",
    log: createLogger({ level: "error" }),
    fingerprint: () => Promise.resolve({ board: { serial: "bench" } }),
    health: () => Promise.resolve(healthSample(CAMERAS, sample++) as never),
    licenceStatus: () => ({ state: "valid", maxCameras: 32 }),
    restartCamera: () => Promise.resolve(),
    applyConfig: () => Promise.resolve(),
    snapshot: () => Promise.reject(new Error("no cameras in the benchmark")),
    kvPath: `${dir}/fleet.kv`,
    timing: {
      healthMs: 3_600_000,
      fingerprintCheckMs: 3_600_000,
      reconnectMinMs: 20,
      reconnectMaxMs: 50,
      window: WINDOW,
    },
  };
  const payloadFor = (i: number) =>
    new TextEncoder().encode(JSON.stringify({
      seq: i,
      ts: Date.now(),
      reason: "request",
      health: healthSample(CAMERAS, i),
      licence: { state: "valid", maxCameras: 32 },
    }));
  const messageBytes = payloadFor(0).byteLength;
  let link: FleetLink | null = null;
  try {
    // 1. Health publishing, one message after the other.
    link = await startFleetLink(deps);
    await waitUntil("connected", () => link?.status().connected === true);
    await waitUntil("boot messages sent", () => (link?.status().queue.messages ?? 1) === 0);
    say(`health: ${MESSAGES} messages of ${messageBytes} bytes (${CAMERAS} cameras)`);
    const sent0 = link.status().sent;
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    for (let i = 0; i < MESSAGES; i++) await link.publishHealthNow();
    await waitUntil("all acknowledged", () => (link?.status().sent ?? 0) >= sent0 + MESSAGES);
    const ours = { seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSeconds() - cpu0 };
    const baseline = await plainPublish(broker.url, MESSAGES, payloadFor);

    // 2. Drain after an outage.
    say(`drain: killing the broker, queueing ${QUEUE} messages`);
    await broker.kill();
    await stopProcess(subscriber);
    await waitUntil("offline", () => link?.status().connected === false);
    const fillCpu0 = cpuSeconds();
    const fill0 = performance.now();
    for (let i = 0; i < QUEUE; i += 500) {
      const n = Math.min(500, QUEUE - i);
      await Promise.all(Array.from({ length: n }, () => link?.publishHealthNow()));
    }
    const fill = {
      seconds: (performance.now() - fill0) / 1000,
      cpuSeconds: cpuSeconds() - fillCpu0,
    };
    const queuedBytes = link.status().queue.bytes;
    await link.stop();
    link = null;
    const open0 = performance.now();
    link = await startFleetLink(deps);
    const openMs = performance.now() - open0;
    const queued = link.status().queue.messages;
    say(
      `drain: ${queued} messages (${(queuedBytes / 2 ** 20).toFixed(1)} MiB) queued; broker back`,
    );
    await broker.restart();
    subscriber = startSubscriber(broker);
    await waitUntil("reconnected", () => link?.status().connected === true);
    const drainCpu0 = cpuSeconds();
    const drain0 = performance.now();
    await waitUntil("queue drained", () => link?.status().queue.messages === 0);
    const drain = {
      seconds: (performance.now() - drain0) / 1000,
      cpuSeconds: cpuSeconds() - drainCpu0,
    };
    const queuedPayloads = Array.from({ length: QUEUE }, (_, i) => payloadFor(i));
    const drainBaseline = await plainPublish(
      broker.url,
      QUEUE,
      (i) => queuedPayloads[i] as Uint8Array,
    );

    const perMsgMs = (r: { cpuSeconds: number }, n: number) => (r.cpuSeconds * 1000) / n;
    const rate = (n: number, r: { seconds: number }) => n / r.seconds;
    const rows: [string, string, string, string][] = [
      ["", "fleet link", "plain MQTT.js", "ratio"],
      [
        `health CPU per message (${CAMERAS} cameras, ${messageBytes} B)`,
        `${perMsgMs(ours, MESSAGES).toFixed(3)} ms`,
        `${perMsgMs(baseline, MESSAGES).toFixed(3)} ms`,
        `${(perMsgMs(ours, MESSAGES) / perMsgMs(baseline, MESSAGES)).toFixed(2)}×`,
      ],
      [
        "health: wall time per message (ours: one at a time, each written to disk first)",
        `${(ours.seconds * 1000 / MESSAGES).toFixed(2)} ms`,
        `${(baseline.seconds * 1000 / MESSAGES).toFixed(2)} ms`,
        "",
      ],
      [
        `drain of ${queued} queued messages, per second`,
        rate(queued, drain).toFixed(0),
        rate(QUEUE, drainBaseline).toFixed(0),
        `${(rate(queued, drain) / rate(QUEUE, drainBaseline)).toFixed(2)}×`,
      ],
      [
        "drain CPU per message",
        `${perMsgMs(drain, queued).toFixed(3)} ms`,
        `${perMsgMs(drainBaseline, QUEUE).toFixed(3)} ms`,
        `${(perMsgMs(drain, queued) / perMsgMs(drainBaseline, QUEUE)).toFixed(2)}×`,
      ],
      [
        "queueing while offline, per second",
        rate(QUEUE, fill).toFixed(0),
        "",
        "",
      ],
      ["opening a queue of that size (restart)", `${openMs.toFixed(0)} ms`, "", ""],
    ];
    const width = rows.map((r) => r.map((c) => c.length)).reduce((a, b) =>
      a.map((w, i) => Math.max(w, b[i] ?? 0))
    );
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(width[i] ?? 0)).join("  "));
    console.log(JSON.stringify({
      cameras: CAMERAS,
      messageBytes,
      health: { messages: MESSAGES, ours, baseline },
      drain: { queued, queuedBytes, ours: drain, baseline: drainBaseline, fill, openMs },
    }));
  } finally {
    await link?.stop();
    await stopProcess(subscriber);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();
