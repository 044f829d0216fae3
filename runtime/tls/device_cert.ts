/**
 * The box's HTTPS certificate: made once at first start in `<dataDir>/tls/` (folder 0700, key
 * 0600, certificate 0644) and reused on every start after, so its fingerprint stays what a person
 * checked the first time. Or a user-supplied certificate and key (http.tls "files").
 */
import { fingerprintPem, isIp, makeSelfSignedCertificate } from "./self_signed.ts";

export interface ServerCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 of the (first) certificate, "AB:CD:…". */
  readonly fingerprint: string;
  /** Where the certificate file is, for messages and tests. */
  readonly certFile: string;
  /** True when it was made just now. */
  readonly created: boolean;
}

export class CertificateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CertificateError";
  }
}

/**
 * The device certificate in `dir` (e.g. `<dataDir>/tls`), made on first use for these names;
 * names that are IP addresses go into the certificate as addresses, the rest as DNS names.
 */
export async function deviceCertificate(
  dir: string,
  o: { commonName: string; names: readonly string[]; now?: () => number },
): Promise<ServerCertificate> {
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const existing = await readPair(certFile, keyFile);
  if (existing) {
    await Deno.chmod(keyFile, 0o600); // whoever copied it back may have widened it
    return { ...existing, certFile, created: false };
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const name of new Set(o.names)) {
    if (isIp(name)) ipAddresses.push(name);
    else if (/^[A-Za-z0-9.-]+$/.test(name)) dnsNames.push(name);
  }
  // Boards without a battery clock may start in 1970: never date a certificate before 2025,
  // or it would expire before the clock is set.
  const now = Math.max(o.now?.() ?? Date.now(), Date.UTC(2025, 0, 1));
  const cert = await makeSelfSignedCertificate({
    commonName: o.commonName,
    dnsNames,
    ipAddresses,
    notBefore: new Date(now - 86_400_000),
  });
  // The key first and by rename: a crash leaves no certificate without its key.
  await writeAtomic(keyFile, cert.keyPem, 0o600);
  await writeAtomic(certFile, cert.certPem, 0o644);
  return {
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    fingerprint: cert.fingerprint,
    certFile,
    created: true,
  };
}

/** A user-supplied certificate (chain) and key (http.certFile / http.keyFile). */
export async function certificateFiles(
  certFile: string,
  keyFile: string,
): Promise<ServerCertificate> {
  const pair = await readPair(certFile, keyFile, true);
  return { ...pair!, certFile, created: false };
}

async function readPair(
  certFile: string,
  keyFile: string,
  required = false,
): Promise<{ certPem: string; keyPem: string; fingerprint: string } | null> {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = await Deno.readTextFile(certFile);
    keyPem = await Deno.readTextFile(keyFile);
  } catch (err) {
    if (!required && err instanceof Deno.errors.NotFound) return null;
    throw new CertificateError(
      `Cannot read the HTTPS certificate ${certFile} or key ${keyFile}: ${(err as Error).message}` +
        (required
          ? "; check http.certFile and http.keyFile"
          : "; remove both to have a new one made"),
      { cause: err },
    );
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) {
    throw new CertificateError(`${keyFile} holds no PEM private key; give the certificate's key`);
  }
  try {
    return { certPem, keyPem, fingerprint: await fingerprintPem(certPem) };
  } catch (err) {
    throw new CertificateError(`${certFile} holds no PEM certificate`, { cause: err });
  }
}

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.new`;
  await Deno.writeTextFile(temp, text, { mode });
  await Deno.chmod(temp, mode); // the umask may have taken bits away; set exactly
  await Deno.rename(temp, path);
}
