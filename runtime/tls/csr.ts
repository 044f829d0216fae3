/**
 * PKCS#10 certificate signing requests (RFC 2986) for ECDSA P-256 keys made with WebCrypto:
 * the box makes one for its device key; the enrolment responder reads one back, and checks its
 * self-signature, the key type and the subject before it signs anything.
 */
import {
  bitString,
  explicit,
  oid,
  sequence,
  set,
  smallInteger,
  unsignedInteger,
  utf8String,
} from "./asn1.ts";
import { children, type Der, expect, oidText, readWhole, stringValue } from "./der.ts";
import { fromPem, toPem } from "./self_signed.ts";

export const ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const P256 = "1.2.840.10045.3.1.7";
const COMMON_NAME = "2.5.4.3";

export class CsrError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CsrError";
  }
}

/** A new ECDSA P-256 key pair; the private key exportable once, as PKCS#8. */
export async function makeEcKey(): Promise<{ keyPem: string; keys: CryptoKeyPair }> {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { keyPem: toPem("PRIVATE KEY", pkcs8), keys };
}

/** The key pair of a PKCS#8 PEM P-256 private key (the public key from its JWK). */
export async function importEcKey(keyPem: string): Promise<CryptoKeyPair> {
  let der: Uint8Array;
  try {
    der = fromPem(keyPem, "PRIVATE KEY");
  } catch {
    throw new CsrError(
      "not a PKCS#8 'PRIVATE KEY' PEM; convert an 'EC PRIVATE KEY' with " +
        "`openssl pkcs8 -topk8 -nocrypt -in old.key -out new.key`",
    );
  }
  const alg = { name: "ECDSA", namedCurve: "P-256" };
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", der as Uint8Array<ArrayBuffer>, alg, true, [
      "sign",
    ]);
  } catch (err) {
    throw new CsrError(`not an ECDSA P-256 private key: ${(err as Error).message}`, { cause: err });
  }
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  delete jwk.d;
  jwk.key_ops = ["verify"];
  const publicKey = await crypto.subtle.importKey("jwk", jwk, alg, true, ["verify"]);
  return { privateKey, publicKey };
}

/** ECDSA-SHA256 signature of `data` in X.509's form, SEQUENCE { r, s }. */
export async function signDer(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  const raw = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      key,
      data as Uint8Array<ArrayBuffer>,
    ),
  );
  return sequence(unsignedInteger(raw.subarray(0, 32)), unsignedInteger(raw.subarray(32)));
}

/** A PKCS#10 request for subject CN=`commonName`, signed by the pair's private key. */
export async function makeCsr(commonName: string, keys: CryptoKeyPair): Promise<string> {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const info = sequence(
    smallInteger(0),
    sequence(set(sequence(oid(COMMON_NAME), utf8String(commonName)))),
    spki,
    explicit(0, new Uint8Array()), // no attributes: a0 00
  );
  const signature = await signDer(keys.privateKey, info);
  return toPem(
    "CERTIFICATE REQUEST",
    sequence(info, sequence(oid(ECDSA_SHA256)), bitString(signature)),
  );
}

export interface VerifiedCsr {
  readonly commonName: string;
  /** The SubjectPublicKeyInfo as it came (DER). */
  readonly spki: Uint8Array;
  /** SHA-256 of the SPKI, hex: the key's identity (same key, same request). */
  readonly keyId: string;
}

/**
 * Reads a PEM request and checks it: one subject CN and nothing else, an ECDSA P-256 key, an
 * ECDSA-SHA256 signature made by that key. CsrError says which check failed.
 */
export async function verifyCsr(pem: string): Promise<VerifiedCsr> {
  let der: Uint8Array;
  try {
    der = fromPem(pem, "CERTIFICATE REQUEST");
  } catch {
    throw new CsrError("no 'CERTIFICATE REQUEST' PEM block");
  }
  try {
    const [info, alg, sig] = children(expect(readWhole(der), 0x30, "request"));
    const [version, subject, spki, attrs] = children(expect(info, 0x30, "request info"));
    if (expect(version, 0x02, "version").content.join() !== "0") {
      throw new CsrError("version is not 1 (0)");
    }
    expect(attrs, 0xa0, "attributes");
    const commonName = subjectCommonName(expect(subject, 0x30, "subject"));
    const [keyAlg, keyBits] = children(expect(spki, 0x30, "public key info"));
    const [algOid, curve] = children(expect(keyAlg, 0x30, "public key algorithm"));
    if (oidText(algOid!) !== EC_PUBLIC_KEY || !curve || curve.tag !== 0x06) {
      throw new CsrError("the key is not an elliptic-curve key; use ECDSA P-256");
    }
    if (oidText(curve) !== P256) {
      throw new CsrError(`the key's curve ${oidText(curve)} is not P-256 (prime256v1)`);
    }
    expect(keyBits, 0x03, "public key");
    const [sigAlg] = children(expect(alg, 0x30, "signature algorithm"));
    if (oidText(sigAlg!) !== ECDSA_SHA256) {
      throw new CsrError("the request is not signed with ECDSA-SHA256");
    }
    const sigBits = expect(sig, 0x03, "signature");
    if (sigBits.content[0] !== 0) throw new CsrError("signature bit string has unused bits");
    const [r, s, more] = children(
      expect(readWhole(sigBits.content.subarray(1)), 0x30, "signature value"),
    );
    if (more) throw new CsrError("signature has extra fields");
    const raw = new Uint8Array(64);
    raw.set(fixed32(expect(r, 0x02, "r").content), 0);
    raw.set(fixed32(expect(s, 0x02, "s").content), 32);
    let publicKey: CryptoKey;
    try {
      publicKey = await crypto.subtle.importKey(
        "spki",
        spki!.bytes as Uint8Array<ArrayBuffer>,
        { name: "ECDSA", namedCurve: "P-256" },
        true,
        ["verify"],
      );
    } catch (err) {
      throw new CsrError(`the public key is not a valid P-256 point: ${(err as Error).message}`);
    }
    const ok = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      publicKey,
      raw,
      info!.bytes as Uint8Array<ArrayBuffer>,
    );
    if (!ok) throw new CsrError("the request's signature does not match its own key");
    const hash = new Uint8Array(
      await crypto.subtle.digest("SHA-256", spki!.bytes as Uint8Array<ArrayBuffer>),
    );
    return {
      commonName,
      spki: spki!.bytes.slice(),
      keyId: [...hash].map((b) => b.toString(16).padStart(2, "0")).join(""),
    };
  } catch (err) {
    if (err instanceof CsrError) throw err;
    // DerError, or WebCrypto refusing bytes it was handed: the request is malformed either way.
    throw new CsrError(`malformed request: ${(err as Error).message}`, { cause: err });
  }
}

/** The one CN of a Name that holds nothing else. */
function subjectCommonName(name: Der): string {
  const rdns = children(name);
  if (rdns.length !== 1) throw new CsrError("the subject must be exactly one CN");
  const [attr, extra] = children(expect(rdns[0], 0x31, "subject RDN"));
  if (extra) throw new CsrError("the subject must be exactly one CN");
  const [type, value] = children(expect(attr, 0x30, "subject attribute"));
  if (oidText(type!) !== COMMON_NAME || !value) {
    throw new CsrError("the subject must be exactly one CN");
  }
  try {
    return stringValue(value);
  } catch (err) {
    throw new CsrError(`subject CN: ${(err as Error).message}`);
  }
}

function fixed32(int: Uint8Array): Uint8Array {
  let i = 0;
  while (i < int.length - 1 && int[i] === 0) i++;
  const v = int.subarray(i);
  if (v.length > 32) throw new CsrError("signature value too long for P-256");
  const out = new Uint8Array(32);
  out.set(v, 32 - v.length);
  return out;
}
