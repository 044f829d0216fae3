/**
 * Where a simulated box's memory goes (issue 19): each part of a box built N times on one
 * Mosquitto on 127.0.0.1, each part in a process of its own (RSS is never given back, so parts
 * measured one after another in one process would blur), and the difference to the same process
 * before, per box:
 *
 *   deno run -A bench/fleet_box_memory.ts [--devices 200] [--parts kv,mqtt,…]
 *
 *   kv        Deno.openKv(":memory:") and the link's DurableQueue and ConfigShadow in it, nothing
 *             else (what `kvPath: ":memory:"` gives each simulated box)
 *   mqtt      a bare MQTT.js client with the link's options (MQTT 5, Will, session expiry),
 *             connected, subscribed to the link's filters (the library's own cost a connection)
 *   link      the daemon's real fleet link (startFleetLink), each with a Deno KV of its own in
 *             memory (`kvPath: ":memory:"`, how the simulator ran boxes before issue 19's cut)
 *   sim       simulateFleet as bench/fleet_scale.ts runs it (the same link, the KV shared)
 *
 * With --expose-gc (passed to the children) the JS heap is measured after a full collection, so
 * heapUsed is what is live, not garbage waiting. RSS includes what Deno's Rust side and SQLite
 * allocate, which the JS heap does not show. Bounded: N boxes, 60 s to connect them.
 * Loopback only. A Markdown table on stdout, then a JSON line.
 */
import { parseArgs } from "node:util";
import { Buffer } from "node:buffer";
// @ts-types="../runtime/fleet/mqtt_types.d.ts"
import mqtt from "npm:mqtt@5.16.0";
import type { MqttClient } from "../runtime/fleet/mqtt_types.d.ts";
import { Mosquitto } from "../runtime/testing/mosquitto.ts";
import { DurableQueue } from "../runtime/fleet/queue.ts";
import { ConfigShadow } from "../runtime/fleet/shadow.ts";
import { deviceTopics } from "../runtime/fleet/schema.ts";
import { validateConfig } from "../runtime/config/validate.ts";
import { createLogger } from "../runtime/lib/log.ts";
import { parallel } from "../runtime/fleet_console/console.ts";
import { simulateFleet } from "../runtime/fleet_console/simulate.ts";
import { type FleetLink, startFleetLink } from "../runtime/fleet/link.ts";

const PARTS = ["kv", "mqtt", "link", "sim"] as const;
type Part = typeof PARTS[number];

const { values } = parseArgs({
  args: Deno.args,
  options: {
    devices: { type: "string", default: "200" },
    parts: { type: "string", default: PARTS.join(",") },
    child: { type: "string" },
    broker: { type: "string" },
  },
});
const DEVICES = Number(values.devices);
if (!Number.isInteger(DEVICES) || DEVICES < 1 || DEVICES > 20_000) {
  throw new RangeError("--devices: give a whole number from 1 to 20000");
}
const log = createLogger({ level: "error", sink: () => {} });
const gc = (globalThis as { gc?: () => void }).gc;

interface Sample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  threads: number;
}
/** OS threads of this process (Deno KV runs one per open database). */
function threads(): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(/^Threads:\s+(\d+)/m);
  return Number(m?.[1] ?? NaN);
}
async function sample(): Promise<Sample> {
  // Twice, with a turn of the event loop between: weak callbacks and finalizers run.
  for (let i = 0; i < 2 && gc; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = Deno.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    threads: threads(),
  };
}

/** Waits for `check` every 50 ms, up to `ms`; throws past it. */
async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const config = (broker: string) =>
  validateConfig({
    storage: { dataDir: "/nonexistent/simulated" },
    cameras: [],
    mqtt: { url: broker },
  });

/** Builds `n` of a part (ids `<prefix>-<i>`); returns what stop() needs. */
async function build(
  part: Part,
  broker: string,
  n: number,
  prefix: string,
): Promise<() => Promise<void>> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  if (part === "kv") {
    const held: { kv: Deno.Kv; queue: DurableQueue }[] = [];
    await parallel(ids, 50, async (id) => {
      const kv = await Deno.openKv(":memory:");
      const queue = await DurableQueue.open(kv, { maxMessages: 10_000, log });
      const shadow = await ConfigShadow.open({
        kv,
        initial: config(broker),
        applyConfig: () => Promise.resolve(),
        report: () => Promise.resolve(),
        log,
      });
      // What a box queues at boot: a fingerprint and a health sample, then acknowledged.
      const topics = deviceTopics(id);
      for (const topic of [topics.fingerprint, topics.health]) {
        await queue.enqueue({ topic, retain: false, cls: "keep" }, () => new Uint8Array(600));
      }
      void shadow;
      held.push({ kv, queue });
    });
    return async () => {
      for (const { kv, queue } of held) {
        await queue.close();
        kv.close();
      }
    };
  }
  if (part === "mqtt") {
    const clients: MqttClient[] = [];
    await parallel(ids, 50, async (id) => {
      const topics = deviceTopics(id);
      const client = mqtt.connect(broker, {
        protocolVersion: 5,
        clean: false,
        clientId: id,
        keepalive: 30,
        reconnectPeriod: 0,
        resubscribe: false,
        will: {
          topic: topics.state,
          payload: Buffer.from(JSON.stringify({ state: "offline", bootId: "x", bdSeq: 1 })),
          qos: 1,
          retain: true,
        },
        properties: { sessionExpiryInterval: 7 * 24 * 3600, maximumPacketSize: 1 << 20 },
      });
      clients.push(client);
      await new Promise<void>((resolve, reject) => {
        client.on("connect", () => resolve());
        client.on("error", reject);
      });
      await new Promise<void>((resolve) =>
        client.subscribe([topics.commands, topics.configDesired], { qos: 1 }, () => resolve())
      );
    });
    return async () => {
      await Promise.all(clients.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
    };
  }
  if (part === "link") {
    const links: FleetLink[] = [];
    const hooks = {
      config: config(broker),
      version: "1.0.0",
      log,
      fingerprint: () => Promise.resolve({ schema: 1, board: { id: "mem" } } as never),
      health: () => Promise.resolve({ cameras: [], disks: [{ usedPercent: 12 }] }),
      restartCamera: () => Promise.resolve(),
      applyConfig: () => Promise.resolve(),
      snapshot: () => Promise.reject(new Error("no cameras")),
      kvPath: ":memory:",
      timing: { reconnectMinMs: 1_000, reconnectMaxMs: 5_000, stopGraceMs: 500 },
    };
    await parallel(ids, 50, async (deviceId) => {
      links.push(await startFleetLink({ ...hooks, deviceId }));
    });
    await until("every link subscribed", () => links.every((l) => l.status().subscribed), 60_000);
    return async () => {
      await parallel(links, 200, (l) => l.stop());
    };
  }
  const fleet = await simulateFleet({ broker, devices: n, prefix, concurrency: 50 });
  await until(
    "every box connected",
    () => fleet.boxes.every((b) => b.link.status().subscribed),
    60_000,
  );
  return () => fleet.stop();
}

/**
 * Half the boxes, then the other half: the first half carries what the first box loads once
 * (modules, compiled code, MQTT.js's packet caches), the second half only what each box adds.
 */
async function child(part: Part, broker: string) {
  const half = Math.ceil(DEVICES / 2);
  const s0 = await sample();
  const stopA = await build(part, broker, half, "a");
  const s1 = await sample();
  const stopB = await build(part, broker, DEVICES - half, "b");
  const s2 = await sample();
  const kib = (bytes: number, n: number) => Math.round(bytes / n / 102.4) / 10;
  const per = (k: "rss" | "heapUsed" | "heapTotal" | "external") => ({
    all: kib(s2[k] - s0[k], DEVICES),
    marginal: kib(s2[k] - s1[k], DEVICES - half),
  });
  console.log(JSON.stringify({
    part,
    devices: DEVICES,
    rssKiB: per("rss"),
    heapKiB: per("heapUsed"),
    heapTotalKiB: per("heapTotal"),
    externalKiB: per("external"),
    threadsPerBox: Math.round((threads() - s0.threads) / DEVICES * 100) / 100,
    baseRssMiB: Math.round(s0.rss / 2 ** 20),
  }));
  await stopB();
  await stopA();
}

if (values.child) {
  await child(values.child as Part, values.broker!);
} else {
  const parts = values.parts.split(",") as Part[];
  for (const p of parts) if (!PARTS.includes(p)) throw new RangeError(`--parts: unknown ${p}`);
  await using broker = await Mosquitto.start();
  const results: Record<string, unknown>[] = [];
  for (const part of parts) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        import.meta.filename!,
        "--devices",
        String(DEVICES),
        "--child",
        part,
        "--broker",
        broker.url,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    if (!out.success) throw new Error(`part ${part} failed (exit ${out.code})`);
    results.push(JSON.parse(line));
    console.error(`[bench/fleet_box_memory] ${line}`);
  }
  type Pair = { all: number; marginal: number };
  const cell = (p: Pair) => `${p.marginal} (${p.all})`;
  console.log(
    `| part, ${DEVICES} boxes | RSS KiB/box | JS heap KiB/box | external KiB/box | threads/box |`,
  );
  console.log("|---|---|---|---|---|");
  for (const r of results) {
    const [rss, heap, ext] = [r.rssKiB, r.heapKiB, r.externalKiB] as Pair[];
    console.log(
      `| ${r.part} | ${cell(rss!)} | ${cell(heap!)} | ${cell(ext!)} | ${r.threadsPerBox} |`,
    );
  }
  console.log("(each cell: the second half's boxes alone (all boxes, fixed costs included))");
  console.log(JSON.stringify({ devices: DEVICES, results }));
}
