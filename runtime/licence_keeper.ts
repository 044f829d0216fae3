/**
 * The box's licence: kept in `<dataDir>/licence.json`, verified offline against this box's
 * fingerprint hash and device id, re-checked every hour (expiry and grace pass while running),
 * and turned into the list of cameras that may record. With no trusted keys in the config,
 * licensing is off: every camera records and no status is reported.
 */
import type { LicenceConfig } from "./config/types.ts";
import type { Logger } from "./log.ts";
import {
  type CameraLimit,
  enforceCameraLimit,
  type LicenceStatus,
  verifyLicence,
} from "./licence/mod.ts";

export class LicenceRejectedError extends Error {
  constructor(reason: string) {
    super(`Licence rejected, the installed one stays: ${reason}`);
    this.name = "LicenceRejectedError";
  }
}

export interface LicenceKeeperDeps {
  readonly config: LicenceConfig;
  readonly dataDir: string;
  readonly deviceId: string;
  readonly fingerprintHash: string;
  readonly log: Logger;
  readonly now?: () => number;
  /** The licence state changed (install, expiry, grace): recorders are rebuilt, the fleet told. */
  readonly onChange?: (from: LicenceStatus | null, to: LicenceStatus) => void;
}

const RECHECK_MS = 3600_000;

export class LicenceKeeper {
  readonly #deps: LicenceKeeperDeps;
  #licence: unknown = null;
  #status: LicenceStatus | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;

  private constructor(deps: LicenceKeeperDeps) {
    this.#deps = deps;
  }

  static async open(deps: LicenceKeeperDeps): Promise<LicenceKeeper> {
    const keeper = new LicenceKeeper(deps);
    if (!keeper.enabled) return keeper;
    try {
      keeper.#licence = JSON.parse(await Deno.readTextFile(keeper.#path));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        deps.log.warn("licence file unreadable; treated as none", { module: "licence", err });
      }
    }
    keeper.#status = await keeper.#verify(keeper.#licence);
    deps.log.info("licence", {
      module: "licence",
      state: keeper.#status.state,
      reason: keeper.#status.reason,
    });
    keeper.#timer = setInterval(() => void keeper.recheck(), RECHECK_MS);
    return keeper;
  }

  /** Licensing is on when the config trusts at least one key. */
  get enabled(): boolean {
    return this.#deps.config.publicKeys.length > 0;
  }

  status(): LicenceStatus | null {
    return this.#status;
  }

  /** Which of these cameras (enabled ones, config order) may record; null: all. */
  limit(cameras: readonly string[]): CameraLimit | null {
    if (!this.enabled || !this.#status) return null;
    return enforceCameraLimit(this.#status, cameras, {
      unlicensedCameras: this.#deps.config.unlicensedCameras,
    });
  }

  /** Verifies and keeps a licence from the fleet; a tampered or foreign one is refused. */
  async install(licence: unknown): Promise<LicenceStatus> {
    if (!this.enabled) throw new LicenceRejectedError("licensing is off (no licence.publicKeys)");
    const status = await this.#verify(licence);
    if (status.state === "tampered" || status.state === "foreign" || status.state === "none") {
      throw new LicenceRejectedError(status.reason);
    }
    const temp = `${this.#path}.new`;
    await Deno.writeTextFile(temp, JSON.stringify(licence));
    await Deno.rename(temp, this.#path);
    this.#licence = licence;
    this.#set(status);
    return status;
  }

  /** Verifies the installed licence again (time passes: valid → grace → expired). */
  async recheck(): Promise<void> {
    if (this.enabled) this.#set(await this.#verify(this.#licence));
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
  }

  get #path(): string {
    return `${this.#deps.dataDir}/licence.json`;
  }

  #verify(licence: unknown): Promise<LicenceStatus> {
    const { config, deviceId, fingerprintHash } = this.#deps;
    return verifyLicence(licence, {
      publicKeys: config.publicKeys,
      fingerprintHash,
      deviceId,
      now: (this.#deps.now ?? Date.now)(),
      graceDays: config.graceDays,
    });
  }

  #set(next: LicenceStatus): void {
    const before = this.#status;
    this.#status = next;
    if (before?.state !== next.state || before?.maxCameras !== next.maxCameras) {
      this.#deps.log.info("licence changed", {
        module: "licence",
        from: before?.state ?? null,
        to: next.state,
        reason: next.reason,
      });
      this.#deps.onChange?.(before, next);
    }
  }
}
