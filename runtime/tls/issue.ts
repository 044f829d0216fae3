/**
 * Signs a device's client certificate with a CA (ECDSA P-256 CA key, PKCS#8): subject CN = the
 * device id, the key from a verified CSR, clientAuth only, CA:false. What the enrolment
 * responder hands back to a box; a broker with `use_identity_as_username` takes the CN as the
 * box's MQTT username.
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
import { children, expect, readWhole } from "./der.ts";
import { ECDSA_SHA256, importEcKey, signDer } from "./csr.ts";
import { fromPem, toPem } from "./self_signed.ts";

const COMMON_NAME = "2.5.4.3";
const SUBJECT_KEY_ID = "2.5.29.14";
const KEY_USAGE = "2.5.29.15";
const BASIC_CONSTRAINTS = "2.5.29.19";
const AUTHORITY_KEY_ID = "2.5.29.35";
const EXT_KEY_USAGE = "2.5.29.37";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

/** A CA that signs: its certificate and its private key (both PEM). */
export interface SigningCa {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IssueRequest {
  readonly commonName: string;
  /** The device's SubjectPublicKeyInfo (DER), from verifyCsr. */
  readonly spki: Uint8Array;
  /** Days valid; default 825. */
  readonly days?: number;
  readonly now?: number;
}

/** The client certificate (PEM) for this key and name, signed by `ca`. */
export async function issueClientCertificate(ca: SigningCa, req: IssueRequest): Promise<string> {
  const days = req.days ?? 825;
  if (!(days >= 1 && days <= 3650)) throw new RangeError(`days: ${days} is not 1 to 3650`);
  const caDer = fromPem(ca.certPem, "CERTIFICATE");
  const [caTbs] = children(expect(readWhole(caDer), 0x30, "CA certificate"));
  const parts = children(expect(caTbs, 0x30, "CA certificate body"));
  // [0] version, serial, algorithm, issuer, validity, subject, spki, …
  const offset = parts[0]?.tag === 0xa0 ? 1 : 0;
  const caSubject = expect(parts[offset + 4], 0x30, "CA subject");
  const caSpki = children(expect(parts[offset + 5], 0x30, "CA public key info"));
  const caKeyBits = expect(caSpki[1], 0x03, "CA public key").content.subarray(1);
  const { privateKey } = await importEcKey(ca.keyPem);
  const keyBits = children(expect(readWhole(req.spki), 0x30, "device key"))[1]!.content.subarray(1);
  const sha1 = async (b: Uint8Array) =>
    new Uint8Array(await crypto.subtle.digest("SHA-1", b as Uint8Array<ArrayBuffer>));
  // Boards without a clock start in 1970; never date a certificate before 2025.
  const now = Math.max(req.now ?? Date.now(), Date.UTC(2025, 0, 1));
  const notBefore = new Date(now - 3600_000);
  const notAfter = new Date(now + days * 86_400_000);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0]! &= 0x7f;
  const algorithm = sequence(oid(ECDSA_SHA256));
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    algorithm,
    caSubject.bytes,
    sequence(time(notBefore), time(notAfter)),
    sequence(set(sequence(oid(COMMON_NAME), utf8String(req.commonName)))),
    req.spki,
    explicit(
      3,
      sequence(
        extension(BASIC_CONSTRAINTS, true, sequence()),
        extension(KEY_USAGE, true, bitString(Uint8Array.of(0x80), 7)),
        extension(EXT_KEY_USAGE, false, sequence(oid(CLIENT_AUTH))),
        extension(SUBJECT_KEY_ID, false, octetString(await sha1(keyBits))),
        extension(AUTHORITY_KEY_ID, false, sequence(implicit(0, await sha1(caKeyBits)))),
      ),
    ),
  );
  const signature = await signDer(privateKey, tbs);
  return toPem("CERTIFICATE", sequence(tbs, algorithm, bitString(signature)));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

/** The subject CN and SPKI of a certificate (PEM): what a box checks of the one it got. */
export function certificateSubject(certPem: string): { commonName: string; spki: Uint8Array } {
  const [tbs] = children(expect(readWhole(fromPem(certPem, "CERTIFICATE")), 0x30, "certificate"));
  const parts = children(expect(tbs, 0x30, "certificate body"));
  const offset = parts[0]?.tag === 0xa0 ? 1 : 0;
  const subject = expect(parts[offset + 4], 0x30, "subject");
  const spki = expect(parts[offset + 5], 0x30, "public key info");
  let commonName = "";
  for (const rdn of children(subject)) {
    for (const attr of children(rdn)) {
      const [type, value] = children(attr);
      if (type && value && type.content.join() === "85,4,3") {
        commonName = new TextDecoder().decode(value.content);
      }
    }
  }
  return { commonName, spki: spki.bytes.slice() };
}
