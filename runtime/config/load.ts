/**
 * One config pipeline: defaults → file → environment → validate. The file is JSON; the
 * environment overrides the few values that differ between machines of the same image.
 */
import { resolve } from "node:path";
import { ConfigError, DEFAULT_CONFIG, validateConfig } from "./validate.ts";
import type { NvrConfig } from "./types.ts";

/** Environment variables that override the file, and the key each one sets. */
export const ENV_OVERRIDES = {
  NVR_DATA_DIR: ["storage", "dataDir"],
  NVR_LISTEN: ["http", "listen"],
  NVR_MQTT_URL: ["mqtt", "url"],
  NVR_LOG_LEVEL: ["log", "level"],
  NVR_PROVISION_FILE: ["provision", "file"],
} as const;

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads, overrides and validates. Throws ConfigError naming the file and every bad key. A file
 * found empty or not JSON (a power cut during a write elsewhere than store.ts, a full disk) is
 * replaced by `<file>.bak`, the copy store.ts keeps, when that one is valid; `warn` says so.
 */
export async function loadConfig(
  path: string | null,
  env: Env,
  warn: (message: string) => void = console.error,
): Promise<NvrConfig> {
  return absolutePaths(await loadRaw(path, env, warn));
}

/**
 * A relative `storage.dataDir` resolved once, against the working directory at start: every
 * path built from it later (segment files, an export's ffmpeg list written in a temporary
 * folder, worker processes) then means the same file.
 */
function absolutePaths(config: NvrConfig): NvrConfig {
  const { dataDir } = config.storage;
  if (dataDir.startsWith("/")) return config;
  return { ...config, storage: { ...config.storage, dataDir: resolve(Deno.cwd(), dataDir) } };
}

async function loadRaw(
  path: string | null,
  env: Env,
  warn: (message: string) => void,
): Promise<NvrConfig> {
  if (path !== null) {
    try {
      return await loadFile(path, env);
    } catch (err) {
      if (!(err instanceof ConfigError) || !err.problems[0]?.startsWith("not valid JSON")) {
        throw err;
      }
      const bak = `${path}.bak`;
      let config: NvrConfig;
      try {
        config = await loadFile(bak, env);
      } catch {
        throw err; // no usable backup: the original error says what is wrong
      }
      warn(
        `CONFIG FILE ${path} IS EMPTY OR CORRUPT (${err.problems[0]}); started from the backup ` +
          `${bak}. The next change rewrites ${path}; or copy ${bak} over it.`,
      );
      return config;
    }
  }
  return validateConfig(applyEnv({}, env), withEnvNote("defaults", env));
}

async function loadFile(path: string, env: Env): Promise<NvrConfig> {
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
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const why = text.trim() === "" ? "the file is empty" : (err as Error).message;
    throw new ConfigError(path, [`not valid JSON: ${why}`]);
  }
  return validateConfig(applyEnv(raw, env), withEnvNote(path, env));
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
