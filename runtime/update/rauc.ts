/**
 * A thin wrapper over the `rauc` CLI with fixed argv: the only variable argument is the path of
 * a bundle the daemon downloaded into its own folder, never anything a fleet message names. RAUC
 * verifies the bundle's signature against the keyring of the image (its system.conf; tests pass
 * `keyring`). What goes back to the fleet is a fixed reason per failure; RAUC's own output goes to
 * the log.
 */
import type { Logger } from "../lib/log.ts";
import { compareVersions } from "./version.ts";

export interface RaucOptions {
  /** Default "rauc". */
  readonly program?: string;
  /** A keyring PEM for `rauc info` (tests only; on the box RAUC reads its system.conf). */
  readonly keyring?: string;
  readonly log?: Logger;
  /** Longest `rauc info`/`status`/`mark-good` (default 120 s); install: installTimeoutMs. */
  readonly timeoutMs?: number;
  /** Longest `rauc install` (default 30 min: an SD card writes a few MB/s). */
  readonly installTimeoutMs?: number;
}

export type RaucErrorKind = "signature" | "format" | "board" | "version" | "missing" | "failed";

export class RaucError extends Error {
  readonly kind: RaucErrorKind;
  constructor(kind: RaucErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RaucError";
    this.kind = kind;
  }
}

export interface BundleInfo {
  readonly compatible: string;
  readonly version: string;
}

export interface SlotStatus {
  readonly name: string;
  readonly bootname: string | null;
  /** "booted", "active", "inactive". */
  readonly state: string;
  /** "good", "bad" or null. */
  readonly bootStatus: string | null;
}

export interface RaucStatus {
  readonly compatible: string;
  /** Bootname of the booted slot, e.g. "A". */
  readonly booted: string | null;
  readonly slots: readonly SlotStatus[];
}

export interface Rauc {
  /** Reads and verifies a bundle (signature against the keyring). */
  info(bundle: string): Promise<BundleInfo>;
  /** Installs a bundle into the inactive slot. */
  install(bundle: string): Promise<void>;
  status(): Promise<RaucStatus>;
  /** Marks the booted slot good (the trial boot passed). */
  markGood(): Promise<void>;
  /** Marks the booted slot bad (the trial failed): the bootloader boots the other one. */
  markBad(): Promise<void>;
}

export function raucCli(options: RaucOptions = {}): Rauc {
  const program = options.program ?? "rauc";
  const keyring = options.keyring ? [`--keyring=${options.keyring}`] : [];
  const run = async (what: string, args: string[], timeoutMs: number) => {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(program, {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(timeoutMs),
      }).output();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new RaucError("missing", `rauc is not installed (${program} not found)`);
      }
      throw new RaucError("failed", `rauc ${what} could not run: ${(err as Error).message}`);
    }
    const stderr = new TextDecoder().decode(out.stderr);
    if (!out.success) {
      options.log?.warn("rauc failed", { what, code: out.code, stderr: stderr.slice(-2000) });
      throw classify(what, out.code ?? -1, out.signal, stderr);
    }
    return new TextDecoder().decode(out.stdout);
  };
  const timeout = options.timeoutMs ?? 120_000;
  return {
    async info(bundle) {
      const text = await run("info", [...keyring, "info", "--output-format=json", bundle], timeout);
      return parseInfo(text);
    },
    async install(bundle) {
      await run("install", ["install", bundle], options.installTimeoutMs ?? 30 * 60_000);
    },
    async status() {
      return parseStatus(await run("status", ["status", "--output-format=json"], timeout));
    },
    async markGood() {
      await run("mark-good", ["status", "mark-good"], timeout);
    },
    async markBad() {
      await run("mark-bad", ["status", "mark-bad"], timeout);
    },
  };
}

/** A fixed reason for the fleet from RAUC's exit; its text only picks which one. */
function classify(what: string, code: number, signal: string | null, stderr: string): RaucError {
  if (/signature verification failed|Verify error|not signed|no signature/i.test(stderr)) {
    return new RaucError(
      "signature",
      "the bundle's signature is not valid for this image's keyring; only bundles signed with " +
        "the image's key are installed",
    );
  }
  if (/Invalid bundle format|bundle size|Signature size|squashfs|too small/i.test(stderr)) {
    return new RaucError("format", "the bundle is not a valid RAUC bundle (truncated or damaged)");
  }
  const how = signal ? `was stopped (${signal})` : `exited ${code}`;
  return new RaucError("failed", `rauc ${what} ${how}; see the journal`);
}

/** `rauc info --output-format=json` → compatible and version; throws on anything else. */
export function parseInfo(text: string): BundleInfo {
  let json: { compatible?: unknown; version?: unknown };
  try {
    json = JSON.parse(text);
  } catch {
    throw new RaucError("format", "rauc info did not print JSON");
  }
  if (typeof json.compatible !== "string" || typeof json.version !== "string") {
    throw new RaucError("format", "the bundle's manifest lacks compatible or version");
  }
  return { compatible: json.compatible, version: json.version };
}

/** `rauc status --output-format=json` → the booted slot and each slot's state. */
export function parseStatus(text: string): RaucStatus {
  let json: { compatible?: unknown; booted?: unknown; slots?: unknown };
  try {
    json = JSON.parse(text);
  } catch {
    throw new RaucError("format", "rauc status did not print JSON");
  }
  const slots: SlotStatus[] = [];
  for (const entry of Array.isArray(json.slots) ? json.slots : []) {
    for (const [name, raw] of Object.entries(entry as Record<string, Record<string, unknown>>)) {
      const str = (v: unknown) => (typeof v === "string" ? v : null);
      const slotStatus = raw.slot_status as Record<string, unknown> | undefined;
      slots.push({
        name,
        bootname: str(raw.bootname),
        state: str(raw.state) ?? "unknown",
        bootStatus: str(raw.boot_status) ?? str(slotStatus?.boot_status) ?? null,
      });
    }
  }
  return {
    compatible: typeof json.compatible === "string" ? json.compatible : "",
    booted: typeof json.booted === "string" ? json.booted : null,
    slots,
  };
}

/** The booted slot of a status, or null. */
export function bootedSlot(status: RaucStatus): SlotStatus | null {
  return status.slots.find((s) => s.state === "booted") ??
    status.slots.find((s) => s.bootname !== null && s.bootname === status.booted) ?? null;
}

/**
 * Our checks on a verified bundle: made for this board, the version the command announced, and
 * newer than the running one. Throws RaucError naming what is wrong.
 */
export function checkBundle(
  info: BundleInfo,
  expect: { compatible: string; version: string; running: string },
): void {
  if (info.compatible !== expect.compatible) {
    throw new RaucError(
      "board",
      `the bundle is for '${info.compatible}', this board is '${expect.compatible}'; send the ` +
        "bundle built for this board",
    );
  }
  if (info.version !== expect.version) {
    throw new RaucError(
      "version",
      `the bundle's manifest says version '${info.version}', the command said ` +
        `'${expect.version}'; send the matching version`,
    );
  }
  let order: number;
  try {
    order = compareVersions(info.version, expect.running);
  } catch {
    throw new RaucError("version", `the bundle's version '${info.version}' is not a version`);
  }
  if (order <= 0) {
    throw new RaucError(
      "version",
      `the bundle's version ${info.version} is not newer than the running ${expect.running}; ` +
        "downgrades are refused (the data on the disk may already use a newer schema)",
    );
  }
}
