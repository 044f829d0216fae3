/**
 * Desired/reported configuration, device-shadow style. The running configuration has a version
 * (0 for the config file the daemon started with; kept in the fleet KV across restarts). A new
 * configuration, from `config/desired` or the `apply-config` command, is validated like the
 * config file; a rejected one leaves the running one untouched. An accepted one is handed to the
 * daemon's `applyConfig` hook and becomes the running one when that succeeds. Every outcome is
 * reported on `config/reported`. Applies are serialised. The fleet may change only the keys of
 * config/remote_keys.ts: a configuration that changes another key (the broker, the data folder,
 * licensing, analytics consent…) is rejected, naming each. A change made on the box (local API)
 * is reported too, with status "local" and the running version.
 */
import { ConfigError } from "../config/validate.ts";
import { remoteConfig } from "../config/remote_keys.ts";
import type { NvrConfig } from "../config/types.ts";
import type { Logger } from "../lib/log.ts";
import type { FleetKv } from "./fleet_kv.ts";
import { redactConfig } from "./redact.ts";
import type { ConfigReported, Json } from "./schema.ts";

export type ApplyOutcome =
  | { readonly status: "applied"; readonly version: number }
  | { readonly status: "rejected"; readonly version: number; readonly problems: string[] }
  | { readonly status: "failed"; readonly version: number; readonly error: string }
  | { readonly status: "stale"; readonly version: number; readonly running: number };

export interface ShadowDeps {
  readonly kv: FleetKv;
  readonly initial: NvrConfig;
  readonly applyConfig: (config: NvrConfig) => Promise<void>;
  /** Queues a config/reported message (without seq and ts, which the link adds). */
  readonly report: (body: Omit<ConfigReported, "seq" | "ts">) => Promise<void>;
  readonly log: Logger;
}

const VERSION_KEY = ["shadow", "version"];
/** The highest desired version refused as invalid: its retained copy is not tried again. */
const REJECTED_KEY = ["shadow", "rejected"];

export class ConfigShadow {
  readonly #deps: ShadowDeps;
  #config: NvrConfig;
  #version: number;
  #rejected: number;
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(deps: ShadowDeps, version: number, rejected: number) {
    this.#deps = deps;
    this.#config = deps.initial;
    this.#version = version;
    this.#rejected = rejected;
  }

  static async open(deps: ShadowDeps): Promise<ConfigShadow> {
    const version = (await deps.kv.get<number>(VERSION_KEY)).value ?? 0;
    const rejected = (await deps.kv.get<number>(REJECTED_KEY)).value ?? 0;
    return new ConfigShadow(deps, version, rejected);
  }

  get config(): NvrConfig {
    return this.#config;
  }

  get version(): number {
    return this.#version;
  }

  /** Applies `raw` as version `version` (default: running + 1), and reports the outcome. */
  apply(raw: Json, version?: number): Promise<ApplyOutcome> {
    const run = this.#chain.then(() => this.#apply(raw, version));
    this.#chain = run.catch(() => {});
    return run;
  }

  /**
   * A `config/desired` message (read from its exact retained topic on every connect): applied
   * only when newer than the running version, and not again when that version was rejected as
   * invalid (the retained copy comes back on every reconnect; the fleet fixes it with a new one).
   */
  desired(raw: Json, version: number): Promise<ApplyOutcome | null> {
    const run = this.#chain.then(async () => {
      if (version <= this.#version || version <= this.#rejected) {
        this.#deps.log.debug("config/desired is not newer than the running config; nothing to do", {
          desired: version,
          running: this.#version,
          rejected: this.#rejected,
        });
        return null;
      }
      const outcome = await this.#apply(raw, version);
      if (outcome.status === "rejected") {
        this.#rejected = version;
        await this.#deps.kv.set(REJECTED_KEY, version);
      }
      return outcome;
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  async #apply(raw: Json, requested: number | undefined): Promise<ApplyOutcome> {
    const version = requested ?? this.#version + 1;
    if (version <= this.#version) {
      return { status: "stale", version, running: this.#version };
    }
    const log = this.#deps.log;
    let config: NvrConfig;
    try {
      config = remoteConfig(raw, this.#config, {
        by: "from the fleet",
        source: `the fleet's configuration version ${version}`,
        markerFrom: "get-config",
      });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const problems = [...err.problems];
      log.warn("fleet configuration rejected; the running one is unchanged", {
        version,
        problems,
      });
      await this.#report({ version, status: "rejected", problems, error: problems.join("; ") });
      return { status: "rejected", version, problems };
    }
    try {
      await this.#deps.applyConfig(config);
    } catch (err) {
      const error = `the daemon could not apply it: ${(err as Error).message}`;
      log.error("fleet configuration failed to apply", { version, err });
      await this.#report({ version, status: "failed", error });
      return { status: "failed", version, error };
    }
    this.#config = config;
    this.#version = version;
    await this.#deps.kv.set(VERSION_KEY, version);
    log.info("fleet configuration applied", { version });
    await this.#report({ version, status: "applied" });
    return { status: "applied", version };
  }

  /**
   * The configuration was changed on the box (the local API, analytics consent): it becomes the
   * one the fleet compares against, and is reported with status "local" so the fleet sees it.
   */
  local(config: NvrConfig): Promise<void> {
    const run = this.#chain.then(async () => {
      this.#config = config;
      await this.#report({ version: this.#version, status: "local" });
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  #report(
    outcome: {
      version: number;
      status: ConfigReported["status"];
      problems?: string[];
      error?: string;
    },
  ): Promise<void> {
    return this.#deps.report({
      ...outcome,
      runningVersion: this.#version,
      appliedVersion: this.#version,
      config: redactConfig(this.#config),
    });
  }
}
