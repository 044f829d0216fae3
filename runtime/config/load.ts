/**
 * One config pipeline: defaults → file → environment → validate. The file is JSON; the
 * environment overrides the few values that differ between machines of the same image.
 */
import { ConfigError, DEFAULT_CONFIG, validateConfig } from "./validate.ts";
import type { NvrConfig } from "./types.ts";

/** Environment variables that override the file, and the key each one sets. */
export const ENV_OVERRIDES = {
  NVR_DATA_DIR: ["storage", "dataDir"],
  NVR_LISTEN: ["http", "listen"],
  NVR_MQTT_URL: ["mqtt", "url"],
  NVR_LOG_LEVEL: ["log", "level"],
} as const;

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads, overrides and validates. Throws ConfigError naming the file and every bad key. */
export async function loadConfig(path: string | null, env: Env): Promise<NvrConfig> {
  let raw: unknown = {};
  const source = path ?? "defaults";
  if (path !== null) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound
        ? "the file does not exist"
        : err instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : String(err);
      throw new ConfigError(path, [`cannot read the config file: ${why}`]);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(path, [`not valid JSON: ${(err as Error).message}`]);
    }
  }
  return validateConfig(applyEnv(raw, env), withEnvNote(source, env));
}

/** Which config file to use: `--config FILE` wins over NVR_CONFIG; null means defaults only. */
export function configPath(args: readonly string[], env: Env): string | null {
  const i = args.findIndex((a) => a === "--config" || a.startsWith("--config="));
  if (i >= 0) {
    const arg = args[i] ?? "";
    const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[i + 1];
    if (!value) throw new ConfigError("command line", ["--config needs a file path"]);
    return value;
  }
  return env.NVR_CONFIG ?? null;
}

function applyEnv(raw: unknown, env: Env): unknown {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = { ...raw as Record<string, unknown> };
  for (const [name, [section, key]] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    const current = out[section];
    const base = typeof current === "object" && current !== null ? current : {};
    out[section] = { ...base, [key]: value };
  }
  return out;
}

function withEnvNote(source: string, env: Env): string {
  const used = Object.keys(ENV_OVERRIDES).filter((name) => env[name]);
  return used.length ? `${source} (with ${used.join(", ")} from the environment)` : source;
}

export { DEFAULT_CONFIG };
