/**
 * The `update` command and what follows it across the reboot: download, verify, install to the
 * inactive slot, reboot (now or in the window), then on the next boot the health gate that marks
 * the new slot good or reboots into the old one. One update at a time.
 *
 * Kept in `<dataDir>/.update/` (the data disk's state area; an update never touches recordings):
 * the bundle while it downloads and installs, `pending.json` (from, to, slot, the boot it was
 * installed in) so the next boot knows it is on trial, `last.json` (the last outcome, reported as
 * `lastUpdate` in the fleet `state`). The bundle URL is not persisted.
 */
import type { Logger } from "../lib/log.ts";
import {
  type LastUpdate,
  ProtocolError,
  type UpdateCommand,
  type UpdateResult,
} from "../fleet/schema.ts";
import { discard, downloadBundle, DownloadError, type DownloadOptions } from "./download.ts";
import { DEFAULT_GATE_TIMING, type GateProbe, type GateTiming, runHealthGate } from "./gate.ts";
import { bootedSlot, checkBundle, type Rauc, RaucError } from "./rauc.ts";
import { nextWindowStart } from "./window.ts";

export interface UpdaterDeps {
  /** The data folder; the update's files go to `<dataDir>/.update/` unless `dir` is given. */
  readonly dataDir: string;
  readonly dir?: string;
  /** The running software version. */
  readonly version: string;
  readonly log: Logger;
  readonly rauc: Rauc;
  /** This board's RAUC compatible string (the image's /etc/rauc/system.conf). */
  readonly compatible: () => Promise<string>;
  /** Id of this boot of the kernel (/proc/sys/kernel/random/boot_id). */
  readonly bootId: () => Promise<string>;
  /** The fixed reboot action of the image. */
  readonly reboot: () => Promise<void>;
  /** `update.rebootWindow` now ("02:00-04:00", local time) or null. */
  readonly rebootWindow: () => string | null;
  /** Download progress, sent as `update-progress` events. */
  readonly progress: (
    detail: { version: string; bytes: number; size: number; percent: number },
  ) => void;
  /** lastUpdate changed: publish `state` again. */
  readonly changed: () => void;
  readonly now?: () => number;
  /** Download knobs (tests shorten retries). */
  readonly download?: Omit<DownloadOptions, "dir" | "signal" | "onProgress" | "now">;
  readonly gate?: Partial<GateTiming>;
  /** Whether the data disk is there (default yes); without it an update is refused. */
  readonly diskReady?: () => boolean;
  /** Pause between queuing the result and a "now" reboot (default 3 s), so it is on disk. */
  readonly rebootDelayMs?: number;
}

/**
 * Written by the image's backstop (rootfs-overlay/usr/lib/nvr/firstboot/mark-good.sh) beside
 * pending.json when the new slot's daemon never reached its own gate: one line, the reason.
 */
const TRIAL_FAILED = "trial-failed";
/** Written when an update starts, removed when it is installed or has failed. */
const STARTED = "started.json";

interface Pending {
  readonly from: string;
  readonly to: string;
  readonly slot: string | null;
  readonly installedAt: number;
  /** The boot it was installed in: another boot id means the box rebooted since. */
  readonly bootId: string;
  readonly reboot: "now" | "window";
  /** Set when the health gate failed, before the reboot into the old slot. */
  readonly gateFailed?: string;
}

export class Updater {
  readonly #deps: UpdaterDeps;
  readonly #dir: string;
  readonly #now: () => number;
  readonly #abort = new AbortController();
  #busy = false;
  #pending: Pending | null;
  #last: LastUpdate | null;
  #rebootTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    deps: UpdaterDeps,
    dir: string,
    pending: Pending | null,
    last: LastUpdate | null,
  ) {
    this.#deps = deps;
    this.#dir = dir;
    this.#now = deps.now ?? Date.now;
    this.#pending = pending;
    this.#last = last;
  }

  static async open(deps: UpdaterDeps): Promise<Updater> {
    // Not created here: while the data disk is missing nothing may land on the root filesystem.
    const dir = deps.dir ?? `${deps.dataDir}/.update`;
    return new Updater(
      deps,
      dir,
      await readJson<Pending>(`${dir}/pending.json`),
      await readJson<LastUpdate>(`${dir}/last.json`),
    );
  }

  lastUpdate(): LastUpdate | null {
    return this.#last;
  }

  /** Runs an update command to the installed state; rejects with ProtocolError naming why not. */
  async update(cmd: UpdateCommand): Promise<UpdateResult> {
    if (this.#busy) {
      throw new ProtocolError("refused", "an update is already running; wait for its result");
    }
    if (this.#pending) {
      throw new ProtocolError(
        "refused",
        `the update to ${this.#pending.to} is installed and waits for its reboot or health gate`,
      );
    }
    if (this.#deps.diskReady && !this.#deps.diskReady()) {
      throw new ProtocolError(
        "refused",
        "the data disk is not ready, and the update is downloaded there; fix the disk first",
      );
    }
    this.#busy = true;
    const from = this.#deps.version;
    try {
      return await this.#update(cmd);
    } catch (err) {
      const refusal = asRefusal(err);
      await Deno.remove(`${this.#dir}/${STARTED}`).catch(() => {});
      await this.#setLast({
        from,
        to: cmd.version,
        slot: null,
        state: refusal.code === "refused" ? "refused" : "failed",
        reason: refusal.message,
        ts: this.#now(),
      });
      throw refusal;
    } finally {
      this.#busy = false;
    }
  }

  async #update(cmd: UpdateCommand): Promise<UpdateResult> {
    const d = this.#deps;
    const log = d.log;
    const expect = { compatible: await d.compatible(), version: cmd.version, running: d.version };
    // Cheap refusals first: a downgrade is refused before a byte is downloaded.
    checkBundle({ compatible: expect.compatible, version: cmd.version }, expect);
    // Kept until the install is done or failed: found at the next start, it means the box lost
    // power or restarted in the middle (the old slot runs; RAUC marks the target unbootable first).
    await Deno.mkdir(this.#dir, { recursive: true });
    await writeJson(`${this.#dir}/${STARTED}`, {
      from: d.version,
      to: cmd.version,
      bootId: await d.bootId(),
      ts: this.#now(),
    });
    log.info("update: downloading", { to: cmd.version, size: cmd.size });
    const bundle = await downloadBundle(cmd, {
      ...d.download,
      dir: this.#dir,
      signal: this.#abort.signal,
      now: this.#now,
      onProgress: (p) => d.progress({ version: cmd.version, ...p }),
    });
    try {
      // RAUC checks the signature against the image's keyring; we check board and version.
      const info = await d.rauc.info(bundle);
      checkBundle(info, expect);
      log.info("update: installing", { to: cmd.version });
      await d.rauc.install(bundle);
    } finally {
      await discard(this.#dir);
    }
    const slot = await d.rauc.status().then(
      (s) => s.slots.find((x) => x.state === "inactive" && /rootfs/.test(x.name))?.name ?? null,
      () => null,
    );
    const mode = cmd.reboot ?? "now";
    const pending: Pending = {
      from: d.version,
      to: cmd.version,
      slot,
      installedAt: this.#now(),
      bootId: await d.bootId(),
      reboot: mode,
    };
    await writeJson(`${this.#dir}/pending.json`, pending);
    await Deno.remove(`${this.#dir}/${STARTED}`).catch(() => {});
    this.#pending = pending;
    await this.#setLast({
      from: d.version,
      to: cmd.version,
      slot,
      state: "installed",
      ts: this.#now(),
    });
    const rebootAt = this.#scheduleReboot(mode);
    log.info("update: installed", {
      to: cmd.version,
      slot,
      rebootAt: new Date(rebootAt).toISOString(),
    });
    return { from: d.version, to: cmd.version, slot, state: "installed", rebootAt };
  }

  /**
   * After start: finishes what a pending update left. Same boot: the reboot is still due.
   * Another boot on the old version: the new slot failed (rolled back). Another boot on the new
   * version: the trial; the health gate decides. Resolves when that is done.
   */
  async afterBoot(probe: GateProbe): Promise<void> {
    const p = this.#pending;
    const d = this.#deps;
    const started = await readJson<{ from: string; to: string; bootId: string }>(
      `${this.#dir}/${STARTED}`,
    );
    if (started && !p && !this.#busy) {
      const rebooted = started.bootId !== (await d.bootId().catch(() => ""));
      const status = await d.rauc.status().catch(() => null);
      const slot = (status && bootedSlot(status)?.name) ?? null;
      d.log.warn("update: an update was interrupted before its install finished", {
        to: started.to,
        rebooted,
      });
      await Deno.remove(`${this.#dir}/${STARTED}`).catch(() => {});
      await discard(this.#dir);
      await this.#setLast({
        from: started.from,
        to: started.to,
        slot,
        state: "failed",
        reason: (rebooted
          ? "the box restarted (power cut or reset) before the install finished"
          : "the daemon restarted before the install finished") +
          `; ${d.version} still runs${slot ? ` from ${slot}` : ""}: send the update again`,
        ts: this.#now(),
      });
    }
    if (!p) return;
    if (p.bootId === (await d.bootId())) {
      this.#scheduleReboot(p.reboot);
      return;
    }
    if (d.version !== p.to) {
      d.log.warn("update: the old slot runs again; the update was rolled back", {
        from: p.from,
        to: p.to,
      });
      // The image's backstop (mark-good.sh) writes why when the new slot's daemon never got to
      // its own gate (it did not start, or never answered /healthz).
      const backstop = await Deno.readTextFile(`${this.#dir}/${TRIAL_FAILED}`).then(
        (t) => t.trim().slice(0, 500) || null,
        () => null,
      );
      await this.#finish({
        from: p.from,
        to: p.to,
        slot: p.slot,
        state: "rolled-back",
        reason: p.gateFailed ?? backstop ??
          "the new slot did not start (the bootloader fell back to the old one)",
        ts: this.#now(),
      });
      return;
    }
    const status = await d.rauc.status().catch(() => null);
    const slot = (status && bootedSlot(status)?.name) ?? p.slot;
    await this.#setLast({ from: p.from, to: p.to, slot, state: "trial", ts: this.#now() });
    d.log.info("update: on trial; health gate running", { to: p.to, slot });
    const outcome = await runHealthGate(probe, { ...DEFAULT_GATE_TIMING, ...d.gate }, {
      now: this.#now,
      signal: this.#abort.signal,
    });
    if (this.#abort.signal.aborted) return; // stopping: the next start runs the gate again
    let reason = outcome.ok ? null : outcome.reason;
    if (outcome.ok) {
      try {
        await d.rauc.markGood();
        d.log.info("update: health gate passed; slot marked good", { to: p.to, slot });
        await this.#finish({ from: p.from, to: p.to, slot, state: "good", ts: this.#now() });
        return;
      } catch (err) {
        reason = `rauc mark-good failed: ${(err as Error).message}`;
      }
    }
    d.log.error("update: health gate failed; rebooting into the old slot", { to: p.to, reason });
    const failed: Pending = { ...p, gateFailed: reason ?? "health gate failed" };
    await writeJson(`${this.#dir}/pending.json`, failed);
    this.#pending = failed;
    await this.#setLast({
      from: p.from,
      to: p.to,
      slot,
      state: "trial",
      reason: `${failed.gateFailed}; rebooting into the old slot`,
      ts: this.#now(),
    });
    await d.rauc.markBad().catch((err) => d.log.warn("update: rauc mark-bad failed", { err }));
    await d.reboot();
  }

  /** Stops a download or a gate in progress and a scheduled reboot. */
  stop(): void {
    this.#abort.abort();
    clearTimeout(this.#rebootTimer);
  }

  #scheduleReboot(mode: "now" | "window"): number {
    const window = mode === "window" ? this.#deps.rebootWindow() : null;
    const now = this.#now();
    const at = window ? nextWindowStart(now, window) : now + (this.#deps.rebootDelayMs ?? 3000);
    clearTimeout(this.#rebootTimer);
    this.#rebootTimer = setTimeout(() => {
      this.#deps.log.info("update: rebooting into the new slot", { to: this.#pending?.to });
      this.#deps.reboot().catch((err) => this.#deps.log.error("update: reboot failed", { err }));
    }, Math.max(0, at - now));
    return at;
  }

  async #finish(last: LastUpdate): Promise<void> {
    await Deno.remove(`${this.#dir}/pending.json`).catch(() => {});
    await Deno.remove(`${this.#dir}/${TRIAL_FAILED}`).catch(() => {});
    this.#pending = null;
    await this.#setLast(last);
  }

  async #setLast(last: LastUpdate): Promise<void> {
    this.#last = last;
    await writeJson(`${this.#dir}/last.json`, last).catch((err) =>
      this.#deps.log.warn("update: last.json not written", { err })
    );
    this.#deps.changed();
  }
}

/** A refusal for the fleet: what was wrong with the bundle, or that something failed. */
function asRefusal(err: unknown): ProtocolError {
  if (err instanceof ProtocolError) return err;
  if (err instanceof DownloadError) {
    return new ProtocolError(err.kind === "aborted" ? "failed" : "refused", err.message);
  }
  if (err instanceof RaucError) {
    const refused = ["signature", "format", "board", "version"].includes(err.kind);
    return new ProtocolError(refused ? "refused" : "failed", err.message);
  }
  return new ProtocolError("failed", `the update failed: ${(err as Error)?.message ?? err}`);
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return null;
  }
}

/**
 * Written to a temporary file, synced, renamed over `path`, and the folder synced: these files
 * must survive a power cut. Without the syncs, ext4's delayed allocation kept `started.json` at 0
 * bytes when the image test cut the power 15 s after the update command (run of 15:36), so the
 * next boot found no update it had started and never reported it failed.
 */
async function writeJson(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp`;
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    let written = 0;
    while (written < bytes.byteLength) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
  const slash = path.lastIndexOf("/");
  const dir = await Deno.open(slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".", {
    read: true,
  });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}
