/**
 * The box's own IPv4 interfaces a WS-Discovery probe may leave by (`interface` of a discover
 * request, the Find cameras page's choice): from Deno.networkInterfaces(), the loopback left out.
 * A name or an address that is not one of them is refused, listing those that are.
 */
import { DiscoverError } from "./discover.ts";

export interface BoxInterface {
  /** e.g. "eth0". */
  readonly name: string;
  /** Its IPv4 address, e.g. "192.168.1.5". */
  readonly address: string;
}

/** The box's IPv4 interfaces, loopback excluded, in the order the system lists them. */
export function boxInterfaces(
  list: readonly Deno.NetworkInterfaceInfo[] = Deno.networkInterfaces(),
): BoxInterface[] {
  return list
    .filter((i) => i.family === "IPv4" && !i.address.startsWith("127."))
    .map((i) => ({ name: i.name, address: i.address }));
}

/** The IPv4 address a probe leaves by for `value` (an interface name or one of the box's IPv4s). */
export function resolveInterface(
  value: string,
  list: readonly Deno.NetworkInterfaceInfo[] = Deno.networkInterfaces(),
): string {
  const mine = boxInterfaces(list);
  const hit = mine.find((i) => i.address === value) ?? mine.find((i) => i.name === value);
  if (hit) return hit.address;
  const valid = mine.map((i) => `${i.name} (${i.address})`).join(", ") ||
    "none: the box has no IPv4 address besides the loopback";
  throw new DiscoverError(
    "interface",
    `interface: ${JSON.stringify(value.slice(0, 64))} is not one of the box's interfaces or ` +
      `IPv4 addresses; use one of: ${valid}`,
  );
}
