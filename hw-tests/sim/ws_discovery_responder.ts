/**
 * The virtual camera's WS-Discovery target service: joins 239.255.255.250 on the camera's own
 * address, answers a Probe for NetworkVideoTransmitter (or for no type) with a ProbeMatches
 * naming its device service. Started only with `--discovery`, and the tests run it inside a
 * network namespace of their own: it must never answer on a real network.
 */
import dgram from "node:dgram";
import { xmlEscape } from "./onvif_service.ts";

export interface DiscoveryResponderOptions {
  /** The address the camera listens on (its ONVIF XAddr host), e.g. "127.0.0.1". */
  readonly hostname: string;
  readonly deviceUrl: string;
  /** urn:uuid:… kept for the camera's life. */
  readonly endpoint: string;
  readonly scopes: readonly string[];
}

export interface DiscoveryResponder {
  close(): Promise<void>;
}

const TYPES = /<(?:[\w.-]+:)?Types[^>]*>([^<]*)</;

/** The reply to one Probe, or null when the probe asks for other types. */
export function probeReply(probe: string, opts: DiscoveryResponderOptions): string | null {
  const messageId = /<(?:[\w.-]+:)?MessageID[^>]*>([^<]*)</.exec(probe)?.[1]?.trim();
  if (!messageId || !/<(?:[\w.-]+:)?Probe[\s>/]/.test(probe)) return null;
  const types = TYPES.exec(probe)?.[1]?.trim() ?? "";
  if (types !== "" && !/NetworkVideoTransmitter/.test(types)) return null;
  return `<?xml version="1.0" encoding="UTF-8"?>` +
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" ` +
    `xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
    `xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" ` +
    `xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>` +
    `<a:MessageID>urn:uuid:${crypto.randomUUID()}</a:MessageID>` +
    `<a:RelatesTo>${xmlEscape(messageId)}</a:RelatesTo>` +
    `<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>` +
    `<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action>` +
    `</s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>` +
    `<a:EndpointReference><a:Address>${
      xmlEscape(opts.endpoint)
    }</a:Address></a:EndpointReference>` +
    `<d:Types>dn:NetworkVideoTransmitter</d:Types>` +
    `<d:Scopes>${xmlEscape(opts.scopes.join(" "))}</d:Scopes>` +
    `<d:XAddrs>${xmlEscape(opts.deviceUrl)}</d:XAddrs>` +
    `<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>`;
}

export async function startDiscoveryResponder(
  opts: DiscoveryResponderOptions,
): Promise<DiscoveryResponder> {
  const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(3702, "0.0.0.0", () => resolve());
  });
  socket.addMembership("239.255.255.250", opts.hostname);
  socket.on("error", () => {});
  socket.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
    if (msg.length > 8192) return;
    const reply = probeReply(new TextDecoder().decode(msg), opts);
    if (reply !== null) socket.send(new TextEncoder().encode(reply), rinfo.port, rinfo.address);
  });
  return {
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
