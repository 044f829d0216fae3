/**
 * Minimal ONVIF Profile S device + media (ver10) service: SOAP 1.2 over HTTP on
 * Deno.serve, plus `GET /snapshot.jpg`. Enough for NVR discovery code and for
 * the `onvif` npm client (connect, device info, profiles, stream/snapshot URIs).
 *
 * Auth, when credentials are configured:
 * - SOAP: WS-Security UsernameToken with PasswordDigest (or HTTP Digest/Basic)
 *   on every action except GetSystemDateAndTime; failures get the ONVIF fault
 *   env:Sender/ter:NotAuthorized with HTTP 400 (ONVIF Core 5.12).
 * - /snapshot.jpg: HTTP Digest or Basic (401 with both challenges otherwise).
 */
import { createHttpAuth, type HttpAuth } from "./http_auth.ts";
import {
  createEventsService,
  EVENT_HOOK_PATH,
  EVENTS_PATH,
  type EventsService,
  type EventsSimOptions,
  type SimEvent,
} from "./onvif_events.ts";

export type OnvifEncoding = "H264" | "H265";

export interface OnvifDeviceInfo {
  readonly manufacturer: string;
  readonly model: string;
  readonly firmwareVersion: string;
  readonly serialNumber: string;
  readonly hardwareId: string;
}

/** One media profile = one RTSP stream. */
export interface OnvifStreamProfile {
  /** Profile token, e.g. "main" / "sub". */
  readonly token: string;
  readonly name: string;
  readonly encoding: OnvifEncoding;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly bitrateKbps: number;
  /** Keyframe interval in frames. */
  readonly govLength: number;
  readonly rtspUri: string;
}

export interface OnvifServiceOptions {
  /** Default "127.0.0.1". */
  readonly hostname?: string;
  readonly port: number;
  readonly device: OnvifDeviceInfo;
  /** Shown by GetHostname and in the scopes. */
  readonly name: string;
  readonly profiles: readonly OnvifStreamProfile[];
  readonly credentials?: { readonly user: string; readonly password: string };
  /** Produces a JPEG for GET /snapshot.jpg. */
  readonly snapshot: () => Promise<Uint8Array>;
  /** Accepted |server clock − Created| for WS-Security, default 300 s. */
  readonly maxClockSkewSec?: number;
  /** An events service (PullPoint, see onvif_events.ts); absent: the camera has none. */
  readonly events?: EventsSimOptions;
  /** A PTZ service (onvif_ptz.ts): announced by GetServices/GetCapabilities, in every profile. */
  readonly ptz?: OnvifPtzExtension;
  /** The device clock is this many ms ahead of the host's (negative: behind); default 0. */
  readonly clockOffsetMs?: number;
}

/** What a PTZ service adds to the device: its actions and the profiles' PTZConfiguration. */
export interface OnvifPtzExtension {
  /** `<tt:PTZConfiguration …>…</tt:PTZConfiguration>`, put into every media profile. */
  readonly profileConfiguration: string;
  /** SOAP actions by local name, answered at PTZ_PATH (and, like the rest, at any /onvif/ path). */
  readonly handlers: Readonly<Record<string, (xml: string) => Response>>;
}

export interface OnvifService {
  readonly port: number;
  /** http://host:port/onvif/device_service */
  readonly deviceUrl: string;
  readonly mediaUrl: string;
  readonly snapshotUrl: string;
  /** Raises an event (throws when the service was started without events). */
  raiseEvent(event: SimEvent): void;
  shutdown(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const NS = {
  soap: "http://www.w3.org/2003/05/soap-envelope",
  tds: "http://www.onvif.org/ver10/device/wsdl",
  trt: "http://www.onvif.org/ver10/media/wsdl",
  tt: "http://www.onvif.org/ver10/schema",
  ter: "http://www.onvif.org/ver10/error",
  tptz: "http://www.onvif.org/ver20/ptz/wsdl",
} as const;

const PASSWORD_DIGEST_TYPE =
  "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";

/**
 * Actions answered without credentials. ONVIF Core marks a few more PRE_AUTH
 * (GetServices, GetCapabilities, …); we are stricter on purpose so NVR code
 * must authenticate everything else.
 */
const PRE_AUTH_ACTIONS: ReadonlySet<string> = new Set(["GetSystemDateAndTime"]);

const SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8";
const DEVICE_PATH = "/onvif/device_service";
const MEDIA_PATH = "/onvif/media_service";
const SNAPSHOT_PATH = "/snapshot.jpg";
export const PTZ_PATH = "/onvif/ptz_service";

export function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  )
    .replace(/'/g, "&apos;");
}

function xmlUnescape(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#x[0-9a-fA-F]+|#\d+);/g, (_m, e: string) => {
    switch (e) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "quot":
        return '"';
      case "apos":
        return "'";
      case "amp":
        return "&";
      default:
        return String.fromCodePoint(
          e.startsWith("#x") ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10),
        );
    }
  });
}

/** Text of the first element with this local name (any prefix), or undefined. */
export function elementText(xml: string, localName: string): string | undefined {
  const re = new RegExp(
    `<(?:[\\w.-]+:)?${localName}(?:\\s[^>]*)?>([^<]*)</(?:[\\w.-]+:)?${localName}\\s*>`,
  );
  const m = re.exec(xml);
  return m?.[1] === undefined ? undefined : xmlUnescape(m[1].trim());
}

/** Attributes string of the first element with this local name, or undefined. */
export function elementAttrs(xml: string, localName: string): string | undefined {
  const re = new RegExp(`<(?:[\\w.-]+:)?${localName}(\\s[^>]*)?/?>`);
  const m = re.exec(xml);
  return m === null ? undefined : (m[1] ?? "");
}

/** Local name of the first child of soap:Body — the action — or undefined. */
export function soapAction(xml: string): string | undefined {
  const m = /<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)/.exec(xml);
  return m?.[1];
}

/** PasswordDigest = Base64(SHA-1(nonce bytes + Created + password)). */
export async function wsseDigest(
  nonceB64: string,
  created: string,
  password: string,
): Promise<string> {
  const nonce = Uint8Array.from(atob(nonceB64), (c) => c.charCodeAt(0));
  const tail = new TextEncoder().encode(created + password);
  const buf = new Uint8Array(nonce.length + tail.length);
  buf.set(nonce, 0);
  buf.set(tail, nonce.length);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", buf));
  return btoa(String.fromCharCode(...hash));
}

function envelope(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<soap:Envelope xmlns:soap="${NS.soap}" xmlns:tds="${NS.tds}" xmlns:trt="${NS.trt}" ` +
    `xmlns:tt="${NS.tt}" xmlns:ter="${NS.ter}" xmlns:tptz="${NS.tptz}"><soap:Body>${body}</soap:Body></soap:Envelope>`;
}

export function soapResponse(body: string, status = 200): Response {
  return new Response(envelope(body), { status, headers: { "content-type": SOAP_CONTENT_TYPE } });
}

/** A SOAP 1.2 fault; HTTP 400 for env:Sender, 500 for env:Receiver (SOAP 1.2 HTTP binding). */
export function soapFault(code: "Sender" | "Receiver", subcode: string, reason: string): Response {
  const body = `<soap:Fault><soap:Code><soap:Value>soap:${code}</soap:Value>` +
    `<soap:Subcode><soap:Value>${subcode}</soap:Value></soap:Subcode></soap:Code>` +
    `<soap:Reason><soap:Text xml:lang="en">${
      xmlEscape(reason)
    }</soap:Text></soap:Reason></soap:Fault>`;
  return soapResponse(body, code === "Sender" ? 400 : 500);
}

export function tag(name: string, value: string | number | boolean): string {
  return `<${name}>${typeof value === "string" ? xmlEscape(value) : String(value)}</${name}>`;
}

/** Pseudo MAC derived from the serial number (locally administered bit set). */
function macFromSerial(serial: string): string {
  const bytes = [0x02, 0, 0, 0, 0, 0];
  for (let i = 0; i < serial.length; i++) {
    const idx = 1 + (i % 5);
    bytes[idx] = ((bytes[idx] ?? 0) * 31 + serial.charCodeAt(i)) & 0xff;
  }
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

interface Ctx {
  readonly opts: OnvifServiceOptions;
  readonly events: EventsService | null;
  readonly base: string;
  readonly snapshotUrl: string;
  /**
   * The device clock's offset from the host's (starts at opts.clockOffsetMs) and its NTP server:
   * SetNTP with a manual server "syncs" the clock at once (offset 0), as a camera that reaches it.
   */
  readonly clock: { offsetMs: number; ntp: { type: string; address: string } | null };
}

function profileXml(c: Ctx, p: OnvifStreamProfile, tagName: string): string {
  const src = c.opts.profiles[0] ?? p;
  const codecBlock = p.encoding === "H264"
    ? `<tt:H264>${tag("tt:GovLength", p.govLength)}${tag("tt:H264Profile", "Main")}</tt:H264>`
    : "";
  return `<${tagName} token="${xmlEscape(p.token)}" fixed="true">${tag("tt:Name", p.name)}` +
    `<tt:VideoSourceConfiguration token="VideoSourceConfig_1">${
      tag("tt:Name", "VideoSourceConfig_1")
    }` +
    `${tag("tt:UseCount", c.opts.profiles.length)}${tag("tt:SourceToken", "VideoSource_1")}` +
    `<tt:Bounds x="0" y="0" width="${src.width}" height="${src.height}"/></tt:VideoSourceConfiguration>` +
    `<tt:VideoEncoderConfiguration token="VideoEncoder_${xmlEscape(p.token)}">` +
    `${tag("tt:Name", `VideoEncoder_${p.token}`)}${tag("tt:UseCount", 1)}` +
    // Media1's tt:VideoEncoding lists only JPEG/MPEG4/H264; like many real
    // H.265 cameras we still report "H265" there for the HEVC stream.
    `${tag("tt:Encoding", p.encoding)}` +
    `<tt:Resolution>${tag("tt:Width", p.width)}${tag("tt:Height", p.height)}</tt:Resolution>` +
    `${tag("tt:Quality", 5)}<tt:RateControl>${tag("tt:FrameRateLimit", p.fps)}` +
    `${tag("tt:EncodingInterval", 1)}${tag("tt:BitrateLimit", p.bitrateKbps)}</tt:RateControl>` +
    codecBlock +
    `<tt:Multicast><tt:Address>${tag("tt:Type", "IPv4")}${
      tag("tt:IPv4Address", "0.0.0.0")
    }</tt:Address>` +
    `${tag("tt:Port", 0)}${tag("tt:TTL", 1)}${tag("tt:AutoStart", false)}</tt:Multicast>` +
    `${tag("tt:SessionTimeout", "PT60S")}</tt:VideoEncoderConfiguration>` +
    (c.opts.ptz?.profileConfiguration ?? "") + `</${tagName}>`;
}

function mediaUri(uri: string): string {
  return `${tag("tt:Uri", uri)}${tag("tt:InvalidAfterConnect", false)}` +
    `${tag("tt:InvalidAfterReboot", false)}${tag("tt:Timeout", "PT0S")}`;
}

function deviceCapabilities(c: Ctx): string {
  return `<tt:Device>${tag("tt:XAddr", c.base + DEVICE_PATH)}` +
    `<tt:Network>${tag("tt:IPFilter", false)}${tag("tt:ZeroConfiguration", false)}` +
    `${tag("tt:IPVersion6", false)}${tag("tt:DynDNS", false)}</tt:Network>` +
    `<tt:System>${tag("tt:DiscoveryResolve", false)}${tag("tt:DiscoveryBye", false)}` +
    `${tag("tt:RemoteDiscovery", false)}${tag("tt:SystemBackup", false)}${
      tag("tt:SystemLogging", false)
    }` +
    `${tag("tt:FirmwareUpgrade", false)}<tt:SupportedVersions>${tag("tt:Major", 2)}${
      tag("tt:Minor", 60)
    }` +
    `</tt:SupportedVersions></tt:System>` +
    `<tt:Security>${tag("tt:TLS1.1", false)}${tag("tt:TLS1.2", false)}${
      tag("tt:OnboardKeyGeneration", false)
    }` +
    `${tag("tt:AccessPolicyConfig", false)}${tag("tt:X.509Token", false)}${
      tag("tt:SAMLToken", false)
    }` +
    `${tag("tt:KerberosToken", false)}${tag("tt:RELToken", false)}</tt:Security></tt:Device>`;
}

function eventsCapabilities(c: Ctx): string {
  return c.events === null
    ? ""
    : `<tt:Events>${tag("tt:XAddr", c.base + EVENTS_PATH)}${
      tag("tt:WSSubscriptionPolicySupport", false)
    }` +
      `${tag("tt:WSPullPointSupport", true)}${
        tag("tt:WSPausableSubscriptionManagerInterfaceSupport", false)
      }</tt:Events>`;
}

function mediaCapabilities(c: Ctx): string {
  return `<tt:Media>${tag("tt:XAddr", c.base + MEDIA_PATH)}<tt:StreamingCapabilities>` +
    `${tag("tt:RTPMulticast", false)}${tag("tt:RTP_TCP", true)}${tag("tt:RTP_RTSP_TCP", true)}` +
    `</tt:StreamingCapabilities></tt:Media>`;
}

function findProfile(c: Ctx, xml: string): OnvifStreamProfile | Response {
  const token = elementText(xml, "ProfileToken");
  const p = c.opts.profiles.find((x) => x.token === token);
  if (p !== undefined) return p;
  return soapFault(
    "Sender",
    "ter:InvalidArgVal",
    `unknown ProfileToken "${token ?? ""}"; valid tokens: ${
      c.opts.profiles.map((x) => x.token).join(", ")
    }`,
  );
}

type Handler = (c: Ctx, xml: string) => Response;

const HANDLERS: Readonly<Record<string, Handler>> = {
  GetSystemDateAndTime: (c) => {
    const d = new Date(Date.now() + c.clock.offsetMs);
    return soapResponse(
      `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>${tag("tt:DateTimeType", "NTP")}` +
        `${tag("tt:DaylightSavings", false)}<tt:TimeZone>${tag("tt:TZ", "UTC0")}</tt:TimeZone>` +
        `<tt:UTCDateTime><tt:Time>${tag("tt:Hour", d.getUTCHours())}${
          tag("tt:Minute", d.getUTCMinutes())
        }` +
        `${tag("tt:Second", d.getUTCSeconds())}</tt:Time><tt:Date>${
          tag("tt:Year", d.getUTCFullYear())
        }` +
        `${tag("tt:Month", d.getUTCMonth() + 1)}${
          tag("tt:Day", d.getUTCDate())
        }</tt:Date></tt:UTCDateTime>` +
        `</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
    );
  },
  SetNTP: (c, xml) => {
    const fromDhcp = elementText(xml, "FromDHCP")?.trim();
    const type = elementText(xml, "Type")?.trim();
    const address = type === "DNS"
      ? elementText(xml, "DNSname")
      : type === "IPv4"
      ? elementText(xml, "IPv4Address")
      : type === "IPv6"
      ? elementText(xml, "IPv6Address")
      : undefined;
    if (fromDhcp !== "false" || address === undefined || address.trim() === "") {
      return soapFault(
        "Sender",
        "ter:InvalidArgVal",
        "SetNTP: this camera takes FromDHCP false and one NTPManual server (Type DNS, IPv4 or IPv6)",
      );
    }
    c.clock.ntp = { type: type!, address: address.trim() };
    c.clock.offsetMs = 0;
    return soapResponse("<tds:SetNTPResponse/>");
  },
  GetNTP: (c) => {
    const ntp = c.clock.ntp;
    const manual = ntp === null
      ? ""
      : `<tt:NTPManual>${tag("tt:Type", ntp.type)}${
        tag(ntp.type === "DNS" ? "tt:DNSname" : `tt:${ntp.type}Address`, ntp.address)
      }</tt:NTPManual>`;
    return soapResponse(
      `<tds:GetNTPResponse><tds:NTPInformation>${tag("tt:FromDHCP", false)}${manual}` +
        `</tds:NTPInformation></tds:GetNTPResponse>`,
    );
  },
  GetCapabilities: (c, xml) => {
    const cat = elementText(xml, "Category") ?? "All";
    const ptz = c.opts.ptz ? `<tt:PTZ>${tag("tt:XAddr", c.base + PTZ_PATH)}</tt:PTZ>` : "";
    const parts = cat === "Device"
      ? deviceCapabilities(c)
      : cat === "Media"
      ? mediaCapabilities(c)
      : cat === "Events" && c.events !== null
      ? eventsCapabilities(c)
      : cat === "PTZ" && ptz
      ? ptz
      : cat === "All"
      ? deviceCapabilities(c) + mediaCapabilities(c) + eventsCapabilities(c) + ptz
      : null;
    if (parts === null) {
      return soapFault(
        "Receiver",
        "ter:ActionNotSupported",
        `capability category ${cat} is not supported`,
      );
    }
    return soapResponse(
      `<tds:GetCapabilitiesResponse><tds:Capabilities>${parts}</tds:Capabilities></tds:GetCapabilitiesResponse>`,
    );
  },
  GetServices: (c, xml) => {
    const withCaps = elementText(xml, "IncludeCapability") === "true";
    const svc = (ns: string, path: string, caps: string): string =>
      `<tds:Service>${tag("tds:Namespace", ns)}${tag("tds:XAddr", c.base + path)}` +
      (withCaps ? `<tds:Capabilities>${caps}</tds:Capabilities>` : "") +
      `<tds:Version>${tag("tt:Major", 2)}${tag("tt:Minor", 60)}</tds:Version></tds:Service>`;
    const devCaps = `<tds:Capabilities><tds:Network IPFilter="false" ZeroConfiguration="false" ` +
      `IPVersion6="false" DynDNS="false"/><tds:Security UsernameToken="true" HttpDigest="true"/>` +
      `<tds:System DiscoveryResolve="false" DiscoveryBye="false" RemoteDiscovery="false"/></tds:Capabilities>`;
    const mediaCaps = `<trt:Capabilities SnapshotUri="true" Rotation="false">` +
      `<trt:ProfileCapabilities MaximumNumberOfProfiles="${c.opts.profiles.length}"/>` +
      `<trt:StreamingCapabilities RTPMulticast="false" RTP_TCP="true" RTP_RTSP_TCP="true"/></trt:Capabilities>`;
    return soapResponse(
      `<tds:GetServicesResponse>${svc(NS.tds, DEVICE_PATH, devCaps)}${
        svc(NS.trt, MEDIA_PATH, mediaCaps)
      }${c.opts.ptz ? svc(NS.tptz, PTZ_PATH, `<tptz:Capabilities MoveStatus="true"/>`) : ""}` +
        (c.events === null ? "" : svc(
          "http://www.onvif.org/ver10/events/wsdl",
          EVENTS_PATH,
          `<tev:Capabilities xmlns:tev="http://www.onvif.org/ver10/events/wsdl" WSPullPointSupport="true"/>`,
        )) +
        `</tds:GetServicesResponse>`,
    );
  },
  GetDeviceInformation: (c) => {
    const d = c.opts.device;
    return soapResponse(
      `<tds:GetDeviceInformationResponse>${tag("tds:Manufacturer", d.manufacturer)}${
        tag("tds:Model", d.model)
      }` +
        `${tag("tds:FirmwareVersion", d.firmwareVersion)}${
          tag("tds:SerialNumber", d.serialNumber)
        }` +
        `${tag("tds:HardwareId", d.hardwareId)}</tds:GetDeviceInformationResponse>`,
    );
  },
  GetHostname: (c) =>
    soapResponse(
      `<tds:GetHostnameResponse><tds:HostnameInformation>${tag("tt:FromDHCP", false)}${
        tag("tt:Name", c.opts.name)
      }` +
        `</tds:HostnameInformation></tds:GetHostnameResponse>`,
    ),
  GetScopes: (c) => {
    const scopes = [
      "onvif://www.onvif.org/Profile/Streaming",
      "onvif://www.onvif.org/type/video_encoder",
      `onvif://www.onvif.org/name/${encodeURIComponent(c.opts.name)}`,
      `onvif://www.onvif.org/hardware/${encodeURIComponent(c.opts.device.model)}`,
      "onvif://www.onvif.org/location/sim",
    ];
    return soapResponse(
      `<tds:GetScopesResponse>${
        scopes.map((s) =>
          `<tds:Scopes>${tag("tt:ScopeDef", "Fixed")}${tag("tt:ScopeItem", s)}</tds:Scopes>`
        )
          .join("")
      }</tds:GetScopesResponse>`,
    );
  },
  GetNetworkInterfaces: (c) => {
    const host = new URL(c.base).hostname;
    return soapResponse(
      `<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">${
        tag("tt:Enabled", true)
      }` +
        `<tt:Info>${tag("tt:Name", "eth0")}${
          tag("tt:HwAddress", macFromSerial(c.opts.device.serialNumber))
        }` +
        `${tag("tt:MTU", 1500)}</tt:Info><tt:IPv4>${tag("tt:Enabled", true)}<tt:Config>` +
        `<tt:Manual>${tag("tt:Address", host)}${tag("tt:PrefixLength", 8)}</tt:Manual>` +
        `${tag("tt:DHCP", false)}</tt:Config></tt:IPv4></tds:NetworkInterfaces>` +
        `</tds:GetNetworkInterfacesResponse>`,
    );
  },
  GetVideoSources: (c) => {
    const p = c.opts.profiles[0];
    if (p === undefined) return soapResponse(`<trt:GetVideoSourcesResponse/>`);
    return soapResponse(
      `<trt:GetVideoSourcesResponse><trt:VideoSources token="VideoSource_1">${
        tag("tt:Framerate", p.fps)
      }` +
        `<tt:Resolution>${tag("tt:Width", p.width)}${tag("tt:Height", p.height)}</tt:Resolution>` +
        `</trt:VideoSources></trt:GetVideoSourcesResponse>`,
    );
  },
  GetProfiles: (c) =>
    soapResponse(
      `<trt:GetProfilesResponse>${
        c.opts.profiles.map((p) => profileXml(c, p, "trt:Profiles")).join("")
      }` +
        `</trt:GetProfilesResponse>`,
    ),
  GetProfile: (c, xml) => {
    const p = findProfile(c, xml);
    if (p instanceof Response) return p;
    return soapResponse(
      `<trt:GetProfileResponse>${profileXml(c, p, "trt:Profile")}</trt:GetProfileResponse>`,
    );
  },
  GetStreamUri: (c, xml) => {
    const p = findProfile(c, xml);
    if (p instanceof Response) return p;
    const proto = elementText(xml, "Protocol") ?? "RTSP";
    if (proto !== "RTSP" && proto !== "UDP" && proto !== "TCP") {
      return soapFault(
        "Sender",
        "ter:InvalidArgVal",
        `transport protocol ${proto} is not supported; use RTSP`,
      );
    }
    return soapResponse(
      `<trt:GetStreamUriResponse><trt:MediaUri>${
        mediaUri(p.rtspUri)
      }</trt:MediaUri></trt:GetStreamUriResponse>`,
    );
  },
  GetSnapshotUri: (c, xml) => {
    const p = findProfile(c, xml);
    if (p instanceof Response) return p;
    return soapResponse(
      `<trt:GetSnapshotUriResponse><trt:MediaUri>${mediaUri(c.snapshotUrl)}</trt:MediaUri>` +
        `</trt:GetSnapshotUriResponse>`,
    );
  },
};

/** Replay protection and WS-Security check state, one per service instance. */
interface WsseState {
  readonly seenNonces: Map<string, number>;
}

async function checkWsse(
  c: Ctx,
  st: WsseState,
  xml: string,
): Promise<string | null> {
  const creds = c.opts.credentials;
  if (creds === undefined) return null;
  const token = /<(?:[\w.-]+:)?UsernameToken\b[\s\S]*?<\/(?:[\w.-]+:)?UsernameToken\s*>/.exec(xml)
    ?.[0];
  if (token === undefined) return "missing WS-Security UsernameToken header";
  const user = elementText(token, "Username");
  const password = elementText(token, "Password");
  const type = /Type\s*=\s*"([^"]*)"/.exec(elementAttrs(token, "Password") ?? "")?.[1];
  const nonce = elementText(token, "Nonce");
  const created = elementText(token, "Created");
  if (type !== PASSWORD_DIGEST_TYPE) return "only PasswordDigest UsernameTokens are accepted";
  if (
    user === undefined || password === undefined || nonce === undefined || created === undefined
  ) {
    return "UsernameToken needs Username, Password, Nonce and Created";
  }
  const createdMs = Date.parse(created);
  const skew = (c.opts.maxClockSkewSec ?? 300) * 1000;
  const now = Date.now() + c.clock.offsetMs;
  if (Number.isNaN(createdMs) || Math.abs(now - createdMs) > skew) {
    return "UsernameToken Created is too far from the device clock; call GetSystemDateAndTime and correct for the offset";
  }
  for (const [n, exp] of st.seenNonces) if (exp < now) st.seenNonces.delete(n);
  if (st.seenNonces.has(nonce)) return "UsernameToken Nonce was already used";
  let expected: string;
  try {
    expected = await wsseDigest(nonce, created, creds.password);
  } catch {
    return "UsernameToken Nonce is not valid Base64";
  }
  if (user !== creds.user || expected !== password) return "the user name or password is wrong";
  st.seenNonces.set(nonce, now + 2 * skew);
  return null;
}

/**
 * The request handler behind {@link startOnvifService}, usable without a socket
 * (e.g. `handler(new Request(...))` in unit tests). `base` is "http://host:port".
 */
export function createOnvifHandler(
  opts: OnvifServiceOptions,
  base: string,
  events: EventsService | null = null,
): (req: Request) => Promise<Response> {
  const ctx: Ctx = {
    opts,
    events,
    base,
    snapshotUrl: base + SNAPSHOT_PATH,
    clock: { offsetMs: opts.clockOffsetMs ?? 0, ntp: null },
  };
  const st: WsseState = { seenNonces: new Map() };
  const httpAuth: HttpAuth | null = opts.credentials === undefined
    ? null
    : createHttpAuth(opts.credentials, {
      realm: `${opts.device.model} ${opts.device.serialNumber}`,
    });

  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (url.pathname === SNAPSHOT_PATH) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response("use GET\n", { status: 405 });
      }
      if (httpAuth !== null && !httpAuth.check(req)) return httpAuth.unauthorized();
      try {
        const jpeg = await opts.snapshot();
        return new Response(req.method === "HEAD" ? null : jpeg as Uint8Array<ArrayBuffer>, {
          headers: { "content-type": "image/jpeg", "cache-control": "no-store" },
        });
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        return new Response(`snapshot failed: ${msg}\n`, { status: 500 });
      }
    }
    if (url.pathname === EVENT_HOOK_PATH && events !== null) return events.hook(req);
    if (!url.pathname.startsWith("/onvif/")) {
      return new Response(
        `not found; ONVIF is at ${DEVICE_PATH}, snapshots at ${SNAPSHOT_PATH}\n`,
        {
          status: 404,
        },
      );
    }
    if (req.method !== "POST") {
      return soapFault("Sender", "ter:InvalidArgs", "ONVIF SOAP requests must be HTTP POST");
    }
    const xml = await req.text();
    const action = soapAction(xml);
    if (action === undefined) {
      return soapFault(
        "Sender",
        "ter:WellFormed",
        "request is not a SOAP envelope with a Body element",
      );
    }
    if (!PRE_AUTH_ACTIONS.has(action) && opts.credentials !== undefined) {
      const viaHttp = httpAuth !== null && req.headers.has("authorization") && httpAuth.check(req);
      if (!viaHttp) {
        const problem = await checkWsse(ctx, st, xml);
        if (problem !== null) {
          if (httpAuth !== null && !/UsernameToken\b/.test(xml)) {
            // No WS-Security at all: offer HTTP Digest, as ONVIF Core 5.9.1 allows.
            const r = soapFault("Sender", "ter:NotAuthorized", `Sender not Authorized: ${problem}`);
            const headers = new Headers(r.headers);
            for (const ch of httpAuth.challenges()) headers.append("www-authenticate", ch);
            return new Response(r.body, { status: 401, headers });
          }
          return soapFault("Sender", "ter:NotAuthorized", `Sender not Authorized: ${problem}`);
        }
      }
    }
    const eventAnswer = events?.handle(action, url.pathname, xml);
    if (eventAnswer) return eventAnswer;
    const ptzHandler = opts.ptz?.handlers[action];
    if (ptzHandler !== undefined) return ptzHandler(xml);
    const handler = HANDLERS[action];
    if (handler === undefined) {
      return soapFault(
        "Receiver",
        "ter:ActionNotSupported",
        `Optional Action Not Implemented: ${action}`,
      );
    }
    return handler(ctx, xml);
  };
}

/** Starts the HTTP server. Throws if the port is taken. */
export function startOnvifService(opts: OnvifServiceOptions): OnvifService {
  const hostname = opts.hostname ?? "127.0.0.1";
  let server: Deno.HttpServer<Deno.NetAddr>;
  let handler: ((req: Request) => Promise<Response>) | null = null;
  try {
    server = Deno.serve(
      { hostname, port: opts.port, onListen: () => {} },
      (req) => handler === null ? new Response("starting", { status: 503 }) : handler(req),
    );
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `ONVIF HTTP server cannot listen on ${hostname}:${opts.port} (${msg}); pick another --onvif-port ` +
        "(see freePort() in hw-tests/sim/ports.ts) or stop the other process.",
    );
  }
  const port = server.addr.port;
  const base = `http://${hostname}:${port}`;
  const events = opts.events === undefined ? null : createEventsService(base, opts.events);
  handler = createOnvifHandler(opts, base, events);
  let closing: Promise<void> | null = null;
  const shutdown = (): Promise<void> => closing ??= (events?.close(), server.shutdown());
  return {
    port,
    deviceUrl: base + DEVICE_PATH,
    mediaUrl: base + MEDIA_PATH,
    snapshotUrl: base + SNAPSHOT_PATH,
    raiseEvent(event: SimEvent) {
      if (events === null) throw new Error("this ONVIF service was started without events");
      events.raise(event);
    },
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
