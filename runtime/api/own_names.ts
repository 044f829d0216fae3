/**
 * The names and addresses this box answers to on the LAN: what a browser may put in `Host` and
 * `Origin` (lan_guard.ts). Anything else is a DNS-rebinding page or a misdirected request.
 */

export interface OwnNamesOptions {
  /** The host part of http.listen ("0.0.0.0", "192.168.1.5", "nvr.lan"). */
  readonly listenHost: string;
  /** http.allowedHosts: extra names, e.g. a DNS name of the box. */
  readonly extra?: readonly string[];
  /** The machine's hostname; default Deno.hostname(). */
  readonly hostname?: () => string;
  /** Addresses of the network interfaces; default Deno.networkInterfaces(). */
  readonly addresses?: () => readonly string[];
}

/** Lower case, no IPv6 brackets, no trailing dot, no IPv6 zone: the form the guard compares. */
export function normalHost(name: string): string {
  return name.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "")
    .replace(/\.$/, "");
}

/** The set of own names now: loopback, listen address, hostname(.local), interfaces, extras. */
export function ownNames(o: OwnNamesOptions): Set<string> {
  const names = new Set(["localhost", "127.0.0.1", "::1"]);
  const add = (n: string) => {
    const v = normalHost(n);
    if (v !== "") names.add(v);
  };
  if (o.listenHost !== "0.0.0.0" && o.listenHost !== "::") add(o.listenHost);
  for (const n of o.extra ?? []) add(n);
  try {
    const host = normalHost((o.hostname ?? Deno.hostname)());
    if (host) {
      names.add(host);
      const short = host.split(".")[0] ?? host;
      names.add(`${short}.local`);
      names.add(short);
    }
  } catch { /* no hostname permission or none set: loopback and addresses still count */ }
  try {
    const addresses = o.addresses ?? (() => Deno.networkInterfaces().map((i) => i.address));
    for (const a of addresses()) add(a);
  } catch { /* as above */ }
  return names;
}

/**
 * ownNames, computed again at most every `refreshMs` (addresses change with DHCP; reading the
 * interfaces on every request would cost a syscall each).
 */
export function cachedOwnNames(
  o: OwnNamesOptions,
  refreshMs = 10_000,
  now: () => number = Date.now,
): () => ReadonlySet<string> {
  let names = ownNames(o);
  let at = now();
  return () => {
    if (now() - at > refreshMs) {
      names = ownNames(o);
      at = now();
    }
    return names;
  };
}
