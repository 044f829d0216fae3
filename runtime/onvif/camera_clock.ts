/**
 * The camera's clock against the box's: ONVIF GetSystemDateAndTime (device service, answered
 * without credentials, ONVIF Core 8.3.12), sent as plain SOAP 1.2 and compared with the box's
 * clock at the middle of the round trip. A raw request rather than npm:onvif: the library asks
 * only as part of connect() (capabilities, services, profiles: several requests and credentials)
 * and keeps the result as a private time shift.
 *
 * Bounded: one request with a timeout, at most MAX_REPLY_BYTES read, only http(s) URLs.
 */

/** A reply larger than this is not a GetSystemDateAndTime answer. */
export const MAX_REPLY_BYTES = 64 * 1024;

export interface CameraClockReading {
  /** The camera's UTC time, ms since the epoch (whole seconds: ONVIF has no fraction). */
  readonly cameraMs: number;
  /** The box's clock at the middle of the round trip. */
  readonly boxMs: number;
  /** cameraMs − boxMs: positive when the camera is ahead. */
  readonly driftMs: number;
  readonly roundTripMs: number;
}

export class CameraClockError extends Error {
  constructor(url: string, detail: string) {
    super(`camera clock at ${url}: ${detail}`);
    this.name = "CameraClockError";
  }
}

const REQUEST = `<?xml version="1.0" encoding="UTF-8"?>` +
  `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">` +
  `<s:Body><GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body>` +
  `</s:Envelope>`;

function field(xml: string, name: string): number | null {
  const m = new RegExp(`<(?:[\\w.-]+:)?${name}>\\s*(\\d{1,4})\\s*</`).exec(xml);
  return m ? Number(m[1]) : null;
}

/**
 * The UTC time of a GetSystemDateAndTime answer, ms since the epoch, or null when it has no
 * complete, valid UTCDateTime (a camera that gives only its local time cannot be compared
 * without guessing its POSIX TZ rules).
 */
export function parseSystemDateAndTime(xml: string): number | null {
  const utc = /<(?:[\w.-]+:)?UTCDateTime\b[^>]*>([\s\S]{0,2000}?)<\/(?:[\w.-]+:)?UTCDateTime>/
    .exec(xml)?.[1];
  if (utc === undefined) return null;
  const [y, mo, d, h, mi, s] = ["Year", "Month", "Day", "Hour", "Minute", "Second"].map((n) =>
    field(utc, n)
  );
  if (
    y == null || mo == null || d == null || h == null || mi == null || s == null ||
    y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60
  ) return null;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 31 February over into March: refuse what does not round-trip.
  return new Date(ms).getUTCDate() === d ? ms : null;
}

async function readBounded(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_REPLY_BYTES) throw new Error(`reply larger than ${MAX_REPLY_BYTES} bytes`);
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) all.set(c, at), at += c.byteLength;
  return new TextDecoder().decode(all);
}

/** Asks the camera at `deviceUrl` (its ONVIF device service) for its clock. */
export async function readCameraClock(
  deviceUrl: string,
  opts: {
    readonly timeoutMs?: number;
    readonly now?: () => number;
    /** Ends the request early (the daemon stopping). */
    readonly signal?: AbortSignal;
  } = {},
): Promise<CameraClockReading> {
  let url: URL;
  try {
    url = new URL(deviceUrl);
  } catch {
    throw new CameraClockError(deviceUrl, "not a URL; cameras[].onvif.url is the device service");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CameraClockError(deviceUrl, "only http and https device services are asked");
  }
  const now = opts.now ?? Date.now;
  const sent = now();
  const started = performance.now();
  let xml: string;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/soap+xml; charset=utf-8" },
      body: REQUEST,
      redirect: "manual",
      signal: AbortSignal.any([
        AbortSignal.timeout(opts.timeoutMs ?? 5_000),
        ...(opts.signal ? [opts.signal] : []),
      ]),
    });
    xml = await readBounded(res);
    if (!res.ok) {
      throw new Error(`HTTP ${res.status} (does it speak ONVIF at this address?)`);
    }
  } catch (err) {
    throw new CameraClockError(url.href, (err as Error).message.slice(0, 200));
  }
  const roundTripMs = performance.now() - started;
  const cameraMs = parseSystemDateAndTime(xml);
  if (cameraMs === null) {
    throw new CameraClockError(url.href, "the answer has no valid UTCDateTime");
  }
  const boxMs = sent + roundTripMs / 2;
  return { cameraMs, boxMs, driftMs: Math.round(cameraMs - boxMs), roundTripMs };
}
