/**
 * `deno task fleet licence issue <device>` as a library (issue 19): a signed licence for the
 * fingerprint hash the box last published (read from the console's registry), so the licence
 * binds to the hardware the box reported, never to what an operator typed. Signing uses the
 * fleet's Ed25519 private key (runtime/licence/sign_main.ts keygen writes it as JWK, 0600).
 */
import { signLicence } from "../licence/sign.ts";
import type { LicencePayload, SignedLicence } from "../licence/types.ts";
import { ConsoleError } from "./console.ts";
import type { DeviceRow } from "./registry.ts";

const DAY_MS = 86_400_000;

export interface IssueOptions {
  readonly privateKey: CryptoKey;
  /** Which of the boxes' trusted keys this is (the image's licence.publicKeys id). */
  readonly keyId?: string;
  /** Cameras that may record at once. */
  readonly maxCameras: number;
  /** Days from now to expiry. */
  readonly days: number;
  readonly now?: number;
  /** Default `lic-<device>-<issuedAt in base 36>`. */
  readonly licenceId?: string;
}

/** Reads the private key file that `sign_main.ts keygen` wrote (a JWK). */
export async function readSigningKey(path: string): Promise<CryptoKey> {
  let jwk: JsonWebKey;
  try {
    jwk = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    throw new ConsoleError(
      `--key ${path}: not a readable JWK (${(err as Error).message}); make one with ` +
        "`deno run -A runtime/licence/sign_main.ts keygen <file>`",
    );
  }
  try {
    return await crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]);
  } catch (err) {
    throw new ConsoleError(
      `--key ${path}: not an Ed25519 private key (${(err as Error).message})`,
    );
  }
}

/** The licence for `row`'s box; refuses a box the registry has no fingerprint of. */
export async function issueLicence(
  id: string,
  row: DeviceRow | undefined,
  options: IssueOptions,
): Promise<SignedLicence> {
  if (!row) {
    throw new ConsoleError(
      `licence issue ${id}: no such box in the registry; check the id with \`devices --refresh\``,
    );
  }
  if (!row.fingerprintHash) {
    throw new ConsoleError(
      `licence issue ${id}: the box has not published its fingerprint yet; wait until it is ` +
        "online and run `devices --refresh`",
    );
  }
  if (!Number.isInteger(options.maxCameras) || options.maxCameras < 0) {
    throw new ConsoleError(`--max-cameras ${options.maxCameras}: give a whole number ≥ 0`);
  }
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > 3660) {
    throw new ConsoleError(`--days ${options.days}: give a whole number of days, 1–3660`);
  }
  const issuedAt = options.now ?? Date.now();
  const payload: LicencePayload = {
    v: 1,
    licenceId: options.licenceId ?? `lic-${id}-${issuedAt.toString(36)}`,
    deviceId: id,
    fingerprintHash: row.fingerprintHash,
    maxCameras: options.maxCameras,
    issuedAt,
    expiresAt: issuedAt + options.days * DAY_MS,
  };
  return await signLicence(payload, options.privateKey, options.keyId);
}
