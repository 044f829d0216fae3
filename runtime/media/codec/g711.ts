/**
 * G.711 (ITU-T) A-law and µ-law to 16-bit linear PCM, by a 256-entry table each (the expansion
 * of Sun's public-domain g711.c). Cameras send it as 8 kHz mono in RTP payload types 8 and 0.
 */

export type G711Law = "pcma" | "pcmu";

function alawToLinear(code: number): number {
  const a = code ^ 0x55;
  let t = (a & 0x0f) << 4;
  const segment = (a & 0x70) >> 4;
  if (segment === 0) t += 8;
  else t = (t + 0x108) << (segment - 1);
  return a & 0x80 ? t : -t;
}

function ulawToLinear(code: number): number {
  const u = ~code & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

const TABLES: Record<G711Law, Int16Array> = {
  pcma: Int16Array.from({ length: 256 }, (_, i) => alawToLinear(i)),
  pcmu: Int16Array.from({ length: 256 }, (_, i) => ulawToLinear(i)),
};

/** Expands `input` into `out` from `at`; returns where the next sample goes. */
export function decodeG711(law: G711Law, input: Uint8Array, out: Int16Array, at = 0): number {
  const table = TABLES[law];
  const n = Math.min(input.length, out.length - at);
  for (let i = 0; i < n; i++) out[at + i] = table[input[i]!]!;
  return at + n;
}
