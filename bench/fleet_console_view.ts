/**
 * The fleet console in a process of its own for `bench/fleet_scale.ts presence` (as it runs in
 * real life: not on the event loop of the 1000 simulated boxes). It follows the broker into its
 * registry as `deno task fleet` does and prints every change of a box's online view, as the
 * registry holds it just after the message was taken in, with the time of that change:
 *
 *   deno run -A bench/fleet_console_view.ts --broker mqtt://127.0.0.1:1883 --registry FILE
 *
 * stdout: `ready`, then `v <deviceId> <online|offline> <ms since the epoch>` a line. Ends when
 * stdin closes (the bench ends it so). The timestamps are Date.now() on the same machine as the
 * bench's truth, so both are compared at the same instants.
 */
import { parseArgs } from "node:util";
import { FleetConsole } from "../runtime/fleet_console/console.ts";
import { Registry } from "../runtime/fleet_console/registry.ts";
import { watchView } from "./fleet_view.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { broker: { type: "string" }, registry: { type: "string" } },
});
if (!values.broker || !values.registry) {
  console.error("usage: bench/fleet_console_view.ts --broker URL --registry FILE");
  Deno.exit(64);
}
const registry = new Registry(values.registry);
const out = Deno.stdout.writable.getWriter();
const encoder = new TextEncoder();
let pending = "";
let flushing = false;
const flush = async () => {
  if (flushing) return;
  flushing = true;
  while (pending.length > 0) {
    const chunk = pending;
    pending = "";
    await out.write(encoder.encode(chunk));
  }
  flushing = false;
};
watchView(registry, (id, online, t) => {
  pending += `v ${id} ${online ? "online" : "offline"} ${t}\n`;
  void flush();
});
const fc = await FleetConsole.connect({ broker: values.broker, registry });
pending += "ready\n";
await flush();
// Until the bench closes our stdin.
for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
await fc.close();
registry.close();
await flush();
