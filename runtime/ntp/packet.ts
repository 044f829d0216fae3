/**
 * NTP packets as an SNTP server (RFC 4330, RFC 5905 server mode) reads and writes them: only a
 * plain client request is read (48 bytes, mode 3, version 3 or 4 — no extension fields, no MAC,
 * no mode 6/7 control or monlist), and the answer is 48 bytes too, never bigger than what came in.
 * Pure code: no I/O, no clock of its own.
 */

/** Length of an NTP header without extension fields or MAC. */
export const NTP_PACKET_BYTES = 48;
/** Seconds from 1900-01-01 (NTP's era 0) to 1970-01-01. */
const NTP_UNIX_OFFSET_S = 2_208_988_800;
const MODE_CLIENT = 3;
const MODE_SERVER = 4;
/** Leap indicator 3: the server's clock is not synchronised (RFC 5905 figure 9). */
export const LEAP_UNSYNCHRONISED = 3;

/** What an answer carries besides the request's own fields. */
export type SntpTime =
  /** The box's clock is not believed: leap 3, stratum 0, kiss code INIT, no timestamps. */
  | { readonly trusted: false }
  | {
    readonly trusted: true;
    /** 1–15. */
    readonly stratum: number;
    /** Four ASCII characters (e.g. "LOCL") or an IPv4 address. */
    readonly refId: string;
    /** When the clock was last set (the reference timestamp), Unix ms. */
    readonly referenceMs: number;
    /** Root dispersion, ms (16.16 seconds on the wire). */
    readonly rootDispersionMs: number;
  };

/** The fields of a client request an answer copies. */
export interface SntpRequest {
  readonly version: 3 | 4;
  readonly poll: number;
  /** The client's transmit timestamp, as the 8 bytes it sent (the answer's origin). */
  readonly transmit: Uint8Array;
}

/** Why a datagram is not answered; each one is counted, none answered. */
export type DropReason = "length" | "version" | "mode";

/** The request in `data`, or why it is dropped. */
export function parseRequest(data: Uint8Array): SntpRequest | { drop: DropReason } {
  if (data.length !== NTP_PACKET_BYTES) return { drop: "length" };
  const first = data[0]!;
  const version = (first >> 3) & 7;
  const mode = first & 7;
  if (version !== 3 && version !== 4) return { drop: "version" };
  if (mode !== MODE_CLIENT) return { drop: "mode" };
  return { version, poll: data[2]!, transmit: data.slice(40, 48) };
}

/** Writes Unix ms as a 64-bit NTP timestamp at `at` (era 0 until 2036, wraps as RFC 5905 says). */
export function writeTimestamp(view: DataView, at: number, unixMs: number): void {
  const seconds = Math.floor(unixMs / 1000);
  const fraction = Math.floor(((unixMs - seconds * 1000) / 1000) * 2 ** 32);
  view.setUint32(at, (seconds + NTP_UNIX_OFFSET_S) >>> 0);
  view.setUint32(at + 4, fraction >>> 0);
}

/** Reads a 64-bit NTP timestamp (era 0, or era 1 for seconds below 2^31: after 2036) as Unix ms. */
export function readTimestamp(view: DataView, at: number): number {
  const s = view.getUint32(at);
  const era = s < 2 ** 31 ? 2 ** 32 : 0;
  return (s + era - NTP_UNIX_OFFSET_S) * 1000 + (view.getUint32(at + 4) / 2 ** 32) * 1000;
}

function writeRefId(view: DataView, refId: string): void {
  const bytes = /^\d+\.\d+\.\d+\.\d+$/.test(refId)
    ? refId.split(".").map(Number)
    : [...refId.padEnd(4, "\0").slice(0, 4)].map((c) => c.charCodeAt(0) & 0x7f);
  bytes.forEach((b, i) => view.setUint8(12 + i, b));
}

/**
 * The answer to `request`: mode 4, the client's version and poll, origin = the client's transmit
 * timestamp. Trusted: receive and transmit from the box's clock. Not trusted: a kiss-o'-death
 * INIT (leap 3, stratum 0) whose timestamps are all zero, so no client can take a time from it.
 */
export function buildReply(
  request: SntpRequest,
  time: SntpTime,
  receiveMs: number,
  transmitMs: number,
): Uint8Array {
  const out = new Uint8Array(NTP_PACKET_BYTES);
  const view = new DataView(out.buffer);
  const leap = time.trusted ? 0 : LEAP_UNSYNCHRONISED;
  view.setUint8(0, (leap << 6) | (request.version << 3) | MODE_SERVER);
  view.setUint8(1, time.trusted ? Math.min(15, Math.max(1, time.stratum)) : 0);
  view.setUint8(2, request.poll);
  // Precision 2^-10 s (about 1 ms): the clock read is Date.now(), whole milliseconds.
  view.setInt8(3, -10);
  // Root delay 0: the box is the root as far as the camera can tell.
  if (time.trusted) {
    const dispersion = Math.min(0xffff_ffff, Math.round((time.rootDispersionMs / 1000) * 65536));
    view.setUint32(8, dispersion);
    writeRefId(view, time.refId);
    writeTimestamp(view, 16, time.referenceMs);
  } else {
    writeRefId(view, "INIT");
  }
  out.set(request.transmit, 24);
  if (time.trusted) {
    writeTimestamp(view, 32, receiveMs);
    writeTimestamp(view, 40, transmitMs);
  }
  return out;
}
