/**
 * ONVIF GetDeviceInformation through `npm:onvif` (which does WS-Security and HTTP Digest). The
 * camera's clock is read first (GetSystemDateAndTime, unauthenticated) so the WS-Security
 * timestamp matches it. Fields are taken from the raw XML: the library's parsed object turns
 * numeric text into numbers (firmware "1.10" becomes 1.1) and date-like text into Dates.
 */
import { onvifCam } from "../onvif/cam.ts";

export interface OnvifDeviceInformation {
  readonly manufacturer: string | null;
  readonly model: string | null;
  readonly firmwareVersion: string | null;
  readonly serialNumber: string | null;
  readonly hardwareId: string | null;
  /**
   * Lower-case MAC of the camera's first network interface (GetNetworkInterfaces `HwAddress`),
   * null when it did not say; absent from readers that do not ask.
   */
  readonly mac?: string | null;
}

export interface OnvifOptions {
  readonly username?: string | null;
  readonly password?: string | null;
  /** Per request (connect and reply), default 3000 ms. */
  readonly timeoutMs?: number;
}

/** The camera did not answer GetDeviceInformation; the message says why and where. */
export class OnvifReadError extends Error {
  readonly url: string;
  constructor(url: string, reason: string) {
    super(
      `ONVIF GetDeviceInformation at ${url} failed: ${reason}. Check the camera's ONVIF URL, ` +
        "that ONVIF is enabled on it, and its user name and password.",
    );
    this.name = "OnvifReadError";
    this.url = url;
  }
}

type Callback = (err: Error | null, data: unknown, xml?: string) => void;
interface OnvifCam {
  getSystemDateAndTime(cb: Callback): void;
  getDeviceInformation(cb: Callback): void;
  getNetworkInterfaces(cb: Callback): void;
}

function callRaw(f: (cb: Callback) => void): Promise<string> {
  return new Promise((resolve, reject) =>
    f((err, _data, xml) => err ? reject(err) : resolve(xml ?? ""))
  );
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Text of the first element with this local name (any prefix), XML entities decoded. */
export function xmlElementText(xml: string, localName: string): string | null {
  const m = new RegExp(
    `<(?:[\\w.-]+:)?${localName}(?:\\s[^>]*)?>([^<]*)</(?:[\\w.-]+:)?${localName}\\s*>`,
  ).exec(xml);
  if (m?.[1] === undefined) return null;
  const text = m[1].replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (all, e: string) => {
    if (e[0] === "#") {
      return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1)));
    }
    return ENTITIES[e] ?? all;
  }).trim();
  return text === "" ? null : text;
}

function isNetworkError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return typeof e?.code === "string" && /^E[A-Z]+/.test(e.code) ||
    /Network timeout|ECONN|EHOST|ENETUNREACH|ETIMEDOUT/.test(String(e?.message ?? ""));
}

/** Asks the camera at `url` (its device service, http or https) who it is. */
export async function readOnvifDeviceInformation(
  url: string,
  opts: OnvifOptions = {},
): Promise<OnvifDeviceInformation> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OnvifReadError(url, "not a URL");
  }
  const cam = onvifCam<OnvifCam>(u, opts);
  try {
    // Best effort: a few cameras want credentials even here; only a dead network stops us.
    await callRaw((cb) => cam.getSystemDateAndTime(cb)).catch((err: unknown) => {
      if (isNetworkError(err)) throw err;
    });
    const xml = await callRaw((cb) => cam.getDeviceInformation(cb));
    // Optional for a camera (ONVIF Core lists it, some firmwares refuse it to non-admins).
    const nics = await callRaw((cb) => cam.getNetworkInterfaces(cb)).catch(() => "");
    const mac = xmlElementText(nics, "HwAddress")?.toLowerCase().replace(/-/g, ":") ?? null;
    return {
      manufacturer: xmlElementText(xml, "Manufacturer"),
      model: xmlElementText(xml, "Model"),
      firmwareVersion: xmlElementText(xml, "FirmwareVersion"),
      serialNumber: xmlElementText(xml, "SerialNumber"),
      hardwareId: xmlElementText(xml, "HardwareId"),
      mac: mac !== null && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac) ? mac : null,
    };
  } catch (err) {
    throw new OnvifReadError(url, err instanceof Error ? err.message : String(err));
  }
}
