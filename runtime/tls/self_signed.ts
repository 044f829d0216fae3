/**
 * A self-signed X.509 v3 server certificate made with WebCrypto: ECDSA P-256, SHA-256,
 * subjectAltName = the given names and addresses, basicConstraints CA:false, keyUsage
 * digitalSignature, extKeyUsage serverAuth. No app imports; no openssl needed on the box.
 */
import {
  bitString,
  boolean,
  explicit,
  implicit,
  octetString,
  oid,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from "./asn1.ts";

export interface CertificateRequest {
  /** Subject and issuer common name, e.g. "nvr shop-front". */
  readonly commonName: string;
  /** DNS names for subjectAltName. */
  readonly dnsNames: readonly string[];
  /** IPv4/IPv6 addresses for subjectAltName. */
  readonly ipAddresses: readonly string[];
  /** Start of validity; default now. */
  readonly notBefore?: Date;
  /** Days valid; default 3650 (10 years). */
  readonly days?: number;
}

export interface SelfSignedCertificate {
  readonly certPem: string;
  /** PKCS#8 private key. */
  readonly keyPem: string;
  /** SHA-256 of the certificate's DER, "AB:CD:…" (what browsers show). */
  readonly fingerprint: string;
}

const ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const COMMON_NAME = "2.5.4.3";
const SUBJECT_KEY_ID = "2.5.29.14";
const KEY_USAGE = "2.5.29.15";
const SUBJECT_ALT_NAME = "2.5.29.17";
const BASIC_CONSTRAINTS = "2.5.29.19";
const EXT_KEY_USAGE = "2.5.29.37";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

export async function makeSelfSignedCertificate(
  req: CertificateRequest,
): Promise<SelfSignedCertificate> {
  const days = req.days ?? 3650;
  if (!(days >= 1 && days <= 36500)) throw new RangeError(`days: ${days} is not 1 to 36500`);
  if (req.dnsNames.length + req.ipAddresses.length === 0) {
    throw new RangeError("a certificate needs at least one DNS name or IP address");
  }
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const notBefore = req.notBefore ?? new Date();
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000);
  const name = sequence(set(sequence(oid(COMMON_NAME), utf8String(req.commonName))));
  const algorithm = sequence(oid(ECDSA_SHA256));
  // The public key's BIT STRING content is the last 65 bytes of a P-256 SPKI (04 || X || Y).
  const keyId = new Uint8Array(await crypto.subtle.digest("SHA-1", spki.subarray(-65)));
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0]! &= 0x7f;
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serial),
    algorithm,
    name,
    sequence(time(notBefore), time(notAfter)),
    name,
    spki,
    explicit(
      3,
      sequence(
        extension(BASIC_CONSTRAINTS, true, sequence()), // CA:false is the empty sequence
        extension(KEY_USAGE, true, bitString(Uint8Array.of(0x80), 7)), // digitalSignature
        extension(EXT_KEY_USAGE, false, sequence(oid(SERVER_AUTH))),
        extension(SUBJECT_KEY_ID, false, octetString(keyId)),
        extension(
          SUBJECT_ALT_NAME,
          false,
          sequence(
            ...req.dnsNames.map((d) => implicit(2, new TextEncoder().encode(d))),
            ...req.ipAddresses.map((a) => implicit(7, ipBytes(a))),
          ),
        ),
      ),
    ),
  );
  const raw = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      keys.privateKey,
      tbs as Uint8Array<ArrayBuffer>,
    ),
  );
  // WebCrypto signs as r || s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }.
  const signature = sequence(
    unsignedInteger(raw.subarray(0, 32)),
    unsignedInteger(raw.subarray(32)),
  );
  const der = sequence(tbs, algorithm, bitString(signature));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    certPem: toPem("CERTIFICATE", der),
    keyPem: toPem("PRIVATE KEY", pkcs8),
    fingerprint: await fingerprintDer(der),
  };
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

/** SHA-256 of a certificate's DER as "AB:CD:…". */
export async function fingerprintDer(der: Uint8Array): Promise<string> {
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", der as Uint8Array<ArrayBuffer>),
  );
  return [...hash].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

/** The SHA-256 fingerprint of the first certificate in a PEM text. */
export function fingerprintPem(pem: string): Promise<string> {
  return fingerprintDer(fromPem(pem, "CERTIFICATE"));
}

export function toPem(label: string, der: Uint8Array): string {
  let b64 = "";
  for (let i = 0; i < der.length; i += 0x8000) {
    b64 += String.fromCharCode(...der.subarray(i, i + 0x8000));
  }
  const lines = btoa(b64).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The DER of the first PEM block with this label; throws a RangeError without one. */
export function fromPem(pem: string, label: string): Uint8Array {
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!match) throw new RangeError(`no ${label} block in the PEM text`);
  return Uint8Array.from(atob(match[1]!.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
}

/** Whether `name` is an IPv4 or IPv6 address (as ipBytes reads them), not a host name. */
export function isIp(name: string): boolean {
  try {
    ipBytes(name);
    return true;
  } catch {
    return false;
  }
}

/** An IPv4 or IPv6 address as 4 or 16 bytes; RangeError for anything else. */
export function ipBytes(address: string): Uint8Array {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (v4) {
    const bytes = v4.slice(1).map(Number);
    if (bytes.every((b) => b <= 255)) return Uint8Array.from(bytes);
  }
  const bare = address.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  if (/^[0-9A-Fa-f:.]+$/.test(bare) && bare.includes(":")) {
    const [head = "", tail, more] = bare.split("::");
    if (more === undefined) {
      const words = (s: string) => s === "" ? [] : s.split(":").flatMap(v4Words);
      const h = words(head);
      const t = tail === undefined ? [] : words(tail);
      const fill = 8 - h.length - t.length;
      if ((tail === undefined ? fill === 0 : fill >= 1) && h.concat(t).every(okWord)) {
        const all = [...h, ...new Array(tail === undefined ? 0 : fill).fill("0"), ...t];
        const out = new Uint8Array(16);
        all.forEach((w, i) => {
          const n = parseInt(w, 16);
          out[2 * i] = n >> 8;
          out[2 * i + 1] = n & 0xff;
        });
        return out;
      }
    }
  }
  throw new RangeError(`'${address}' is not an IPv4 or IPv6 address`);
}

/** An embedded IPv4 tail ("::ffff:1.2.3.4") as two hex words. */
function v4Words(part: string): string[] {
  if (!part.includes(".")) return [part];
  const b = ipBytes(part);
  return [((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16)];
}

const okWord = (w: string) => /^[0-9A-Fa-f]{1,4}$/.test(w);
