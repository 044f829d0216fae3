/**
 * The console's command line through main(): `--json` on every subcommand, the broker from
 * NVR_MQTT_URL, against a real Mosquitto and simulated boxes (the daemon's real fleet link).
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { waitUntil } from "../testing/fleet_kit.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { type CommandSummary, type ConfigSummary, FleetConsole } from "./console.ts";
import { main } from "./main.ts";
import { type DeviceRow, Registry } from "./registry.ts";
import type { RolloutReport } from "./rollout.ts";
import { simulateFleet } from "./simulate.ts";

/** Runs main(args) and returns its exit code and what it printed on stdout and stderr. */
async function run(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.map(String).join(" "));
  console.error = (...a: unknown[]) => err.push(a.map(String).join(" "));
  try {
    const code = await main(args);
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("fleet enrol --json: accepted; a missing option is a JSON error naming it", async () => {
  const r = await run(["enrol", "--json", "--broker", "mqtt://127.0.0.1:1"]);
  assertEquals(r.code, 64);
  const error = JSON.parse(r.stdout) as { error: string; missing: string[] };
  assertEquals(error.missing, ["--ca", "--cert", "--key", "--ca-key", "--allow", "--state"]);
  assert(error.error.includes("--ca-key"), error.error);
});

const BUNDLE = ["https://updates.example.com/nvr-1.1.0.raucb", "--sha256", "b".repeat(64)];

Deno.test("fleet CLI: devices, tag, cmd, config, rollout with --json; the broker from NVR_MQTT_URL", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-cli-" });
  const fleet = await simulateFleet({
    broker: broker.url,
    devices: 3,
    prefix: "cli",
    installMs: 100,
    rebootMs: 50,
  });
  const was = Deno.env.get("NVR_MQTT_URL");
  try {
    const db = ["--db", `${dir}/registry.db`, "--json"];
    Deno.env.delete("NVR_MQTT_URL");
    let noBroker = "";
    await run(["devices", ...db]).catch((err) => noBroker = (err as Error).message);
    assert(noBroker.includes("NVR_MQTT_URL"), noBroker);
    Deno.env.set("NVR_MQTT_URL", broker.url);

    // A fresh registry knows the boxes from the inventory and reads their retained state.
    await Deno.writeTextFile(`${dir}/inventory.txt`, fleet.boxes.map((b) => b.id).join("\n"));
    const devices = await run([
      "devices",
      "--inventory",
      `${dir}/inventory.txt`,
      "--refresh",
      ...db,
    ]);
    assertEquals(devices.code, 0);
    const rows = JSON.parse(devices.stdout) as DeviceRow[];
    assertEquals(rows.map((r) => [r.id, r.state, r.version]), [
      ["cli-0", "online", "1.0.0"],
      ["cli-1", "online", "1.0.0"],
      ["cli-2", "online", "1.0.0"],
    ]);

    const tagged = await run(["tag", "cli-0,cli-1", "add", "north", ...db]);
    assertEquals(JSON.parse(tagged.stdout), [
      { id: "cli-0", tags: "north" },
      { id: "cli-1", tags: "north" },
    ]);

    const cmd = await run(["cmd", "tag=north", "ping", "--timeout", "20s", ...db]);
    const summary = JSON.parse(cmd.stdout) as CommandSummary;
    assertEquals([cmd.code, summary.requested, summary.ok], [0, 2, 2]);

    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ device: { name: "cli" } }));
    const config = await run(["config", "all", `${dir}/config.json`, "--timeout", "20s", ...db]);
    const converged = JSON.parse(config.stdout) as ConfigSummary;
    assertEquals([config.code, converged.version, converged.converged], [0, 1, 3]);

    const rollout = await run([
      "rollout",
      "cli-*",
      ...BUNDLE,
      "--size",
      "1000",
      "--version",
      "1.1.0",
      "--waves",
      "50,100",
      "--box-timeout",
      "15s",
      "--id",
      "r-cli",
      ...db,
    ]);
    const report = JSON.parse(rollout.stdout) as RolloutReport;
    assertEquals([rollout.code, report.status, report.counts.good], [0, "done", 3]);
    assertEquals(rollout.stderr, "", "--json: no progress lines on stderr");

    let again = "";
    await run(["rollout", "pause", "r-cli", ...db]).catch((err) => again = (err as Error).message);
    assert(again.includes("done already"), again);
  } finally {
    if (was === undefined) Deno.env.delete("NVR_MQTT_URL");
    else Deno.env.set("NVR_MQTT_URL", was);
    await fleet.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet CLI: simulate --json runs boxes until stopped and writes their inventory", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-sim-" });
  const registry = new Registry(":memory:");
  const watcher = await FleetConsole.connect({ broker: broker.url, registry });
  const stop = new AbortController();
  const out: string[] = [];
  const { log } = console;
  console.log = (...a: unknown[]) => out.push(a.map(String).join(" "));
  let running: Promise<number> | undefined;
  try {
    running = main([
      "simulate",
      "--devices",
      "3",
      "--prefix",
      "cl",
      "--broker",
      broker.url,
      "--write-inventory",
      `${dir}/ids.txt`,
      "--json",
    ], { signal: stop.signal });
    await waitUntil("simulate reported", () => out.length > 0, 30_000);
    console.log = log;
    const started = JSON.parse(out[0]!) as { devices: number; rssBytes: number };
    assertEquals(started.devices, 3);
    assert(started.rssBytes > 0);
    assertEquals((await Deno.readTextFile(`${dir}/ids.txt`)).trim().split("\n"), [
      "cl-0",
      "cl-1",
      "cl-2",
    ]);
    await waitUntil(
      "the boxes are online",
      () => registry.list().filter((r) => r.state === "online").length === 3,
      30_000,
    );
    stop.abort();
    assertEquals(await running, 0);
    await waitUntil(
      "they went offline when stopped",
      () => registry.list().every((r) => r.state === "offline"),
      30_000,
    );
  } finally {
    console.log = log;
    stop.abort();
    await running?.catch(() => {});
    await watcher.close();
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
});
