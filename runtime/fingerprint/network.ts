/**
 * Network controllers: `/sys/class/net/<name>/address` for every interface backed by a device
 * (`device/` exists: PCI, USB, SoC, SDIO), minus the names of virtual ones (lo, docker*, veth*,
 * br-*, virbr*, …) in case a driver exposes a device for them. IP addresses come from
 * `Deno.networkInterfaces()` (injectable) at collection time.
 */
import { exists, listDir, readTextOrNull, readValue } from "./read_text.ts";
import type { MacType, NicFingerprint, Sourced } from "./types.ts";

const VIRTUAL_NIC = /^(lo|docker|veth|br-|virbr|vnet|tun|tap|wg|tailscale|zt|dummy|ifb|bond)/;

const MAC_TYPES: Record<string, MacType> = {
  "0": "permanent",
  "1": "random",
  "2": "stolen",
  "3": "set",
};

/** Where the interfaces' IPs come from; `Deno.networkInterfaces` on a real box. */
export type InterfaceLister = () => readonly Deno.NetworkInterfaceInfo[];

/** Names of physical network interfaces under `<sysRoot>/class/net`, sorted. */
export async function listPhysicalNics(sysRoot: string): Promise<string[]> {
  const kept: string[] = [];
  for (const name of await listDir(`${sysRoot}/class/net`)) {
    if (VIRTUAL_NIC.test(name)) continue;
    if (!(await exists(`${sysRoot}/class/net/${name}/device`))) continue;
    kept.push(name);
  }
  return kept;
}

/** Bus from the controller's modalias ("pci:v00008086…" → "pci", "of:N…" → "of"). */
async function readBus(deviceDir: string): Promise<string | null> {
  const uevent = await readTextOrNull(`${deviceDir}/uevent`);
  const line = uevent?.split("\n").find((l) => l.startsWith("MODALIAS="));
  const modalias = line !== undefined
    ? line.slice("MODALIAS=".length)
    : await readValue(`${deviceDir}/modalias`);
  const m = modalias?.match(/^([a-z0-9_]+):/);
  return m?.[1] ?? null;
}

/** Every physical NIC with MAC and current addresses, sorted by name. */
export async function readNics(
  sysRoot: string,
  interfaces: InterfaceLister,
): Promise<NicFingerprint[]> {
  let infos: readonly Deno.NetworkInterfaceInfo[] = [];
  try {
    infos = interfaces();
  } catch {
    infos = []; // no --allow-sys: MACs still bind, addresses are just not reported
  }
  const nics: NicFingerprint[] = [];
  for (const name of await listPhysicalNics(sysRoot)) {
    const dir = `${sysRoot}/class/net/${name}`;
    const mac = (await readValue(`${dir}/address`))?.toLowerCase() ?? null;
    if (mac === null || /^(00:)+00$/.test(mac)) continue;
    const addresses: Sourced[] = infos
      .filter((i) => i.name === name)
      .map((i) => ({ value: i.address, source: "Deno.networkInterfaces()" }))
      .sort((a, b) => a.value < b.value ? -1 : a.value > b.value ? 1 : 0);
    nics.push({
      name,
      mac: { value: mac, source: `${dir}/address` },
      macType: MAC_TYPES[(await readValue(`${dir}/addr_assign_type`)) ?? ""] ?? "unknown",
      bus: await readBus(`${dir}/device`),
      addresses,
    });
  }
  return nics;
}
