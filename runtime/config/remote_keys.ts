/**
 * Which configuration keys may be changed from outside the box: by the fleet (`apply-config`,
 * `config/desired`) and by the local API (`PUT /api/config`, the camera routes). Everything else
 * — the broker and its credentials, where the API listens, the data folder, file paths, licensing,
 * analytics consent — comes from the image or the local file and is never changed remotely: a
 * change there is refused, naming the key. An unchanged value (also absent, or the redacted marker
 * that GET /api/config and get-config show) is fine, so a read → edit → write round trip works.
 * docs/config.md carries the table made by `remoteKeysTable()`; config_test.ts checks it.
 */
import type { NvrConfig } from "./types.ts";
import { ConfigError, DEFAULT_CONFIG, validateConfig } from "./validate.ts";
import { REDACTED, redactedKeys } from "./redacted.ts";
import { redactUrl } from "../lib/redact_url.ts";

/** Keys the fleet and the local API may change, each with why it is safe to. */
export const REMOTE_KEYS: Readonly<Record<string, string>> = {
  "device.name": "a label",
  "storage.segmentSeconds": "length of recorded files",
  "storage.maxBytes": "space budget for recordings",
  "storage.minFreeBytes": "free space kept",
  "storage.minFreePercent": "free space kept",
  "storage.retentionDays": "how long recordings are kept",
  "http.auditRetentionDays": "how long the audit log is kept",
  "http.loginHistoryDays": "how long sign-in history is kept",
  "http.liveViewersPerCamera": "viewer limits; apply to the next viewer, no restart",
  "http.liveViewersTotal": "viewer limits; apply to the next viewer, no restart",
  "http.transcodesMax": "transcode cap; applies to the next transcode, no restart",
  "mqtt.healthIntervalSeconds": "cadence of health messages",
  "log.level": "how much is logged",
  "recording.encodeFallback": "encoder choice among the image's own",
  "recording.remux": "recorder choice among the image's own",
  "recording.stallSeconds": "watchdog timing",
  "recording.camerasPerProcess": "process grouping",
  "recording.builtinCamerasPerProcess": "process grouping",
  "recording.thumbnails": "when timeline thumbnails are made; at once, no restart",
  "update.rebootWindow":
    "when an installed update may reboot the box (the bundle itself is signed)",
  "clock.cameraDriftSeconds": "a warning threshold",
  "cameras": "the cameras (every field); USB device paths only under /dev",
  "plugins.*.enabled": "runs an installed plugin, inside its sandbox",
  "plugins.*.settings":
    "checked against the plugin's own schema; never its code, paths or permissions",
  "plugins.*.cameras": "which cameras a plugin's alarms are marked on (configured cameras only)",
  "plugins.*.keepMinutes": "how long recordings around a plugin's alarm are kept (≤ 1 day)",
};

/** Sections keyed by an id rather than by fixed names: their keys are `section.*.<field>`. */
const MAP_SECTIONS: Readonly<Record<string, readonly string[]>> = {
  plugins: ["enabled", "settings", "cameras", "keepMinutes"],
};

/** Why a locked key is locked, where there is more to say than "the image or the local file". */
const LOCKED_WHY: Readonly<Record<string, string>> = {
  "analytics.enabled":
    "consent is given only by an admin on the local page (PUT /api/analytics/consent)",
  "licence.keysFile": "licensing comes from the image",
  "provision.file": "first-boot provisioning comes from the image and the boot partition",
  "provision.identityDir": "the box's identity (key, certificate) is the image's and the box's",
  "provision.allowInsecure": "it would let a bootstrap credential travel unencrypted",
  "ntp.listen": "it opens a UDP port (the box's NTP server) on the box's networks",
};

/** Every `section.key` of the configuration, and `cameras`. */
export function configKeys(): string[] {
  return Object.entries(DEFAULT_CONFIG).flatMap(([section, value]) =>
    Array.isArray(value)
      ? [section]
      : MAP_SECTIONS[section]?.map((field) => `${section}.*.${field}`) ??
        Object.keys(value).map((key) => `${section}.${key}`)
  );
}

/** Keys only the image or the local file sets. */
export function lockedKeys(): string[] {
  return configKeys().filter((key) => !(key in REMOTE_KEYS));
}

export function lockedMessage(key: string, by: string): string {
  const why = LOCKED_WHY[key] ??
    "it comes from the image or the local file /etc/nvr/config.json";
  return `${key}: may not be changed ${by}, because ${why} (docs/config.md, "Keys changeable remotely")`;
}

/**
 * A remote configuration with every locked key filled from `current` where it is absent or holds
 * the redacted form of the current value, and the cameras' redacted secrets restored by camera
 * id. What is left (a locked key with another value) is found by `lockedChanges` after
 * validation. The input is untrusted JSON and is not modified.
 */
export function fillLocked(raw: unknown, current: NvrConfig): unknown {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = { ...raw as Record<string, unknown> };
  const shown = redactedView(current);
  for (const key of lockedKeys()) {
    const [section = "", name = ""] = key.split(".");
    const part = out[section];
    if (part !== undefined && (typeof part !== "object" || part === null || Array.isArray(part))) {
      continue; // validation names it
    }
    const copy: Record<string, unknown> = { ...part as Record<string, unknown> | undefined };
    const value = copy[name];
    const now = (current as unknown as Record<string, Record<string, unknown>>)[section]?.[name];
    if (value === undefined || sameJson(value, shown[section]?.[name])) {
      copy[name] = structuredClone(now);
    }
    out[section] = copy;
  }
  if (Array.isArray(out.cameras)) {
    out.cameras = out.cameras.map((cam) => restoreCameraSecrets(cam, current));
  }
  return out;
}

/** One problem per locked key whose value in `next` differs from `current`. */
export function lockedChanges(current: NvrConfig, next: NvrConfig, by: string): string[] {
  const get = (c: NvrConfig, key: string) => {
    const [section = "", name = ""] = key.split(".");
    return (c as unknown as Record<string, Record<string, unknown>>)[section]?.[name];
  };
  return lockedKeys()
    .filter((key) => !sameJson(get(current, key), get(next, key)))
    .map((key) => lockedMessage(key, by));
}

/** `next` with every locked key set as in `current` (the daemon's last line of defence). */
export function keepLocked(current: NvrConfig, next: NvrConfig): NvrConfig {
  const out = structuredClone(next) as unknown as Record<string, Record<string, unknown>>;
  const from = current as unknown as Record<string, Record<string, unknown>>;
  for (const key of lockedKeys()) {
    const [section = "", name = ""] = key.split(".");
    const target = out[section];
    if (target) target[name] = structuredClone(from[section]?.[name]);
  }
  return out as unknown as NvrConfig;
}

/** The markdown table for docs/config.md. */
export function remoteKeysTable(): string {
  const rows = configKeys().map((key) => {
    const why = REMOTE_KEYS[key];
    const locked = LOCKED_WHY[key] ?? "set only in the image or the local file";
    return [`\`${key}\``, why ? "yes" : "no", why ?? locked];
  });
  const head = ["key", "fleet and API", "why"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function redactedView(config: NvrConfig): Record<string, Record<string, unknown>> {
  const view = structuredClone(config) as unknown as Record<string, Record<string, unknown>>;
  const mqtt = view.mqtt;
  if (mqtt) {
    if (mqtt.password !== null) mqtt.password = REDACTED;
    if (typeof mqtt.url === "string") mqtt.url = redactUrl(mqtt.url);
  }
  return view;
}

function restoreCameraSecrets(cam: unknown, current: NvrConfig): unknown {
  if (typeof cam !== "object" || cam === null || Array.isArray(cam)) return cam;
  const c = { ...cam as Record<string, unknown> };
  const before = current.cameras.find((x) => x.id === c.id);
  if (!before) return c;
  if (c.password === REDACTED && before.password !== null) c.password = before.password;
  const onvif = c.onvif;
  if (typeof onvif === "object" && onvif !== null && !Array.isArray(onvif) && before.onvif) {
    const o = { ...onvif as Record<string, unknown> };
    if (o.password === REDACTED && before.onvif.password !== null) {
      o.password = before.onvif.password;
    }
    if (typeof o.url === "string" && o.url !== before.onvif.url) {
      if (o.url === redactUrl(before.onvif.url)) o.url = before.onvif.url;
    }
    c.onvif = o;
  }
  for (const key of ["url", "subUrl"] as const) {
    const was = before[key];
    if (typeof c[key] === "string" && was && c[key] !== was && c[key] === redactUrl(was)) {
      c[key] = was;
    }
  }
  return c;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * A configuration sent from outside the box (`by`: "from the fleet", "through the API"), checked
 * against the running one: locked keys filled in, markers refused, validated like the file, and
 * every locked key that would change refused by name. Throws ConfigError listing each problem.
 */
export function remoteConfig(
  raw: unknown,
  current: NvrConfig,
  opts: { by: string; source: string; markerFrom: string },
): NvrConfig {
  const filled = fillLocked(raw, current);
  const marked = redactedKeys(filled);
  if (marked.length > 0) {
    throw new ConfigError(
      opts.source,
      marked.map((key) =>
        `${key}: holds ${JSON.stringify(REDACTED)} from ${opts.markerFrom}; send the real value`
      ),
    );
  }
  // Locked keys first and on the JSON as sent (none of them takes a unit), so each is named even
  // when it would also fail validation; then again on the validated result.
  const before = lockedKeys().filter((key) => {
    const [section = "", name = ""] = key.split(".");
    const part = (filled as Record<string, unknown>)?.[section];
    const value = typeof part === "object" && part !== null
      ? (part as Record<string, unknown>)[name]
      : undefined;
    const now = (current as unknown as Record<string, Record<string, unknown>>)[section]?.[name];
    return value !== undefined && !sameJson(value, now);
  });
  if (before.length > 0) {
    throw new ConfigError(opts.source, before.map((key) => lockedMessage(key, opts.by)));
  }
  const next = validateConfig(filled, opts.source);
  const locked = lockedChanges(current, next, opts.by);
  if (locked.length > 0) throw new ConfigError(opts.source, locked);
  return next;
}
