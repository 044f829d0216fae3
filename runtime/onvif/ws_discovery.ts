/**
 * WS-Discovery (ONVIF Core §7) for cameras: one SOAP Probe for `dn:NetworkVideoTransmitter` to
 * 239.255.255.250:3702 from the box, ProbeMatches collected for a bounded time.
 *
 * Why not npm:onvif's `Discovery.probe`: it is a module-level event emitter (state shared by every
 * caller), has no cap on what it parses, takes any XAddr a reply names (another host's included),
 * turns a bogus XAddr into an exception thrown from a timer (the process dies), cannot tell the
 * kernel which interface the multicast leaves by (it binds an address, which does not set
 * IP_MULTICAST_IF), and does not check RelatesTo. Here: node:dgram (works in Deno without
 * unstable flags; `setMulticastInterface` picks the interface) and a parser that reads only what
 * it needs from a reply and refuses anything hostile (see `parseProbeMatches`).
 */
import dgram from "node:dgram";

export const WS_DISCOVERY_ADDRESS = "239.255.255.250";
export const WS_DISCOVERY_PORT = 3702;
/** A ProbeMatches bigger than this is ignored (real cameras send 1–4 KiB). */
export const MAX_REPLY_BYTES = 16 * 1024;
/** Matches read from one reply, XAddrs from one match, devices from one probe. */
export const MAX_MATCHES_PER_REPLY = 4;
export const MAX_XADDRS = 8;
export const MAX_DEVICES = 64;

/** One camera that answered. */
export interface ProbeMatch {
  /** wsa:EndpointReference/Address, e.g. urn:uuid:…; identifies the device across addresses. */
  readonly endpoint: string;
  /** Device service URLs on the host that sent the reply (others are dropped). */
  readonly xaddrs: readonly string[];
  /** ONVIF scopes, e.g. onvif://www.onvif.org/name/cam1. */
  readonly scopes: readonly string[];
  /** From the scopes `…/name/<x>` and `…/hardware/<x>`; null when absent. */
  readonly name: string | null;
  readonly hardware: string | null;
  /** The IPv4 address the reply came from. */
  readonly from: string;
}

export interface ProbeOptions {
  /** How long to collect replies; default 3000 ms, at most 10 000. */
  readonly timeoutMs?: number;
  /** The IPv4 address of the interface the probe leaves by; default: the kernel's route. */
  readonly interfaceAddress?: string;
  /** Replies ignored, with why (tests, logs). */
  readonly onIgnored?: (from: string, why: string) => void;
  readonly signal?: AbortSignal;
}

export function probeMessage(messageId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>` +
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" ` +
    `xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
    `xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" ` +
    `xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>` +
    `<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>` +
    `<a:MessageID>${messageId}</a:MessageID>` +
    `<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>` +
    `</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe>` +
    `</s:Body></s:Envelope>`;
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decode(text: string): string {
  // Only the five predefined entities and numeric ones: a reply cannot define any (no DOCTYPE).
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|lt|gt|amp|quot|apos);/gi, (all, e: string) => {
    if (e[0] !== "#") return ENTITIES[e.toLowerCase()] ?? all;
    const cp = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : "";
  }).trim();
}

/** Texts of the elements with this local name (any prefix, no nested elements), at most `max`. */
function texts(xml: string, local: string, max: number): string[] {
  const re = new RegExp(
    `<(?:[\\w.-]{1,32}:)?${local}(?:\\s[^<>]{0,512})?>([^<]{0,4096})</(?:[\\w.-]{1,32}:)?${local}\\s*>`,
    "g",
  );
  const out: string[] = [];
  for (const m of xml.matchAll(re)) {
    out.push(decode(m[1] ?? ""));
    if (out.length >= max) break;
  }
  return out;
}

function scopeValue(scopes: readonly string[], kind: string): string | null {
  const prefix = `onvif://www.onvif.org/${kind}/`;
  const s = scopes.find((x) => x.startsWith(prefix));
  if (s === undefined) return null;
  try {
    return decodeURIComponent(s.slice(prefix.length)).slice(0, 128) || null;
  } catch {
    return s.slice(prefix.length).slice(0, 128) || null;
  }
}

/**
 * The matches in one reply from `from` to the probe `messageId`, or a reason it is ignored:
 * too big, a DOCTYPE or entity declaration (entity expansion), not a ProbeMatches, not an answer
 * to this probe (RelatesTo), or no XAddr on the sending host (a reply may not send the box to
 * another host: that would make discovery a way to reach any address, e.g. on the internet).
 */
export function parseProbeMatches(
  bytes: Uint8Array | string,
  from: string,
  messageId: string,
): ProbeMatch[] | { ignored: string } {
  const size = typeof bytes === "string" ? new TextEncoder().encode(bytes).length : bytes.length;
  if (size > MAX_REPLY_BYTES) {
    return { ignored: `reply of ${size} bytes (at most ${MAX_REPLY_BYTES})` };
  }
  let xml: string;
  try {
    xml = typeof bytes === "string"
      ? bytes
      : new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { ignored: "reply is not UTF-8" };
  }
  if (/<!DOCTYPE|<!ENTITY|<!\[CDATA\[/i.test(xml)) {
    return { ignored: "reply declares a DOCTYPE, entities or CDATA" };
  }
  if (!/<(?:[\w.-]{1,32}:)?ProbeMatches[\s>]/.test(xml)) return { ignored: "not a ProbeMatches" };
  const relatesTo = texts(xml, "RelatesTo", 1)[0];
  if (relatesTo !== messageId) return { ignored: "RelatesTo is not this probe's MessageID" };
  const blocks = [
    ...xml.matchAll(
      /<(?:[\w.-]{1,32}:)?ProbeMatch[\s>][\s\S]*?<\/(?:[\w.-]{1,32}:)?ProbeMatch\s*>/g,
    ),
  ].slice(0, MAX_MATCHES_PER_REPLY);
  const matches: ProbeMatch[] = [];
  const dropped: string[] = [];
  for (const [block] of blocks) {
    const endpoint = texts(block, "Address", 1)[0];
    const xaddrs = (texts(block, "XAddrs", 1)[0] ?? "").split(/\s+/).filter((x) => x !== "")
      .slice(0, MAX_XADDRS);
    const local = xaddrs.filter((x) => {
      try {
        const u = new URL(x);
        const ok = (u.protocol === "http:" || u.protocol === "https:") && u.hostname === from &&
          u.username === "" && u.password === "";
        if (!ok) dropped.push(x.slice(0, 100));
        return ok;
      } catch {
        dropped.push(x.slice(0, 100));
        return false;
      }
    });
    if (!endpoint || local.length === 0) continue;
    const scopes = (texts(block, "Scopes", 1)[0] ?? "").split(/\s+/).filter((x) => x !== "")
      .slice(0, 32);
    matches.push({
      endpoint: endpoint.slice(0, 256),
      xaddrs: local,
      scopes,
      name: scopeValue(scopes, "name"),
      hardware: scopeValue(scopes, "hardware"),
      from,
    });
  }
  if (matches.length === 0) {
    return {
      ignored: dropped.length > 0
        ? `no XAddr on ${from} (${dropped.join(", ")})`
        : "no ProbeMatch with an endpoint and an XAddr",
    };
  }
  return matches;
}

/** Sends one Probe and collects answers for `timeoutMs`; never throws for a bad reply. */
export async function probeCameras(opts: ProbeOptions = {}): Promise<ProbeMatch[]> {
  const timeoutMs = Math.min(Math.max(opts.timeoutMs ?? 3000, 100), 10_000);
  const messageId = `urn:uuid:${crypto.randomUUID()}`;
  const socket = dgram.createSocket({ type: "udp4" });
  const found = new Map<string, ProbeMatch>();
  const done = Promise.withResolvers<void>();
  const finish = () => done.resolve();
  socket.on("error", (err) => done.reject(err));
  done.promise.catch(() => {}); // awaited below; a bind error is thrown from there instead
  socket.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
    if (found.size >= MAX_DEVICES) return;
    const parsed = parseProbeMatches(msg, rinfo.address, messageId);
    if ("ignored" in parsed) {
      opts.onIgnored?.(rinfo.address, parsed.ignored);
      return;
    }
    for (const m of parsed) if (!found.has(m.endpoint)) found.set(m.endpoint, m);
  });
  const timer = setTimeout(finish, timeoutMs);
  opts.signal?.addEventListener("abort", finish, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, opts.interfaceAddress ?? "0.0.0.0", () => resolve());
    });
    if (opts.interfaceAddress) socket.setMulticastInterface(opts.interfaceAddress);
    socket.setMulticastTTL(1); // the LAN segment only
    const body = new TextEncoder().encode(probeMessage(messageId));
    await new Promise<void>((resolve, reject) =>
      socket.send(
        body,
        WS_DISCOVERY_PORT,
        WS_DISCOVERY_ADDRESS,
        (err) => err ? reject(err) : resolve(),
      )
    );
    await done.promise;
  } catch (err) {
    throw new Error(
      `WS-Discovery probe to ${WS_DISCOVERY_ADDRESS}:${WS_DISCOVERY_PORT} failed: ` +
        `${(err as Error).message}. Check that the box has a network with multicast, or scan an ` +
        "address range instead.",
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", finish);
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
  return [...found.values()];
}
