/**
 * A plugin's manifest (`plugin.json` in its folder): who it is, what it may touch, how much memory
 * it may use, and the settings it takes. Read by the host before any plugin code runs, at install
 * and at every start; the permissions it grants are the only ones the plugin process gets.
 *
 * Permissions are a closed list: `read` (folders under /sys, e.g. /sys/bus/w1/devices) and
 * `devices` (serial ports under /dev, opened by the host and relayed). Anything else — network,
 * environment, subprocesses, FFI, writes, a raw Deno flag — is refused with its name.
 */
import type { ReadingValue } from "./protocol.ts";

export const MANIFEST_FILE = "plugin.json";

export type SettingSpec =
  | {
    readonly type: "number";
    readonly default?: number;
    readonly min?: number;
    readonly max?: number;
    readonly description?: string;
  }
  | {
    readonly type: "string";
    readonly default?: string;
    readonly maxLength?: number;
    readonly description?: string;
  }
  | { readonly type: "boolean"; readonly default?: boolean; readonly description?: string };

export interface Manifest {
  /** Folder name, config key and health id: lower-case letters, digits and '-', at most 32. */
  readonly id: string;
  readonly name: string;
  readonly version: string;
  /** The module the host starts, relative to the plugin folder; default "main.ts". */
  readonly main: string;
  readonly permissions: {
    /** Folders the plugin may read, each under /sys. */
    readonly read: readonly string[];
    /** Serial ports the host may open for it, each under /dev. */
    readonly devices: readonly string[];
  };
  /** V8 heap cap in MiB (`--max-old-space-size`), 16–512; default 64. */
  readonly memoryMb: number;
  readonly settings: Readonly<Record<string, SettingSpec>>;
}

/** A manifest or settings value that cannot be used; the message names the field. */
export class ManifestError extends Error {
  override name = "ManifestError";
}

const ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const SETTING_KEY = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const TOP_KEYS = new Set([
  "id",
  "name",
  "version",
  "main",
  "permissions",
  "memoryMb",
  "settings",
  "description",
]);

/** Why each kind of access is never granted, by the names a manifest might use for it. */
const NEVER: Readonly<Record<string, string>> = {
  net: "network access",
  env: "the environment",
  run: "starting processes",
  ffi: "native libraries (FFI)",
  sys: "system information",
  write: "writing files",
  import: "loading remote code",
  all: "every permission",
};

export function parseManifest(raw: unknown, where: string): Manifest {
  const fail = (field: string, msg: string): never => {
    throw new ManifestError(`${where}: ${field}: ${msg}`);
  };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return fail("(top)", "expected a JSON object");
  }
  const m = raw as Record<string, unknown>;
  for (const key of Object.keys(m)) {
    if (!TOP_KEYS.has(key)) {
      fail(key, `unknown key; a manifest has ${[...TOP_KEYS].join(", ")}`);
    }
  }
  const text = (field: string, max: number, value = m[field]) =>
    typeof value === "string" && value.length > 0 && value.length <= max
      ? value
      : fail(field, `expected a non-empty string of at most ${max} characters`);
  const id = text("id", 32);
  if (!ID.test(id)) fail("id", `${JSON.stringify(id)}: use lower-case letters, digits and '-'`);
  const main = m.main === undefined ? "main.ts" : text("main", 128);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_./-]*\.(ts|js)$/.test(main) || main.split("/").includes("..")) {
    fail("main", `${JSON.stringify(main)}: a .ts or .js file inside the plugin folder`);
  }
  const memoryMb = m.memoryMb === undefined ? 64 : m.memoryMb;
  if (
    typeof memoryMb !== "number" || !Number.isInteger(memoryMb) || memoryMb < 16 || memoryMb > 512
  ) {
    fail("memoryMb", `${JSON.stringify(memoryMb)}: a whole number of MiB from 16 to 512`);
  }
  return {
    id,
    name: text("name", 80),
    version: text("version", 32),
    main,
    permissions: parsePermissions(m.permissions, fail),
    memoryMb: memoryMb as number,
    settings: parseSettingsSchema(m.settings, fail),
  };
}

function parsePermissions(
  raw: unknown,
  fail: (field: string, msg: string) => never,
): Manifest["permissions"] {
  if (raw === undefined) return { read: [], devices: [] };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return fail("permissions", "expected an object with `read` and `devices` lists");
  }
  for (const key of Object.keys(raw)) {
    if (key === "read" || key === "devices") continue;
    const bare = key.replace(/^-*(allow-|deny-)?/i, "").toLowerCase();
    const what = NEVER[bare];
    fail(
      `permissions.${key}`,
      what
        ? `plugins are never given ${what}; remove it (a plugin may only read folders under ` +
          "/sys and use serial ports under /dev through the host)"
        : "unknown permission; a plugin may ask only for `read` (folders under /sys) and " +
          "`devices` (serial ports under /dev)",
    );
  }
  const r = raw as Record<string, unknown>;
  const paths = (field: "read" | "devices", root: string): string[] => {
    const list = r[field] ?? [];
    if (!Array.isArray(list) || list.length > 16) {
      return fail(`permissions.${field}`, "expected a list of at most 16 absolute paths");
    }
    return list.map((p, i) => {
      if (
        typeof p !== "string" || !p.startsWith(root) || p.length > 200 ||
        p.split("/").some((s) => s === ".." || s === ".") || /[,\0\n]/.test(p)
      ) {
        fail(
          `permissions.${field}[${i}]`,
          `${JSON.stringify(p)}: an absolute path under ${root} without '..', '.' or commas`,
        );
      }
      return (p as string).replace(/\/+$/, "");
    });
  };
  return { read: paths("read", "/sys/"), devices: paths("devices", "/dev/") };
}

function parseSettingsSchema(
  raw: unknown,
  fail: (field: string, msg: string) => never,
): Record<string, SettingSpec> {
  if (raw === undefined) return {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return fail("settings", "expected an object of setting name → {type, default, …}");
  }
  const out: Record<string, SettingSpec> = {};
  for (const [key, spec] of Object.entries(raw)) {
    const field = `settings.${key}`;
    if (!SETTING_KEY.test(key)) fail(field, "a setting name is a letter, then letters/digits/_");
    if (typeof spec !== "object" || spec === null) fail(field, "expected {type, …}");
    const s = spec as Record<string, unknown>;
    const allowed: Record<string, string[]> = {
      number: ["type", "default", "min", "max", "description"],
      string: ["type", "default", "maxLength", "description"],
      boolean: ["type", "default", "description"],
    };
    const keys = allowed[String(s.type)];
    if (!keys) fail(`${field}.type`, "expected number, string or boolean");
    for (const k of Object.keys(s)) {
      if (!keys!.includes(k)) fail(`${field}.${k}`, `unknown; a ${s.type} setting has ${keys}`);
    }
    const spec2 = { ...s } as SettingSpec;
    if (s.default !== undefined) checkSetting(spec2, s.default, (msg) => fail(field, msg));
    out[key] = spec2;
  }
  return out;
}

/** Checks one value against its spec; returns it or calls `fail`. */
function checkSetting(
  spec: SettingSpec,
  value: unknown,
  fail: (msg: string) => never,
): ReadingValue {
  switch (spec.type) {
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) {
        return fail(`${JSON.stringify(value)}: expected a number`);
      }
      if (spec.min !== undefined && value < spec.min) return fail(`${value} is below ${spec.min}`);
      if (spec.max !== undefined && value > spec.max) return fail(`${value} is above ${spec.max}`);
      return value;
    case "string": {
      const max = spec.maxLength ?? 200;
      if (typeof value !== "string" || value.length > max) {
        return fail(`${JSON.stringify(value)}: expected a string of at most ${max} characters`);
      }
      return value;
    }
    case "boolean":
      if (typeof value !== "boolean") return fail(`${JSON.stringify(value)}: expected true/false`);
      return value;
  }
}

/**
 * The settings a plugin starts with: `values` checked against the manifest's schema, defaults
 * filled in. Throws ManifestError naming the plugin and the setting.
 */
export function resolveSettings(
  manifest: Manifest,
  values: Readonly<Record<string, unknown>>,
): Record<string, ReadingValue> {
  const out: Record<string, ReadingValue> = {};
  const fail = (key: string) => (msg: string): never => {
    throw new ManifestError(`plugin '${manifest.id}': setting ${key}: ${msg}`);
  };
  for (const key of Object.keys(values)) {
    if (!(key in manifest.settings)) {
      const known = Object.keys(manifest.settings).join(", ") || "none";
      fail(key)(`not a setting of this plugin; its settings: ${known}`);
    }
  }
  for (const [key, spec] of Object.entries(manifest.settings)) {
    const value = values[key] ?? spec.default;
    if (value === undefined) fail(key)("required (the plugin's schema has no default)");
    out[key] = checkSetting(spec, value, fail(key));
  }
  return out;
}
