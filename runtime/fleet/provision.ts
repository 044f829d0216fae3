/**
 * `nvr-provision.json`, the file a person puts on the boot partition before first boot (path:
 * `provision.file`): the fleet URL, the fleet CA, the bootstrap credential and/or claim token,
 * the time zone, NTP servers and the local setup code. Every field is validated before anything
 * is written, with every bad field named; a hostile or malformed file changes nothing. What it
 * holds goes into the identity store (identity_store.ts), then the file is wiped.
 */
import { ObjectReader, show } from "../config/reader.ts";
import { fromPem } from "../tls/self_signed.ts";

/** How the box logs in to the enrolment listener before it has a certificate of its own. */
export type Bootstrap =
  | { readonly username: string; readonly password: string }
  | { readonly certPem: string; readonly keyPem: string };

export interface Provisioning {
  /** The fleet broker the box talks to as itself (mutual TLS): mqtts:// or wss://. */
  readonly fleetUrl: string | null;
  /** Where it enrols (the bootstrap listener); default the fleetUrl. */
  readonly enrolUrl: string | null;
  /** The fleet CA (PEM): signs the broker's certificate and the box's. */
  readonly caPem: string | null;
  readonly bootstrap: Bootstrap | null;
  readonly claimToken: string | null;
  /** IANA time zone, e.g. "Europe/Berlin". */
  readonly timeZone: string | null;
  readonly ntpServers: readonly string[];
  /** The first-run setup code of the local page (users/setup_code.ts). */
  readonly setupCode: string | null;
}

export class ProvisionError extends Error {
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super(
      `Provisioning file ${file} was not applied (nothing of it was used):\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        "\nFix these fields (see docs/provisioning.md) and restart the box.",
    );
    this.name = "ProvisionError";
    this.problems = problems;
  }
}

/** Larger than any honest file (a CA chain and a bootstrap certificate are a few KiB). */
export const MAX_PROVISION_BYTES = 64 * 1024;
const SETUP_CODE = /^[A-Za-z0-9-]{8,64}$/;
const HOST = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/**
 * Reads and validates the file. Null when there is none. ProvisionError (every problem named)
 * for a file that is too big, not JSON, has a bad field, or that others than its owner may read
 * or write (it holds a secret, and a file others could write could point the box at their
 * fleet).
 */
export async function readProvisioning(
  file: string,
  o: { readonly allowInsecure: boolean },
): Promise<Provisioning | null> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.lstat(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new ProvisionError(file, [`cannot be read: ${(err as Error).message}`]);
  }
  if (!stat.isFile) throw new ProvisionError(file, ["is not a regular file (a link?)"]);
  if (stat.mode !== null && (stat.mode & 0o077) !== 0) {
    throw new ProvisionError(file, [
      `mode ${(stat.mode & 0o777).toString(8)}: others than its owner may read or write it; ` +
      "its bootstrap credential may be known (rotate it) and its contents cannot be trusted. " +
      "Give it mode 0600 (the boot partition is mounted umask=0077)",
    ]);
  }
  if (stat.size > MAX_PROVISION_BYTES) {
    throw new ProvisionError(file, [`is ${stat.size} bytes; at most ${MAX_PROVISION_BYTES}`]);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(file));
  } catch (err) {
    throw new ProvisionError(file, [`cannot be read as UTF-8: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ProvisionError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  return validateProvisioning(raw, file, o);
}

/** The checks of readProvisioning on parsed JSON. */
export function validateProvisioning(
  raw: unknown,
  file: string,
  o: { readonly allowInsecure: boolean },
): Provisioning {
  const errors: string[] = [];
  const top = ObjectReader.of("", raw, errors);
  if (!top) throw new ProvisionError(file, errors);
  const fleetUrl = brokerUrl(top, "fleetUrl", o.allowInsecure);
  const enrolUrl = brokerUrl(top, "enrolUrl", o.allowInsecure);
  const caPem = pem(top, "caCert", "CERTIFICATE");
  const bootstrap = readBootstrap(top, errors);
  const claimToken = top.nullableString("claimToken");
  if (claimToken !== null && !/^[\x21-\x7e]{8,256}$/.test(claimToken)) {
    top.fail("claimToken", "must be 8 to 256 printable ASCII characters without spaces");
  }
  const timeZone = top.nullableString("timeZone");
  if (timeZone !== null && !validTimeZone(timeZone)) {
    top.fail("timeZone", `${show(timeZone)} is not an IANA time zone such as "Europe/Berlin"`);
  }
  const ntpServers = readNtp(top);
  const setupCode = top.nullableString("setupCode");
  if (setupCode !== null && !SETUP_CODE.test(setupCode)) {
    top.fail("setupCode", "must be 8 to 64 of A-Z a-z 0-9 -");
  }
  top.rejectUnknown();
  const fleet = fleetUrl ?? enrolUrl ?? caPem ?? bootstrap ?? claimToken;
  if (fleet !== null && errors.length === 0) {
    if (fleetUrl === null) errors.push("fleetUrl: required to join a fleet");
    if (caPem === null) errors.push("caCert: required to join a fleet (the fleet CA, PEM)");
    if (bootstrap === null && claimToken === null) {
      errors.push("bootstrap or claimToken: one is needed to enrol");
    }
  }
  if (errors.length > 0) throw new ProvisionError(file, errors);
  return {
    fleetUrl,
    enrolUrl,
    caPem,
    bootstrap,
    claimToken,
    timeZone,
    ntpServers,
    setupCode: setupCode?.toUpperCase() ?? null,
  };
}

function brokerUrl(r: ObjectReader, key: string, allowInsecure: boolean): string | null {
  const value = r.nullableString(key);
  if (value === null) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    r.fail(key, `${show(value)} is not a URL; e.g. "mqtts://mqtt.example.com:8883"`);
    return null;
  }
  const secure = url.protocol === "mqtts:" || url.protocol === "wss:";
  const plain = url.protocol === "mqtt:" || url.protocol === "ws:";
  if (!secure && !plain) {
    r.fail(key, `scheme ${url.protocol} is not mqtts: or wss:`);
    return null;
  }
  if (plain && !allowInsecure) {
    r.fail(
      key,
      `${url.protocol}// sends the bootstrap credential and the box's traffic unencrypted; use ` +
        "mqtts:// (provision.allowInsecure is for tests only)",
    );
    return null;
  }
  if (url.username || url.password) {
    r.fail(key, "must not carry a user name or password; put the credential in bootstrap");
    return null;
  }
  if (!url.hostname || url.pathname.length > 1 || url.search || url.hash) {
    if (url.protocol.startsWith("ws") && url.hostname) return value;
    r.fail(key, `${show(value)} must be scheme://host:port and nothing more`);
    return null;
  }
  return value;
}

function pem(r: ObjectReader, key: string, label: string): string | null {
  const value = r.nullableString(key);
  if (value === null) return null;
  try {
    fromPem(value, label);
    return value;
  } catch {
    r.fail(key, `must hold a PEM ${label} block (-----BEGIN ${label}-----)`);
    return null;
  }
}

function readBootstrap(top: ObjectReader, errors: string[]): Bootstrap | null {
  const value = top.raw("bootstrap");
  if (value === undefined || value === null) return null;
  const r = ObjectReader.of("bootstrap", value, errors);
  if (!r) return null;
  const username = r.nullableString("username");
  const password = r.nullableString("password");
  const certPem = pem(r, "cert", "CERTIFICATE");
  const key = r.nullableString("key");
  r.rejectUnknown();
  if (key !== null && !/-----BEGIN (EC )?PRIVATE KEY-----/.test(key)) {
    r.fail("key", "must hold a PEM private key");
  }
  if (username !== null && !/^[\x21-\x7e]{1,128}$/.test(username)) {
    r.fail("username", "must be 1 to 128 printable ASCII characters without spaces");
  }
  if (password !== null && (password.length === 0 || password.length > 1024)) {
    r.fail("password", "must be 1 to 1024 characters");
  }
  const given = (k: string) => (value as Record<string, unknown>)[k] != null;
  const login = given("username") || given("password");
  const cert = given("cert") || given("key");
  if (login === cert) {
    errors.push("bootstrap: give either username and password, or cert and key");
    return null;
  }
  if (login) {
    if (username === null || password === null) {
      errors.push("bootstrap: username and password go together");
      return null;
    }
    return { username, password };
  }
  if (certPem === null || key === null) {
    errors.push("bootstrap: cert and key go together");
    return null;
  }
  return { certPem, keyPem: key };
}

function readNtp(r: ObjectReader): string[] {
  const value = r.raw("ntpServers");
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 8) {
    r.fail("ntpServers", "must be a list of at most 8 host names or addresses");
    return [];
  }
  const out: string[] = [];
  value.forEach((v, i) => {
    if (typeof v !== "string" || v.length > 253 || !(HOST.test(v) || /^[0-9a-fA-F:.]+$/.test(v))) {
      r.fail(`ntpServers[${i}]`, `${show(v)} is not a host name or address`);
    } else out.push(v);
  });
  return out;
}

function validTimeZone(tz: string): boolean {
  if (!/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+){0,2}$/.test(tz)) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Overwrites the file with zeros (synced), then removes it. Returns null when done, else why it
 * could not be (e.g. the boot partition is read-only): the caller logs and reports that.
 */
export async function wipeFile(file: string): Promise<string | null> {
  const problems: string[] = [];
  try {
    const size = (await Deno.stat(file)).size;
    const f = await Deno.open(file, { write: true });
    try {
      const zeros = new Uint8Array(Math.min(size, MAX_PROVISION_BYTES * 4));
      for (let left = size; left > 0;) {
        left -= await f.write(zeros.subarray(0, Math.min(left, zeros.length)));
      }
      await f.sync();
    } finally {
      f.close();
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    problems.push(`not overwritten (${(err as Error).message})`);
  }
  try {
    await Deno.remove(file);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      problems.push(`not removed (${(err as Error).message})`);
    }
  }
  return problems.length ? `${file} ${problems.join(", ")}` : null;
}
