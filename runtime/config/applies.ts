/**
 * When a changed key takes effect on the running daemon, in one place: the daemon builds the
 * configuration it runs from this (`runningConfig`), and the Settings page says it for each key
 * (`appliesWhen`), so what the page promises is what the daemon does.
 */
import type { NvrConfig } from "./types.ts";

/** Sections the daemon keeps from its start: a change is written and applies at the next start. */
export const KEPT_UNTIL_RESTART = ["storage", "http", "mqtt"] as const;

/** Keys of those sections that apply all the same, from the next viewer or transcode on. */
export const APPLY_AT_ONCE = [
  "http.liveViewersPerCamera",
  "http.liveViewersTotal",
  "http.transcodesMax",
] as const;

/** Sections whose change leaves the recorders alone (plugins are applied by the plugin host). */
const RECORDERS_UNTOUCHED = ["http", "plugins"] as const;

/** Keys of other sections read where they are used, so a change leaves the recorders alone too. */
const KEYS_READ_IN_PLACE = [
  "recording.thumbnails", // read at every segment close
] as const;

/**
 * - `now`: applies at once, recording undisturbed;
 * - `recorders`: applies at once; every camera finishes its open segment and starts again (about
 *   a second of recording per camera);
 * - `restart`: written now, applies when the daemon next starts.
 */
export type Applies = "now" | "recorders" | "restart";

/** The configuration the daemon runs once `next` is applied to a daemon started with `started`. */
export function runningConfig(started: NvrConfig, next: NvrConfig): NvrConfig {
  const out = { ...next } as Record<string, unknown>;
  const from = started as unknown as Record<string, Record<string, unknown>>;
  const to = next as unknown as Record<string, Record<string, unknown>>;
  for (const section of KEPT_UNTIL_RESTART) {
    const kept: Record<string, unknown> = { ...from[section] };
    for (const key of APPLY_AT_ONCE) {
      const [s = "", name = ""] = key.split(".");
      if (s === section) kept[name] = to[section]?.[name];
    }
    out[section] = kept;
  }
  return out as unknown as NvrConfig;
}

/** Whether the recorders must restart to run `next` after `before` (both running configs). */
export function recordersChange(before: NvrConfig, next: NvrConfig): boolean {
  const strip = (c: NvrConfig) => {
    const copy = { ...c } as Record<string, unknown>;
    for (const section of RECORDERS_UNTOUCHED) copy[section] = null;
    for (const key of KEYS_READ_IN_PLACE) {
      const [section = "", name = ""] = key.split(".");
      copy[section] = { ...(copy[section] as Record<string, unknown>), [name]: null };
    }
    return JSON.stringify(copy);
  };
  return strip(before) !== strip(next);
}

/** When a change of `key` (`section.name`, `cameras`, `plugins.*.x`) takes effect. */
export function appliesWhen(key: string): Applies {
  const section = key.split(".")[0] ?? "";
  if ((APPLY_AT_ONCE as readonly string[]).includes(key)) return "now";
  if ((KEYS_READ_IN_PLACE as readonly string[]).includes(key)) return "now";
  if ((KEPT_UNTIL_RESTART as readonly string[]).includes(section)) return "restart";
  return (RECORDERS_UNTOUCHED as readonly string[]).includes(section) ? "now" : "recorders";
}
