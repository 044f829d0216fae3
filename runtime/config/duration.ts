/** Durations in config: a number of seconds, or a string like "90s", "10m", "2h", "7d". */

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/** Seconds, or null when the value is not a duration. */
export function parseDurationSeconds(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value !== "string") return null;
  const match = PATTERN.exec(value.trim());
  if (!match) return null;
  const [, amount, unit] = match;
  return Number(amount) * (UNITS[unit ?? "s"] ?? 1);
}
