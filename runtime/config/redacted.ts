/** The marker that stands for a secret in every configuration shown outside the box. */
export const REDACTED = "***redacted***";

/** Paths (as config keys, e.g. "cameras[0].password") of every string holding the marker. */
export function redactedKeys(value: unknown, path = ""): string[] {
  if (typeof value === "string") {
    return value.includes(REDACTED) || value.includes(encodeURIComponent(REDACTED))
      ? [path || "(top level)"]
      : [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => redactedKeys(v, `${path}[${i}]`));
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => redactedKeys(v, path ? `${path}.${k}` : k));
  }
  return [];
}
