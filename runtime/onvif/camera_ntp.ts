/**
 * Points a camera's clock at an NTP server: ONVIF SetNTP (device service, ONVIF Core 8.3.16) with
 * DHCP off and one manual server, the one configured (cameras[].onvif.setNtp); nothing here picks
 * an address. Authenticated (WS-Security) with the camera's ONVIF credentials; `now` lets the
 * caller stamp the token with the camera's own time, since a camera whose clock has drifted
 * refuses a token "created" too far from it.
 */
import { soapCall, type SoapCallOptions, xmlText } from "./soap_client.ts";

const TT = "http://www.onvif.org/ver10/schema";

/** How an NTP server is written in NTPManual: its Type and the element that holds it. */
export function ntpHostType(host: string): "IPv4" | "IPv6" | "DNS" {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return "IPv4";
  if (host.includes(":")) return "IPv6";
  return "DNS";
}

/** The SOAP body of SetNTP for `host`. */
export function setNtpBody(host: string): string {
  const type = ntpHostType(host);
  const element = type === "DNS" ? "DNSname" : `${type}Address`;
  return `<tds:SetNTP xmlns:tt="${TT}"><tds:FromDHCP>false</tds:FromDHCP>` +
    `<tds:NTPManual><tt:Type>${type}</tt:Type><tt:${element}>${xmlText(host)}</tt:${element}>` +
    `</tds:NTPManual></tds:SetNTP>`;
}

/** Sets the camera's NTP server to `host`; rejects with OnvifError (its kind says why). */
export async function setCameraNtp(
  deviceUrl: string,
  host: string,
  opts: SoapCallOptions,
): Promise<void> {
  await soapCall(deviceUrl, setNtpBody(host), { timeoutMs: 5_000, ...opts });
}

/**
 * The box's own address on the route to the camera at `deviceUrl`: the local end of a TCP
 * connection to its ONVIF host and port (the kernel's choice of interface and source address),
 * closed at once. For setNtp "box"; never a hard-coded address.
 */
export async function localAddressTowards(
  deviceUrl: string,
  opts: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
): Promise<string> {
  const url = new URL(deviceUrl);
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const deadline = AbortSignal.timeout(opts.timeoutMs ?? 5_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname, port, signal });
  } catch (err) {
    throw new Error(
      `cannot reach the camera at ${hostname}:${port} to learn the box's address on its network: ` +
        (err as Error).message,
      { cause: err },
    );
  }
  try {
    return conn.localAddr.hostname;
  } finally {
    conn.close();
  }
}
