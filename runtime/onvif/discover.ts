/**
 * Finding cameras not yet added: WS-Discovery on the LAN and/or a scan of addresses the user
 * gives (for networks that drop multicast), then each found device asked who it is with the given
 * credentials. Bounded: at most MAX_SCAN_ADDRESSES addresses × MAX_SCAN_PORTS ports, SCAN_PARALLEL
 * at a time, each with its own timeout, and an overall deadline.
 */
import { onvifCam } from "./cam.ts";
import { probeCameras, type ProbeMatch } from "./ws_discovery.ts";

export const MAX_SCAN_ADDRESSES = 256;
export const MAX_SCAN_PORTS = 4;
const SCAN_PARALLEL = 16;
const DEVICE_PATH = "/onvif/device_service";

export interface DiscoverRequest {
  /** Send a WS-Discovery probe; default true. */
  readonly multicast?: boolean;
  /** Addresses to scan: "192.168.1.20", "192.168.1.10-192.168.1.40", "192.168.1.0/24". */
  readonly range?: string | null;
  /** Ports scanned at each address; default [80]. */
  readonly ports?: readonly number[];
  readonly username?: string | null;
  readonly password?: string | null;
  /** Per request and for the probe's replies; default 3000 ms. */
  readonly timeoutMs?: number;
  /** IPv4 address of the interface the probe leaves by. */
  readonly interfaceAddress?: string;
}

export interface DiscoveredCamera {
  /** host:port of its device service. */
  readonly address: string;
  readonly deviceUrl: string;
  /** How it was found. */
  readonly via: "ws-discovery" | "scan";
  /** WS-Discovery endpoint (urn:uuid:…); null from a scan. */
  readonly endpoint: string | null;
  readonly vendor: string | null;
  readonly model: string | null;
  readonly serial: string | null;
  readonly firmware: string | null;
  /** From the discovery scopes, when it said. */
  readonly name: string | null;
  /** "ok": GetDeviceInformation answered with these credentials; "refused": it did not. */
  readonly credentials: "ok" | "refused";
  readonly error: string | null;
}

/** A found device that a configured camera without ONVIF may be. */
export interface WithoutOnvif {
  /** The configured camera's id. */
  readonly camera: string;
  /** host:port of the device service found. */
  readonly address: string;
  readonly deviceUrl: string;
}

export interface DiscoverResult {
  readonly cameras: DiscoveredCamera[];
  /** Found but already configured (by ONVIF address, or a camera without one at the same host). */
  readonly alreadyAdded: string[];
  /**
   * Devices found at the host of a camera configured by its RTSP URL only (no `onvif`): that
   * camera's ONVIF device service, most likely. Linking it (PATCH /api/cameras/<camera> with
   * `onvif: { url: deviceUrl, … }`) gives the camera its identity, events, PTZ and clock check.
   * Several cameras at one host (an encoder, a multi-sensor camera) each get a row.
   */
  readonly withoutOnvif: WithoutOnvif[];
  /** Replies ignored, with why (hostile or foreign). */
  readonly ignored: string[];
  readonly scanned: number;
}

export class DiscoverError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = "DiscoverError";
    this.field = field;
  }
}

function ipv4ToInt(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** The addresses of a range; throws DiscoverError naming the field and the limit. */
export function parseAddressRange(range: string): string[] {
  const bad = () =>
    new DiscoverError(
      "range",
      `range: ${JSON.stringify(range.slice(0, 60))} is not an IPv4 address, ` +
        `"first-last" or a CIDR block; e.g. "192.168.1.10-192.168.1.40" or "192.168.1.0/24"`,
    );
  let first: number | null;
  let last: number | null;
  const cidr = /^([\d.]+)\/(\d{1,2})$/.exec(range.trim());
  if (cidr) {
    const base = ipv4ToInt(cidr[1]!);
    const bits = Number(cidr[2]);
    if (base === null || bits > 32) throw bad();
    const size = 2 ** (32 - bits);
    first = Math.floor(base / size) * size;
    last = first + size - 1;
    if (bits <= 30) [first, last] = [first + 1, last - 1]; // network and broadcast
  } else {
    const [a = "", b] = range.split("-");
    first = ipv4ToInt(a);
    last = b === undefined ? first : ipv4ToInt(b);
  }
  if (first === null || last === null || last < first) throw bad();
  const count = last - first + 1;
  if (count > MAX_SCAN_ADDRESSES) {
    throw new DiscoverError(
      "range",
      `range: ${count} addresses; at most ${MAX_SCAN_ADDRESSES} are scanned at once: ` +
        "give a smaller range (e.g. a /24)",
    );
  }
  return Array.from({ length: count }, (_, i) => intToIpv4(first! + i));
}

const TIME_PROBE = `<?xml version="1.0" encoding="UTF-8"?>` +
  `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` +
  `<GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>`;

/** Whether an ONVIF device service answers at `url` (GetSystemDateAndTime needs no login). */
async function answersOnvif(url: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/soap+xml; charset=utf-8" },
      body: TIME_PROBE,
      redirect: "manual",
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
    const reader = res.body?.getReader();
    let text = "";
    // Read at most 16 KiB: whatever is there, a camera's answer is small.
    while (reader && text.length < 16 * 1024) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader?.cancel().catch(() => {});
    return /GetSystemDateAndTimeResponse/.test(text);
  } catch {
    return false;
  }
}

type Callback = (err: Error | null, data: unknown, xml?: string) => void;
interface InfoCam {
  getSystemDateAndTime(cb: Callback): void;
  getDeviceInformation(cb: Callback): void;
}

function field(xml: string, local: string): string | null {
  const m = new RegExp(`<(?:[\\w.-]+:)?${local}(?:\\s[^>]*)?>([^<]{0,256})</`).exec(xml);
  const v = m?.[1]?.trim();
  return v ? v.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&") : null;
}

async function identify(
  deviceUrl: string,
  req: DiscoverRequest,
  timeoutMs: number,
): Promise<
  Pick<DiscoveredCamera, "vendor" | "model" | "serial" | "firmware" | "credentials" | "error">
> {
  const cam = onvifCam<InfoCam>(new URL(deviceUrl), {
    username: req.username ?? null,
    password: req.password ?? null,
    timeoutMs,
  });
  const call = (f: (cb: Callback) => void) =>
    new Promise<string>((resolve, reject) => f((e, _d, xml) => e ? reject(e) : resolve(xml ?? "")));
  try {
    await call((cb) => cam.getSystemDateAndTime(cb)).catch(() => "");
    const xml = await call((cb) => cam.getDeviceInformation(cb));
    return {
      vendor: field(xml, "Manufacturer"),
      model: field(xml, "Model"),
      serial: field(xml, "SerialNumber"),
      firmware: field(xml, "FirmwareVersion"),
      credentials: "ok",
      error: null,
    };
  } catch (err) {
    return {
      vendor: null,
      model: null,
      serial: null,
      firmware: null,
      credentials: "refused",
      error: `GetDeviceInformation: ${(err as Error).message}`.slice(0, 300),
    };
  }
}

/** The configured cameras as discovery needs them, to leave out those already added. */
export interface KnownCamera {
  /** The camera's id; absent: not offered in `withoutOnvif`. */
  readonly id?: string;
  readonly url: string;
  readonly onvifUrl: string | null;
}

/** Rows of `withoutOnvif` at most (a /24 of one camera's host is 256 devices). */
const MAX_WITHOUT_ONVIF = 64;

function hostnameOf(url: string): string | null {
  try {
    return new URL(url).hostname;
  } catch {
    return null;
  }
}

function hostPort(u: URL): string {
  return `${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
}

export async function discoverCameras(
  req: DiscoverRequest,
  known: readonly KnownCamera[],
  probe: typeof probeCameras = probeCameras,
): Promise<DiscoverResult> {
  const timeoutMs = Math.min(Math.max(req.timeoutMs ?? 3000, 200), 10_000);
  const ports = req.ports ?? [80];
  if (
    ports.length === 0 || ports.length > MAX_SCAN_PORTS ||
    ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)
  ) {
    throw new DiscoverError(
      "ports",
      `ports: give 1 to ${MAX_SCAN_PORTS} port numbers, e.g. [80, 8080]`,
    );
  }
  const addresses = req.range ? parseAddressRange(req.range) : [];
  if (req.multicast === false && addresses.length === 0) {
    throw new DiscoverError("range", "range: give addresses to scan, or allow the multicast probe");
  }
  const ignored: string[] = [];
  // Overall deadline: the probe, the scan in rounds of SCAN_PARALLEL, the identification.
  const targets = addresses.flatMap((a) => ports.map((p) => `http://${a}:${p}${DEVICE_PATH}`));
  const rounds = Math.ceil(targets.length / SCAN_PARALLEL);
  const deadline = AbortSignal.timeout(timeoutMs * (rounds + 3) + 1000);

  const found = new Map<
    string,
    { url: string; via: DiscoveredCamera["via"]; match?: ProbeMatch }
  >();
  const probing = req.multicast === false ? Promise.resolve([]) : probe({
    timeoutMs,
    signal: deadline,
    onIgnored: (from, why) => ignored.length < 32 && ignored.push(`${from}: ${why}`),
    ...(req.interfaceAddress ? { interfaceAddress: req.interfaceAddress } : {}),
  });
  const scanned: string[] = [];
  for (let i = 0; i < targets.length && !deadline.aborted; i += SCAN_PARALLEL) {
    const batch = targets.slice(i, i + SCAN_PARALLEL);
    const ok = await Promise.all(batch.map((u) => answersOnvif(u, timeoutMs, deadline)));
    batch.forEach((u, j) => ok[j] && scanned.push(u));
  }
  for (const match of await probing) {
    const url = match.xaddrs[0]!;
    found.set(hostPort(new URL(url)), { url, via: "ws-discovery", match });
  }
  for (const url of scanned) {
    const key = hostPort(new URL(url));
    if (!found.has(key)) found.set(key, { url, via: "scan" });
  }

  const knownOnvif = new Set(
    known.flatMap((k) => k.onvifUrl ? [hostPort(new URL(k.onvifUrl))] : []),
  );
  const knownHosts = new Set(
    known.flatMap((k) => {
      if (k.onvifUrl) return [];
      try {
        return [new URL(k.url).hostname];
      } catch {
        return [];
      }
    }),
  );
  const alreadyAdded: string[] = [];
  const withoutOnvif: WithoutOnvif[] = [];
  const fresh = [...found.entries()].filter(([key, f]) => {
    const host = new URL(f.url).hostname;
    const added = knownOnvif.has(key) || knownHosts.has(host);
    if (added) alreadyAdded.push(key);
    if (!knownOnvif.has(key) && knownHosts.has(host)) {
      for (const k of known) {
        if (k.onvifUrl || k.id === undefined || hostnameOf(k.url) !== host) continue;
        if (withoutOnvif.length < MAX_WITHOUT_ONVIF) {
          withoutOnvif.push({ camera: k.id, address: key, deviceUrl: f.url });
        }
      }
    }
    return !added;
  });
  const cameras = await Promise.all(fresh.map(async ([key, f]): Promise<DiscoveredCamera> => {
    const who = await identify(f.url, req, timeoutMs);
    return {
      address: key,
      deviceUrl: f.url,
      via: f.via,
      endpoint: f.match?.endpoint ?? null,
      ...who,
      model: who.model ?? f.match?.hardware ?? null,
      name: f.match?.name ?? null,
    };
  }));
  cameras.sort((a, b) => a.address.localeCompare(b.address));
  withoutOnvif.sort((a, b) =>
    a.camera.localeCompare(b.camera) || a.address.localeCompare(b.address)
  );
  return {
    cameras,
    alreadyAdded: alreadyAdded.sort(),
    withoutOnvif,
    ignored,
    scanned: targets.length,
  };
}
