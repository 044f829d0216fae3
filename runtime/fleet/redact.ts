/**
 * Secrets never leave the box over the fleet link: `get-config` and `config/reported` carry the
 * configuration with passwords and URL credentials replaced by a marker, and an apply-config that
 * still holds the marker is refused (it would set the password to the marker).
 */
import type { NvrConfig } from "../config/types.ts";
import type { Json } from "./schema.ts";

export const REDACTED = "***redacted***";

/** The configuration as JSON with secrets replaced by REDACTED. */
export function redactConfig(config: NvrConfig): Json {
  const json = JSON.parse(JSON.stringify(config)) as Record<string, Json>;
  const mqtt = json.mqtt as Record<string, Json>;
  if (mqtt.password !== null) mqtt.password = REDACTED;
  if (typeof mqtt.url === "string") mqtt.url = redactUrl(mqtt.url);
  for (const camera of json.cameras as Record<string, Json>[]) {
    if (camera.password !== null) camera.password = REDACTED;
    if (typeof camera.url === "string") camera.url = redactUrl(camera.url);
  }
  return json;
}

/** The password in a URL's userinfo replaced by REDACTED; other URLs as they are. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = REDACTED;
    return parsed.href;
  } catch {
    return url;
  }
}

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
