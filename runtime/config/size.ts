/**
 * Sizes in config: a whole number of bytes, or a string like "200M", "500G", "1.5T". K, M, G and
 * T are powers of 1024 (as df -h counts); a trailing "B" or "iB" is allowed ("500GB", "500GiB").
 */

const UNITS: Record<string, number> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i;

/** Whole bytes (rounded down), or null when the value is not a size. */
export function parseSizeBytes(value: unknown): number | null {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 0 ? value : null;
  }
  if (typeof value !== "string") return null;
  const match = PATTERN.exec(value.trim());
  if (!match) return null;
  const [, amount, unit] = match;
  const bytes = Math.floor(Number(amount) * (UNITS[(unit ?? "").toUpperCase()] ?? 1));
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** A size for people: "1.5 GiB". */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let i = 0;
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${i === 0 ? value : Number(value.toFixed(value < 10 ? 2 : 1))} ${units[i]}`;
}
