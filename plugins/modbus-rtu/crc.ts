/**
 * CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF, no final xor), as in "MODBUS over Serial Line
 * Specification and Implementation Guide V1.02", §6.2.2. On the wire the low byte goes first.
 * Pure: no Deno APIs.
 */

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** The CRC of `bytes` as a number (0x1241 for 02 07; sent as 41 12). */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) crc = (crc >>> 8) ^ TABLE[(crc ^ b) & 0xff]!;
  return crc;
}

/** `bytes` followed by their CRC, low byte first. */
export function withCrc(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 2);
  out.set(bytes);
  const crc = crc16(bytes);
  out[bytes.length] = crc & 0xff;
  out[bytes.length + 1] = crc >>> 8;
  return out;
}

/** Whether the last two bytes of `frame` are the CRC of the rest. */
export function crcOk(frame: Uint8Array): boolean {
  if (frame.length < 3) return false;
  const crc = crc16(frame.subarray(0, frame.length - 2));
  return frame[frame.length - 2] === (crc & 0xff) && frame[frame.length - 1] === crc >>> 8;
}
