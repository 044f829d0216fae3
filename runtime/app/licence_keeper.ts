/**
 * The box's licence: kept in `<dataDir>/licence.json`, verified offline against this box's
 * fingerprint hash and device id, re-checked every hour (expiry and grace pass while running),
 * and turned into the list of cameras that may record. The trusted keys come from the image's
 * read-only keys file (licence.keysFile), never from the configuration the fleet or the API can
 * change. With no keys file, licensing is off: every camera records and no status is reported.
 */
import type { LicenceConfig, LicencePolicy } from "../config/types.ts";
import { ConfigError, validateLicencePolicy } from "../config/validate.ts";
import type { Logger } from "../lib/log.ts";
import {
  type CameraLimit,
  enforceCameraLimit,
  type LicenceStatus,
  verifyLicence,
} from "../licence/mod.ts";

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
  #policy: LicencePolicy | null = null;
  #status: LicenceStatus | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;

  private constructor(deps: LicenceKeeperDeps) {
    this.#deps = deps;
  }

  static async open(deps: LicenceKeeperDeps): Promise<LicenceKeeper> {
    const keeper = new LicenceKeeper(deps);
    keeper.#policy = await loadLicencePolicy(deps.config.keysFile, deps.log);
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

  /** Licensing is on when the image ships a keys file (even one that is not trusted). */
  get enabled(): boolean {
    return this.#policy !== null;
  }

  status(): LicenceStatus | null {
    return this.#status;
  }

  /** Which of these cameras (enabled ones, config order) may record; null: all. */
  limit(cameras: readonly string[]): CameraLimit | null {
    if (!this.enabled || !this.#status) return null;
    return enforceCameraLimit(this.#status, cameras, {
      unlicensedCameras: this.#policy?.unlicensedCameras ?? 0,
    });
  }

  /** Verifies and keeps a licence from the fleet; a tampered or foreign one is refused. */
  async install(licence: unknown): Promise<LicenceStatus> {
    if (!this.enabled) throw new LicenceRejectedError("licensing is off (no licence keys file)");
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
    const { deviceId, fingerprintHash } = this.#deps;
    return verifyLicence(licence, {
      publicKeys: this.#policy?.publicKeys ?? [],
      fingerprintHash,
      deviceId,
      now: (this.#deps.now ?? Date.now)(),
      graceDays: this.#policy?.graceDays ?? 0,
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

/**
 * The image's licence policy: null when there is no keys file (licensing off). A file that the
 * daemon's user could change, or that does not parse, is not trusted: licensing stays on with no
 * trusted key and no camera without a licence (fail closed), and the log says why.
 */
export async function loadLicencePolicy(path: string, log: Logger): Promise<LicencePolicy | null> {
  const closed: LicencePolicy = { publicKeys: [], graceDays: 0, unlicensedCameras: 0 };
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    log.error("licence keys file unreadable; no licence is trusted", { module: "licence", err });
    return closed;
  }
  const mode = info.mode ?? 0o777;
  const ours = info.uid === Deno.uid();
  if ((mode & 0o022) !== 0 || (ours && (mode & 0o200) !== 0)) {
    log.error(
      `licence keys file ${path} is writable by the daemon's user or others; no licence is ` +
        "trusted until the image ships it read-only (owned by root, mode 0444)",
      { module: "licence", mode: mode.toString(8) },
    );
    return closed;
  }
  try {
    return validateLicencePolicy(
      JSON.parse(await Deno.readTextFile(path)),
      `licence keys file ${path}`,
    );
  } catch (err) {
    const why = err instanceof ConfigError ? err.message : `not valid JSON: ${err}`;
    log.error(`licence keys file ${path}: ${why}; no licence is trusted`, { module: "licence" });
    return closed;
  }
}
