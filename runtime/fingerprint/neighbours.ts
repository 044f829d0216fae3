/**
 * The kernel's IPv4 neighbour table (`/proc/net/arp`): the MAC of a camera on the same LAN
 * segment, for cameras that do not answer ONVIF. An entry exists only after the box has talked to
 * that address (recording does), and a camera behind a router shows the router's MAC, so this is
 * a hint with its source, never a binding.
 */
import { readTextOrNull } from "./read_text.ts";

/** IPv4 address → lower-case MAC, complete entries only (flags 0x2), all-zero MACs skipped. */
export function parseArpTable(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n").slice(1)) {
    const [ip, _hwType, flags, mac] = line.trim().split(/\s+/);
    if (!ip || !flags || !mac) continue;
    if ((parseInt(flags, 16) & 0x2) === 0) continue; // incomplete: no answer yet
    const m = mac.toLowerCase();
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(m) || m === "00:00:00:00:00:00") continue;
    out.set(ip, m);
  }
  return out;
}

/** The neighbour table under `procRoot` (default "/proc"); empty when it cannot be read. */
export async function readNeighbours(procRoot = "/proc"): Promise<{
  readonly path: string;
  readonly macs: Map<string, string>;
}> {
  const path = `${procRoot}/net/arp`;
  const text = await readTextOrNull(path);
  return { path, macs: text === null ? new Map() : parseArpTable(text) };
}
