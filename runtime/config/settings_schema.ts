/**
 * What the Settings page may edit, described for it: exactly the keys of REMOTE_KEYS (the
 * allowlist), each with its type and bounds (rules.ts, which the validator enforces), its default
 * (DEFAULT_CONFIG), its value now, a one-line description (key_docs.ts, which docs/config.md is
 * made from) and when a change takes effect (applies.ts, which the daemon follows). Nothing here
 * is a second list of keys: a key added to the allowlist appears here by itself.
 *
 * `settingsChange` turns the page's changes (`{ "http.transcodesMax": 3, "cameras.gate.enabled":
 * false }`) into a whole configuration for `remoteConfig`, which stays the authority.
 */
import { type Applies, appliesWhen } from "./applies.ts";
import { keyDoc, oneLine } from "./key_docs.ts";
import { REMOTE_KEYS } from "./remote_keys.ts";
import { type Rule, RULES } from "./rules.ts";
import type { CameraConfig, NvrConfig } from "./types.ts";
import { ConfigError, DEFAULT_CONFIG, validateConfig } from "./validate.ts";

export type SettingType =
  | "boolean"
  | "integer"
  | "number"
  | "size"
  | "enum"
  | "string"
  | "list"
  | "object";

export interface SettingField {
  /** `http.transcodesMax`; `cameras`; `plugins.*.enabled`; a camera's field: `record.mode`. */
  readonly key: string;
  readonly section: string;
  readonly type: SettingType;
  /** null is allowed (an empty field sends null). */
  readonly nullable: boolean;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  readonly minLength?: number;
  /** A JavaScript regular expression source the value must match. */
  readonly pattern?: string;
  readonly default: unknown;
  readonly description: string;
  readonly applies: Applies;
  /** The change is written now and applies when the daemon next starts. */
  readonly restart: boolean;
}

export interface SettingKey extends SettingField {
  /** The value now (a plugin key: by plugin id; absent for `cameras`, see `cameras`). */
  readonly current?: unknown;
  /** Where the page edits it instead of the settings form (`plugins.*`). */
  readonly editedOn?: string;
  /** `cameras`: the fields of a camera the form edits, and each camera's values of them. */
  readonly fields?: readonly SettingField[];
  readonly cameras?: readonly CameraSettings[];
}

export interface CameraSettings {
  readonly id: string;
  readonly name: string;
  /** By field key (`record.mode`); URLs and credentials are not here (the camera page has them). */
  readonly values: Readonly<Record<string, unknown>>;
}

export interface SettingsSchema {
  readonly keys: readonly SettingKey[];
}

/**
 * A camera's fields the form edits: every one with a plain value. Its URLs, credentials, CA file,
 * ONVIF service and USB capture limits are set where the camera is added (and in the raw JSON).
 */
export const CAMERA_FORM_FIELDS = [
  "name",
  "enabled",
  "transport",
  "codec",
  "retentionDays",
  "eventRetentionExtraDays",
  "record.mode",
  "record.preRollSeconds",
  "record.postRollSeconds",
] as const;

/** A camera with every default, for the defaults of its fields. */
const DEFAULT_CAMERA: CameraConfig = validateConfig({
  cameras: [{ id: "c", url: "rtsp://127.0.0.1/", record: {} }],
}).cameras[0] as CameraConfig;

/** The description of the settings the page may edit, with the values of `current`. */
export function settingsSchema(current: NvrConfig): SettingsSchema {
  return { keys: Object.keys(REMOTE_KEYS).map((key) => settingKey(key, current)) };
}

function settingKey(key: string, current: NvrConfig): SettingKey {
  const [section = "", name = "", field = ""] = key.split(".");
  if (key === "cameras") {
    return {
      ...describe("cameras", "cameras", [], "list"),
      // A camera's name defaults to its id: no one value (docs/config.md says "the id").
      fields: CAMERA_FORM_FIELDS.map((f) =>
        f === "name"
          ? { ...describe("cameras[].name", "cameras", ""), default: null }
          : describe(`cameras[].${f}`, "cameras", pick(DEFAULT_CAMERA, f) ?? null)
      ),
      // Absent (no record, no extra days) shows as what it means.
      cameras: current.cameras.map((cam) => ({
        id: cam.id,
        name: cam.name,
        values: Object.fromEntries(
          CAMERA_FORM_FIELDS.map((f) => [f, pick(cam, f) ?? pick(DEFAULT_CAMERA, f) ?? null]),
        ),
      })),
    };
  }
  if (section === "plugins") {
    const fallback = (DEFAULT_PLUGIN as unknown as Record<string, unknown>)[field];
    // A plugin's settings are shown on its own screen, against its own schema.
    const shown = field === "settings" ? undefined : Object.fromEntries(
      Object.entries(current.plugins).map((
        [id, p],
      ) => [id, (p as unknown as Record<string, unknown>)[field]]),
    );
    return {
      ...describe(`plugins.<id>.${field}`, section, fallback, undefined, key),
      ...(shown === undefined ? {} : { current: shown }),
      editedOn: "#/plugins",
    };
  }
  const sections = DEFAULT_CONFIG as unknown as Record<string, Record<string, unknown>>;
  const now = (current as unknown as Record<string, Record<string, unknown>>)[section]?.[name];
  return { ...describe(key, section, sections[section]?.[name]), current: now ?? null };
}

const DEFAULT_PLUGIN = validateConfig({ plugins: { p: {} } }).plugins.p;

/** One field: its rule, or the type of its default; its doc row; when it applies. */
function describe(
  docKey: string,
  section: string,
  fallback: unknown,
  type?: SettingType,
  key = docKey,
): SettingField {
  const rule = (RULES as Record<string, Rule>)[docKey];
  const doc = keyDoc(docKey);
  if (!doc) throw new Error(`${docKey}: no row in config/key_docs.ts; add one (docs/config.md)`);
  const applies = appliesWhen(key.startsWith("cameras") ? "cameras" : key);
  const base = {
    key: key.startsWith("cameras[].") ? key.slice("cameras[].".length) : key,
    section,
    nullable: fallback === null,
    default: fallback,
    description: oneLine(doc.meaning),
    applies,
    restart: applies === "restart",
  };
  if (rule?.kind === "integer" || rule?.kind === "number") {
    return { ...base, type: rule.kind, min: rule.min, max: rule.max };
  }
  if (rule?.kind === "size") return { ...base, type: "size", min: rule.min };
  if (rule?.kind === "enum") return { ...base, type: "enum", values: rule.values };
  if (rule?.kind === "text") {
    return {
      ...base,
      type: "string",
      ...(rule.minLength === undefined ? {} : { minLength: rule.minLength }),
      ...(rule.pattern === undefined ? {} : { pattern: rule.pattern }),
    };
  }
  const inferred: SettingType = type ??
    (typeof fallback === "boolean"
      ? "boolean"
      : Array.isArray(fallback)
      ? "list"
      : typeof fallback === "object" && fallback !== null
      ? "object"
      : "string");
  return { ...base, type: inferred };
}

/** `record.mode` of a camera. */
function pick(cam: CameraConfig, field: string): unknown {
  return field.split(".").reduce<unknown>(
    (v, part) => typeof v === "object" && v !== null ? (v as Record<string, unknown>)[part] : v,
    cam,
  );
}

/** The most changes one request carries (every form field of 64 cameras fits). */
export const MAX_CHANGES = 1024;

/**
 * `current` with `changes` applied, as untrusted JSON for `remoteConfig` to validate. A change's
 * key is a settings key of the form (`log.level`) or a camera's field by id
 * (`cameras.gate.record.mode`); anything else is refused by name. A camera's nullable field set
 * to null is removed when absent means the same (`eventRetentionExtraDays`).
 */
export function settingsChange(changes: unknown, current: NvrConfig, source: string): unknown {
  if (typeof changes !== "object" || changes === null || Array.isArray(changes)) {
    throw new ConfigError(source, [
      'changes: give an object of key → value, e.g. {"log.level": "debug"}',
    ]);
  }
  const entries = Object.entries(changes);
  if (entries.length > MAX_CHANGES) {
    throw new ConfigError(source, [`changes: ${entries.length} keys; at most ${MAX_CHANGES}`]);
  }
  const out = structuredClone(current) as unknown as Record<string, unknown>;
  const sections = out as Record<string, Record<string, unknown>>;
  const cameras = out.cameras as Record<string, unknown>[];
  const problems: string[] = [];
  const formKeys = Object.keys(REMOTE_KEYS).filter((k) => k !== "cameras" && !k.includes("*"));
  for (const [key, value] of entries) {
    if (formKeys.includes(key)) {
      const [section = "", name = ""] = key.split(".");
      const part = sections[section];
      if (part) part[name] = value;
      continue;
    }
    const cam = /^cameras\.([A-Za-z0-9_-]{1,32})\.(.+)$/.exec(key);
    const field = cam?.[2] ?? "";
    const target = cam ? cameras.find((c) => c.id === cam[1]) : undefined;
    if (!cam || !(CAMERA_FORM_FIELDS as readonly string[]).includes(field)) {
      problems.push(
        `${key.slice(0, 80)}: not a setting the form may change; use one of the keys of ` +
          "GET /api/settings/schema or cameras.<id>.<field>, or PUT /api/config",
      );
    } else if (!target) {
      problems.push(`${key}: no camera '${cam[1]}'; add it first`);
    } else if (field.startsWith("record.")) {
      const record = { mode: "continuous", ...(target.record as object | undefined) };
      (record as Record<string, unknown>)[field.slice("record.".length)] = value;
      target.record = record;
    } else if (value === null && field === "eventRetentionExtraDays") {
      delete target[field];
    } else target[field] = value;
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return out;
}

/** A validator's key with the camera's index (`cameras[2].record.mode`) as the form's key. */
export function formKey(key: string, cameras: readonly { id: string }[]): string {
  return key.replace(/^cameras\[(\d+)\]\./, (whole, i) => {
    const id = cameras[Number(i)]?.id;
    return id === undefined ? whole : `cameras.${id}.`;
  });
}
