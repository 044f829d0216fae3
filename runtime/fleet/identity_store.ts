/**
 * The box's identity on the `state` partition (`identity.dir`, folder 0700), so losing the data
 * disk never loses who the box is:
 *
 *   identity.json  0600  fleet URL(s), bootstrap credential until enrolled, claim token, time
 *                        zone, NTP servers, setup code, deviceId once enrolled
 *   ca.crt         0644  the fleet CA
 *   device.key     0600  ECDSA P-256 private key, made on the box, never leaves it
 *   device.crt     0644  its certificate from the enrolment responder (CN = deviceId)
 *
 * Every file is written to `<name>.new` and renamed, so a power cut leaves the old or the new.
 */
import { importEcKey, makeEcKey } from "../tls/csr.ts";
import { writeAll } from "../std/io/write_all.ts";
import type { Bootstrap, Provisioning } from "./provision.ts";

export interface StoredIdentity {
  readonly version: 1;
  readonly fleetUrl: string | null;
  readonly enrolUrl: string | null;
  /** Deleted once the box has its own certificate. */
  readonly bootstrap: Bootstrap | null;
  readonly claimToken: string | null;
  readonly timeZone: string | null;
  readonly ntpServers: readonly string[];
  readonly setupCode: string | null;
  /** The deviceId the certificate was issued for (its CN); null until enrolled. */
  readonly deviceId: string | null;
  readonly provisionedAt: number;
  /** Why the provisioning file could not be wiped, when it could not. */
  readonly wipeProblem: string | null;
  /** SHA-256 of the file taken in: the same file found again (not wiped) is not applied twice. */
  readonly fileSha256: string | null;
}

export class IdentityStoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdentityStoreError";
  }
}

export class IdentityStore {
  readonly dir: string;
  readonly caFile: string;
  readonly keyFile: string;
  readonly certFile: string;
  readonly #file: string;

  constructor(dir: string) {
    this.dir = dir;
    this.caFile = `${dir}/ca.crt`;
    this.keyFile = `${dir}/device.key`;
    this.certFile = `${dir}/device.crt`;
    this.#file = `${dir}/identity.json`;
  }

  /** What is stored, or null for a box never provisioned. */
  async read(): Promise<StoredIdentity | null> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.#file);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw new IdentityStoreError(
        `identity store ${this.#file} cannot be read: ${(err as Error).message}; check ` +
          "identity.dir and that the state partition is mounted",
        { cause: err },
      );
    }
    try {
      const value = JSON.parse(text) as StoredIdentity;
      if (value.version !== 1) throw new Error(`version ${value.version} is not 1`);
      return value;
    } catch (err) {
      throw new IdentityStoreError(
        `identity store ${this.#file} is corrupt (${(err as Error).message}); provision the box ` +
          "again (put a new nvr-provision.json on the boot partition)",
        { cause: err },
      );
    }
  }

  /** Whether the box has a certificate of its own. */
  async enrolled(): Promise<boolean> {
    const [cert, key] = await Promise.all([exists(this.certFile), exists(this.keyFile)]);
    return cert && key && (await this.read())?.deviceId != null;
  }

  /**
   * Takes a validated provisioning file in. A file that names a fleet replaces the fleet part
   * (and any earlier enrolment: a new fleet means a new key and certificate); the other fields
   * replace the stored ones when the file has them.
   */
  async apply(p: Provisioning, now: number, fileSha256: string): Promise<StoredIdentity> {
    await this.#ensureDir();
    const before = await this.read().catch(() => null);
    const fleet = p.fleetUrl !== null;
    const next: StoredIdentity = {
      version: 1,
      fleetUrl: fleet ? p.fleetUrl : before?.fleetUrl ?? null,
      enrolUrl: fleet ? p.enrolUrl : before?.enrolUrl ?? null,
      bootstrap: fleet ? p.bootstrap : before?.bootstrap ?? null,
      claimToken: fleet ? p.claimToken : before?.claimToken ?? null,
      timeZone: p.timeZone ?? before?.timeZone ?? null,
      ntpServers: p.ntpServers.length ? p.ntpServers : before?.ntpServers ?? [],
      setupCode: p.setupCode ?? before?.setupCode ?? null,
      deviceId: fleet ? null : before?.deviceId ?? null,
      provisionedAt: now,
      wipeProblem: null,
      fileSha256,
    };
    if (fleet) {
      // The new identity.json is written last: until then the old one (if any) stands.
      await Deno.remove(this.certFile).catch(() => {});
      await Deno.remove(this.keyFile).catch(() => {});
      await writeAtomic(this.caFile, p.caPem!, 0o644);
    }
    await this.#write(next);
    return next;
  }

  /** Notes why the provisioning file could not be wiped (null: it was). */
  async setWipeProblem(problem: string | null): Promise<void> {
    const current = await this.read();
    if (current) await this.#write({ ...current, wipeProblem: problem });
  }

  /** The device key, made (0600) on first use; the same key for every request after. */
  async deviceKey(): Promise<CryptoKeyPair> {
    try {
      return await importEcKey(await Deno.readTextFile(this.keyFile));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new IdentityStoreError(
          `device key ${this.keyFile} is unusable (${(err as Error).message}); remove it and ` +
            "device.crt to enrol again with a new key",
          { cause: err },
        );
      }
    }
    await this.#ensureDir();
    const { keyPem, keys } = await makeEcKey();
    await writeAtomic(this.keyFile, keyPem, 0o600);
    return keys;
  }

  /** Keeps the certificate and forgets the bootstrap credential and claim token for good. */
  async saveCertificate(certPem: string, deviceId: string): Promise<void> {
    const current = await this.read();
    if (!current) throw new IdentityStoreError(`${this.#file} vanished during enrolment`);
    await writeAtomic(this.certFile, certPem, 0o644);
    await this.#write({ ...current, bootstrap: null, claimToken: null, deviceId });
  }

  async #ensureDir(): Promise<void> {
    try {
      await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await Deno.chmod(this.dir, 0o700);
    } catch (err) {
      throw new IdentityStoreError(
        `identity.dir ${this.dir} cannot be made or is not the daemon's: ` +
          `${(err as Error).message}; check that the state partition is mounted and writable`,
        { cause: err },
      );
    }
  }

  #write(value: StoredIdentity): Promise<void> {
    return writeAtomic(this.#file, JSON.stringify(value, null, 1) + "\n", 0o600);
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.new`;
  const f = await Deno.open(temp, { write: true, create: true, truncate: true, mode });
  try {
    await writeAll(f, new TextEncoder().encode(text));
    await f.sync();
  } finally {
    f.close();
  }
  await Deno.chmod(temp, mode); // the umask may have taken bits away; set exactly
  await Deno.rename(temp, path);
}
