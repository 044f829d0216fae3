/**
 * The fleet console against 20 simulated boxes (the daemon's real link code) on a real
 * Mosquitto: the registry, commands to all, desired configuration converging (also for a box
 * that was offline), rollouts in waves that halt on injected failures, pause/abort, and two
 * consoles splitting the live traffic with shared subscriptions.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { waitUntil } from "../testing/fleet_kit.ts";
import { FleetConsole } from "./console.ts";
import { parseSelector, Registry } from "./registry.ts";
import { planWaves, rolloutStatus, runRollout, setRolloutStatus } from "./rollout.ts";
import { startFleetFixture } from "./fleet_fixture.ts";

const N = 20;
const BUNDLE = {
  url: "https://updates.example.com/nvr-1.1.0.raucb",
  sha256: "b".repeat(64),
  size: 1000,
  version: "1.1.0",
};

function setup(options: { failRate?: number; seed?: number } = {}) {
  return startFleetFixture({
    devices: N,
    installMs: 200,
    rebootMs: 100,
    board: "rpi4",
    ...options,
  });
}

Deno.test("console: the registry sees every box, by live traffic and by exact-topic reads", async () => {
  await using s = await setup();
  await s.console.settled();
  const row = s.registry.get("sim-07")!;
  assertEquals(
    [row.state, row.version, row.board, row.licence, row.health],
    ["online", "1.0.0", "rpi4", "valid", "cameras 0/0, disk 12%"],
  );
  assertEquals(row.fingerprintHash?.length, 64);
  assertEquals(s.registry.select(parseSelector("all", ["version=1.0.0", "board=rpi4"])).length, N);
  assertEquals(s.registry.select(parseSelector("version=9.9.9")).length, 0);

  // A second console with an empty registry and no live subscription: exact reads only.
  const registry = new Registry(":memory:");
  const reader = await FleetConsole.connect({ broker: s.broker.url, registry, follow: false });
  try {
    for (const box of s.fleet.boxes) registry.add(box.id);
    await reader.refresh();
    assertEquals(registry.list().filter((r) => r.state === "online").length, N);
    assertEquals(registry.get("sim-03")?.appliedVersion, null);
  } finally {
    await reader.close();
    registry.close();
  }

  // A box killed: offline, with offline-since.
  await s.fleet.boxes[0]!.link.stop();
  await waitUntil("sim-00 offline", () => s.registry.get("sim-00")?.state === "offline");
  assertEquals(s.registry.select({ offlineForMs: 0 }).map((r) => r.id), ["sim-00"]);
});

Deno.test("console: a command to all 20 boxes gets all 20 results", async () => {
  await using s = await setup();
  const ids = s.registry.list().map((r) => r.id);
  const summary = await s.console.command(ids, { cmd: "ping" }, 20_000);
  assertEquals([summary.requested, summary.ok, summary.failed, summary.timedOut], [N, N, 0, 0]);
  assertEquals((summary.outcomes[0]?.result as { pong?: boolean }).pong, true);
  // An unknown camera: every box answers with the error, none times out.
  const bad = await s.console.command(ids, { cmd: "restart-camera", camera: "x" }, 20_000);
  assertEquals([bad.failed, bad.timedOut], [N, 0]);
  assertEquals(bad.outcomes[0]?.status, "unknown-camera");
});

Deno.test("console: desired configuration converges; versions only go up; an offline box converges on reconnect", async () => {
  await using s = await setup();
  const ids = s.registry.list().map((r) => r.id);
  const late = s.fleet.boxes[5]!;
  await late.link.stop(); // offline during the change
  const first = await s.console.config(ids, { device: { name: "shop" } }, 5_000);
  assertEquals([first.version, first.converged, first.pending], [1, N - 1, 1]);
  assertEquals(first.outcomes.find((o) => o.status === "pending")?.id, late.id);
  // Back: it reads its exact retained config/desired on connect and applies it.
  await s.fleet.restart(5);
  await waitUntil("the late box converged", () => s.registry.get(late.id)?.appliedVersion === 1);
  assertEquals(late.applied.at(-1)?.device.name, "shop");

  const second = await s.console.config(ids, { device: { name: "shop-2" } }, 20_000);
  assertEquals([second.version, second.converged], [2, N], "the next version is above the last");
  const bad = await s.console.config(ids, { http: { listen: "nowhere" } }, 20_000);
  assertEquals([bad.version, bad.rejected, bad.converged], [3, N, 0]);
  assert(String(bad.outcomes[0]?.error).includes("http.listen"));
});

Deno.test("rollout: with 20 % injected failures it halts after the first waves; no later box gets the update", async () => {
  await using s = await setup({ failRate: 0.2, seed: 7 });
  const ids = s.registry.list().map((r) => r.id);
  const report = await runRollout(s.console, ids, {
    id: "r-faulty",
    ...BUNDLE,
    waves: [10, 50, 100],
    haltPercent: 5,
    minBoxes: 2,
    boxTimeoutMs: 15_000,
    seed: 3,
  });
  assertEquals(report.status, "halted");
  assert(
    report.lastWave < report.waves.length - 1,
    `halted before the last wave: ${report.lastWave}`,
  );
  const started = new Set(report.waves.slice(0, report.lastWave + 1).flat());
  for (const box of s.fleet.boxes) {
    if (!started.has(box.id)) assertEquals(box.installs, [], `${box.id} never got the update`);
  }
  assert(report.counts.failed >= 1, JSON.stringify(report.counts));
  assertEquals(report.counts["not-started"], N - started.size);
  for (const o of report.outcomes.filter((o) => o.outcome === "failed")) {
    assert(s.fleet.boxes.find((b) => b.id === o.id)?.willFail, `${o.id} was meant to fail`);
  }
  assertEquals(rolloutStatus(s.console, "r-faulty"), "halted");
});

Deno.test("rollout: without faults every box runs the new version; pause holds the next wave, abort stops it", async () => {
  await using s = await setup();
  const ids = s.registry.list().map((r) => r.id);
  const report = await runRollout(s.console, ids, {
    id: "r-clean",
    ...BUNDLE,
    boxTimeoutMs: 15_000,
    seed: 1,
  });
  assertEquals([report.status, report.counts.good], ["done", N]);
  assertEquals(report.waves.map((w) => w.length), [1, 1, 18]);
  await waitUntil(
    "registry shows 1.1.0",
    () => s.registry.select(parseSelector("version=1.1.0")).length === N,
  );

  // Paused before its second wave, then aborted: only the first wave's box is touched.
  const next = { ...BUNDLE, version: "1.2.0" };
  const lines: string[] = [];
  const running = runRollout(s.console, ids, { id: "r-paused", ...next, seed: 2 }, (line) => {
    lines.push(line);
    if (line.startsWith("wave 1:")) setRolloutStatus(s.console, "r-paused", "paused");
  });
  await waitUntil("paused", () => rolloutStatus(s.console, "r-paused") === "paused", 20_000);
  setRolloutStatus(s.console, "r-paused", "aborted");
  const aborted = await running;
  assertEquals([aborted.status, aborted.counts.good, aborted.counts["not-started"]], [
    "aborted",
    1,
    N - 1,
  ]);
  assertEquals(s.fleet.boxes.filter((b) => b.installs.includes("1.2.0")).length, 1);
});

Deno.test("console: two consoles in one shared-subscription group split the live traffic", async () => {
  await using s = await setup();
  const registryB = new Registry(":memory:");
  const b = await FleetConsole.connect({ broker: s.broker.url, registry: registryB });
  try {
    const got = { a: 0, b: 0 };
    const stopA = s.console.listen((t) => t.endsWith("/health") && got.a++);
    const stopB = b.listen((t) => t.endsWith("/health") && got.b++);
    // Every box publishes health now: 20 messages on the shared subscription.
    for (const box of s.fleet.boxes) await box.link.publishHealthNow();
    await waitUntil("all 20 health messages taken", () => got.a + got.b >= N, 20_000);
    stopA();
    stopB();
    assertEquals(got.a + got.b, N, "each message went to one console, not both");
    assert(got.a > 0 && got.b > 0, `both consoles took a share: ${JSON.stringify(got)}`);
  } finally {
    await b.close();
    registryB.close();
  }
});

Deno.test("planWaves: cumulative percentages, at least one box a wave; bad waves named", () => {
  const ids = Array.from({ length: 1000 }, (_, i) => `b${i}`);
  assertEquals(planWaves(ids, [1, 10, 100]).map((w) => w.length), [10, 90, 900]);
  assertEquals(planWaves(ids.slice(0, 3), [1, 10, 100]).map((w) => w.length), [1, 1, 1]);
  let message = "";
  try {
    planWaves(ids, [10, 5, 100]);
  } catch (err) {
    message = (err as Error).message;
  }
  assert(message.includes("--waves 10,5,100"), message);
});
