/**
 * The console's command line through main(): `--json` on every subcommand, the broker from
 * NVR_MQTT_URL, against a real Mosquitto and simulated boxes (the daemon's real fleet link).
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { main } from "./main.ts";

/** Runs main(args) and returns its exit code and what it printed on stdout and stderr. */
export async function run(
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
