/**
 * The bounds and choices of configuration values, in one place: validate.ts enforces them and
 * settings_schema.ts describes them to the Settings page, so the page's checks and the server's
 * cannot drift apart. Keys are as docs/config.md writes them (`cameras[].x`, `plugins.<id>.x`).
 */
import type {
  ClockTrustMode,
  EncodeFallback,
  HttpTls,
  LogLevel,
  RecordMode,
  RemuxEngine,
  RtspTransport,
  ThumbnailMode,
  VideoCodec,
} from "./types.ts";

/**
 * A whole number or any number from min to max; a size in bytes of at least min; one of some
 * values; a text of at least minLength characters matching a pattern (the validator may check
 * more, e.g. that a window does not end where it starts).
 */
export type Rule =
  | { readonly kind: "integer"; readonly min: number; readonly max: number }
  | { readonly kind: "number"; readonly min: number; readonly max: number }
  | { readonly kind: "size"; readonly min: number }
  | { readonly kind: "enum"; readonly values: readonly string[] }
  | { readonly kind: "text"; readonly minLength?: number; readonly pattern?: string };

/** `update.rebootWindow`: "HH:MM-HH:MM" (the same pattern as runtime/update/window.ts). */
export const REBOOT_WINDOW = /^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$/;

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
export const ENCODE_FALLBACKS: readonly EncodeFallback[] = ["h264-hw", "x265"];
export const REMUX_ENGINES: readonly RemuxEngine[] = ["builtin", "gstreamer"];
export const THUMBNAIL_MODES: readonly ThumbnailMode[] = ["on-close", "on-demand"];
export const CLOCK_TRUST: readonly ClockTrustMode[] = ["auto", "always"];
export const TRANSPORTS: readonly RtspTransport[] = ["tcp", "udp"];
export const CODECS: readonly VideoCodec[] = ["h265", "h264"];
export const HTTP_TLS: readonly HttpTls[] = ["auto", "files", "off"];
export const RECORD_MODES: readonly RecordMode[] = ["continuous", "events"];
export const MAX_CAMERAS = 64;

const int = (min: number, max: number): Rule => ({ kind: "integer", min, max });
const num = (min: number, max: number): Rule => ({ kind: "number", min, max });
const oneOf = (values: readonly string[]): Rule => ({ kind: "enum", values });

export const RULES = {
  "device.name": { kind: "text", minLength: 1 },
  "storage.segmentSeconds": int(2, 3600),
  "storage.maxBytes": { kind: "size", min: 2 ** 20 },
  "storage.minFreeBytes": { kind: "size", min: 0 },
  "storage.minFreePercent": num(0, 50),
  "storage.retentionDays": num(0.01, 3650),
  "http.auditRetentionDays": int(1, 3650),
  "http.loginHistoryDays": int(1, 3650),
  "http.tls": oneOf(HTTP_TLS),
  "http.liveViewersPerCamera": int(0, 64),
  "http.liveViewersTotal": int(0, 256),
  "http.transcodesMax": int(0, 16),
  "mqtt.healthIntervalSeconds": int(1, 3600),
  "mqtt.queueMaxMessages": int(100, 1_000_000),
  "log.level": oneOf(LOG_LEVELS),
  "recording.encodeFallback": oneOf(ENCODE_FALLBACKS),
  "recording.remux": oneOf(REMUX_ENGINES),
  "recording.stallSeconds": int(2, 300),
  "recording.camerasPerProcess": int(0, MAX_CAMERAS),
  "recording.builtinCamerasPerProcess": int(1, MAX_CAMERAS),
  "recording.thumbnails": oneOf(THUMBNAIL_MODES),
  "update.rebootWindow": { kind: "text", pattern: REBOOT_WINDOW.source },
  "clock.trust": oneOf(CLOCK_TRUST),
  "clock.cameraDriftSeconds": int(1, 3600),
  "cameras[].name": { kind: "text", minLength: 1 },
  "cameras[].transport": oneOf(TRANSPORTS),
  "cameras[].codec": oneOf(CODECS),
  "cameras[].retentionDays": num(0.01, 3650),
  "cameras[].eventRetentionExtraDays": num(0.01, 3650),
  "cameras[].record.mode": oneOf(RECORD_MODES),
  "cameras[].record.preRollSeconds": num(0, 30),
  "cameras[].record.postRollSeconds": num(0, 600),
  "plugins.<id>.keepMinutes": int(0, 1440),
} as const satisfies Record<string, Rule>;

export type RuleKey = keyof typeof RULES;

/** `[min, max]` of a numeric key, for the validator's readers. */
export function range(key: RuleKey): [number, number] {
  const rule: Rule = RULES[key];
  if (rule.kind !== "integer" && rule.kind !== "number") {
    throw new TypeError(`${key} is not a numeric key in config/rules.ts`);
  }
  return [rule.min, rule.max];
}

/** The least size a size key takes. */
export function sizeMin(key: RuleKey): number {
  const rule: Rule = RULES[key];
  if (rule.kind !== "size") throw new TypeError(`${key} is not a size key in config/rules.ts`);
  return rule.min;
}
