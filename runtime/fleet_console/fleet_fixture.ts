/**
 * For console tests: a real Mosquitto, a console with its registry in a temp folder, and simulated
 * boxes (the daemon's real fleet link), ready once every box is online with its health.
 */
import { Mosquitto } from "../testing/mosquitto.ts";
import { waitUntil } from "../testing/fleet_kit.ts";
import { FleetConsole } from "./console.ts";
import { Registry } from "./registry.ts";
import {
  type SimulatedBox,
  type SimulatedFleet,
  simulateFleet,
  type SimulateOptions,
} from "./simulate.ts";

export interface FleetFixture extends AsyncDisposable {
  readonly broker: Mosquitto;
  readonly registry: Registry;
  readonly console: FleetConsole;
  readonly fleet: SimulatedFleet;
  /** Temp folder, removed on dispose. */
  readonly dir: string;
  box(id: string): SimulatedBox;
}

export async function startFleetFixture(
  options: Omit<SimulateOptions, "broker">,
): Promise<FleetFixture> {
  const broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-console-" });
  const registry = new Registry(`${dir}/registry.db`);
  const console = await FleetConsole.connect({ broker: broker.url, registry });
  const fleet = await simulateFleet({ broker: broker.url, ...options });
  await waitUntil("every box online in the registry", () => {
    const rows = registry.list();
    return rows.length === options.devices &&
      rows.every((r) => r.state === "online" && r.health !== null && r.fingerprintHash !== null);
  }, 30_000);
  return {
    broker,
    registry,
    console,
    fleet,
    dir,
    box: (id: string) => fleet.boxes.find((b) => b.id === id)!,
    async [Symbol.asyncDispose]() {
      await fleet.stop();
      await console.close();
      registry.close();
      await broker[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
