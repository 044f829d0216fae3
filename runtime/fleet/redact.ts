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

/**
 * Paths (as config keys, e.g. "cameras[0].password") of every string holding the marker, in
 * document order. Walked with a stack of its own, not by recursion: a payload nested 100 000 deep
 * (well within 256 KiB) would overflow the call stack; paths are built only for the strings found.
 */
export function redactedKeys(value: unknown): string[] {
  interface Step {
    readonly value: unknown;
    readonly parent: Step | null;
    readonly key: string | number | null;
  }
  const found: string[] = [];
  const stack: Step[] = [{ value, parent: null, key: null }];
  while (stack.length > 0) {
    const step = stack.pop()!;
    const v = step.value;
    if (typeof v === "string") {
      if (v.includes(REDACTED) || v.includes(encodeURIComponent(REDACTED))) {
        found.push(pathOf(step) || "(top level)");
      }
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: step, key: i });
    } else if (typeof v === "object" && v !== null) {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        stack.push({ value: child, parent: step, key });
      }
    }
  }
  return found;

  function pathOf(step: Step): string {
    const parts: string[] = [];
    for (let s: Step | null = step; s && s.key !== null; s = s.parent) {
      parts.push(
        typeof s.key === "number" ? `[${s.key}]` : s.parent?.key === null ? s.key : `.${s.key}`,
      );
    }
    return parts.reverse().join("");
  }
}
