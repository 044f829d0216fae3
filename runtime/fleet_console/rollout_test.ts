/**
 * Rollouts against simulated boxes (the daemon's real fleet link) on a real Mosquitto: a box
 * whose new slot fails its health gate reports `rolled-back` and counts as a failure; halt, pause
 * and abort act inside a wave in progress, not only between waves; a paused rollout resumes.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { waitUntil } from "../testing/fleet_kit.ts";
import { rolloutStatus, runRollout, setRolloutStatus } from "./rollout.ts";
import { startFleetFixture } from "./fleet_fixture.ts";

const BUNDLE = {
  url: "https://updates.example.com/nvr-1.1.0.raucb",
  sha256: "b".repeat(64),
  size: 1000,
  version: "1.1.0",
};

Deno.test("rollout: a box whose new slot fails its health gate is reported rolled-back, with the reason", async () => {
  await using s = await startFleetFixture({
    devices: 10,
    installMs: 100,
    rebootMs: 50,
    rollbackRate: 0.3,
    seed: 4,
  });
  const report = await runRollout(s.console, s.fleet.boxes.map((b) => b.id), {
    id: "r-rollback",
    ...BUNDLE,
    waves: [100],
    haltPercent: 50, // 30 % failures: under the threshold, the wave runs to its end
    boxTimeoutMs: 15_000,
    seed: 1,
  });
  assertEquals([report.status, report.counts.good, report.counts["rolled-back"]], ["done", 7, 3]);
  for (const o of report.outcomes) {
    const box = s.box(o.id);
    assertEquals(o.outcome, box.willRollBack ? "rolled-back" : "good", o.id);
    if (box.willRollBack) assert(o.reason?.includes("health gate"), o.reason);
  }
  // The registry shows them back on the old version and slot, with the update's state.
  await waitUntil(
    "the registry shows the rollbacks",
    () =>
      s.registry.list().filter((r) =>
        r.updateState === "rolled-back" && r.version === "1.0.0" && r.slot === "rootfs.0"
      ).length === 3,
  );
});

Deno.test("rollout: failures halt a wave in progress; rolled-back boxes count; the rest of the wave never gets the update", async () => {
  await using s = await startFleetFixture({
    devices: 20,
    installMs: 150,
    rebootMs: 50,
    rollbackRate: 0.25,
    seed: 9,
  });
  const lines: string[] = [];
  const report = await runRollout(s.console, s.fleet.boxes.map((b) => b.id), {
    id: "r-halt-in-wave",
    ...BUNDLE,
    waves: [100], // one wave: only an in-wave halt can stop it
    haltPercent: 5,
    minBoxes: 2,
    maxInFlight: 2,
    boxTimeoutMs: 15_000,
    seed: 5,
  }, (line) => lines.push(line));
  assertEquals([report.status, report.lastWave], ["halted", 0]);
  assert(report.counts["rolled-back"] >= 1, JSON.stringify(report.counts));
  assert(
    report.counts["not-started"] >= 10,
    `most of the wave held: ${JSON.stringify(report.counts)}`,
  );
  for (const o of report.outcomes) {
    const box = s.box(o.id);
    if (o.outcome === "not-started") assertEquals(box.installs, [], `${o.id} never sent it`);
    else assertEquals(box.installs, ["1.1.0"], o.id);
  }
  // None sent once the threshold was crossed: after the first failure only the box still in
  // flight is decided (and one more sent, if that failure came before minBoxes were finished).
  const decided = lines.filter((l) => l.startsWith("box "));
  const firstFailure = decided.findIndex((l) => !l.endsWith(": good"));
  const after = decided.length - firstFailure - 1;
  assert(firstFailure >= 0 && after <= (firstFailure + 1 >= 2 ? 1 : 2), decided.join("\n"));
  assertEquals(rolloutStatus(s.console, "r-halt-in-wave"), "halted");
});

Deno.test("rollout: pause holds the rest of a wave in progress, resume finishes it", async () => {
  await using s = await startFleetFixture({ devices: 8, installMs: 150, rebootMs: 50 });
  const lines: string[] = [];
  let paused = false;
  const running = runRollout(s.console, s.fleet.boxes.map((b) => b.id), {
    id: "r-pause-in-wave",
    ...BUNDLE,
    waves: [100],
    maxInFlight: 2,
    boxTimeoutMs: 15_000,
    seed: 2,
  }, (line) => {
    lines.push(line);
    if (!paused && line.startsWith("box ")) {
      paused = true;
      setRolloutStatus(s.console, "r-pause-in-wave", "paused");
    }
  });
  await waitUntil("the wave noticed the pause", () => lines.some((l) => l.includes("paused")));
  // The one box still in flight when it paused finishes; nothing new is sent while paused.
  await waitUntil(
    "the box in flight decided",
    () => lines.filter((l) => l.startsWith("box ")).length === 2,
    20_000,
  );
  assertEquals(s.fleet.boxes.filter((b) => b.installs.length > 0).length, 2);
  assertEquals(rolloutStatus(s.console, "r-pause-in-wave"), "paused");

  setRolloutStatus(s.console, "r-pause-in-wave", "running"); // `rollout resume`
  const report = await running;
  assertEquals([report.status, report.counts.good], ["done", 8]);
  assertEquals(s.fleet.boxes.filter((b) => b.installs.length === 1).length, 8);
});

Deno.test("rollout: abort inside a wave stops sending; boxes in flight are reported aborted", async () => {
  await using s = await startFleetFixture({ devices: 8, installMs: 2_000, rebootMs: 50 });
  const lines: string[] = [];
  const running = runRollout(s.console, s.fleet.boxes.map((b) => b.id), {
    id: "r-abort-in-wave",
    ...BUNDLE,
    waves: [100],
    maxInFlight: 3,
    boxTimeoutMs: 30_000,
    seed: 3,
  }, (line) => lines.push(line));
  await waitUntil(
    "three boxes installing",
    () => s.fleet.boxes.filter((b) => b.installs.length > 0).length === 3,
  );
  setRolloutStatus(s.console, "r-abort-in-wave", "aborted");
  const started = Date.now();
  const report = await running;
  assert(Date.now() - started < 10_000, "the abort did not wait for the installs");
  assertEquals(report.status, "aborted");
  assertEquals([report.counts.aborted, report.counts["not-started"]], [3, 5]);
  for (const o of report.outcomes) {
    if (o.outcome === "aborted") assert(o.reason?.includes("aborted"), o.reason);
  }
  assertEquals(s.fleet.boxes.filter((b) => b.installs.length > 0).length, 3, "no box after");
});
