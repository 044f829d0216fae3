/**
 * The one-time code that first-run setup needs, so a fresh box cannot be claimed by whoever
 * reaches /api/setup first. It is the provisioned one when the provisioning file had one
 * (`setupCode`, kept in the identity store: runtime/fleet/provision.ts), else made at random, kept in `<dataDir>/setup-code` (0600) until setup is done
 * and printed at start as `setup code: <code>` (console and journal).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const SETUP_CODE_FILE = "setup-code";
/** No 0/O, 1/I: easy to read off a console and type. 32 signs: one byte % 32 is unbiased. */
const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const LENGTH = 10;
const PROVISIONED = /^[A-Za-z0-9-]{8,64}$/;

export function randomSetupCode(): string {
  return [...randomBytes(LENGTH)].map((b) => ALPHABET[b % 32]).join("");
}

function digest(code: string): Buffer {
  return createHash("sha256").update(code.trim().toUpperCase()).digest();
}

export class SetupCode {
  readonly code: string;
  /** Where the code is kept until setup is done. */
  readonly path: string;
  #used = false;

  private constructor(code: string, path: string) {
    this.code = code;
    this.path = path;
  }

  /**
   * The code for a box without accounts: the kept one, else the provisioned one (the
   * provisioning file's `setupCode`, from the identity store), else a new random one; written
   * 0600 to `<dataDir>/setup-code`.
   */
  static async prepare(dataDir: string, provisioned?: string | null): Promise<SetupCode> {
    const path = `${dataDir}/${SETUP_CODE_FILE}`;
    let code: string | null = null;
    try {
      code = (await Deno.readTextFile(path)).trim() || null;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (!code && provisioned) {
      if (!PROVISIONED.test(provisioned)) {
        throw new RangeError("the provisioned setupCode must be 8 to 64 of A-Z a-z 0-9 -");
      }
      code = provisioned.toUpperCase();
    }
    code ??= randomSetupCode();
    await Deno.writeTextFile(path, code + "\n", { mode: 0o600 });
    await Deno.chmod(path, 0o600); // an older file keeps its mode on write
    return new SetupCode(code, path);
  }

  /** Constant-time comparison (case and surrounding spaces do not matter). */
  matches(candidate: string): boolean {
    return !this.#used && timingSafeEqual(digest(candidate), digest(this.code));
  }

  /** Setup is done: the code no longer works and its file is deleted. */
  async consume(): Promise<void> {
    this.#used = true;
    await Deno.remove(this.path).catch(() => {});
  }
}
