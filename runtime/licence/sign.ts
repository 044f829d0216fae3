/**
 * Issuing licences: for tests and for the fleet-side tool (sign_main.ts). The device never signs;
 * it only holds public keys.
 */
import { encodeBase64url } from "./base64url.ts";
import type { LicencePayload, SignedLicence } from "./types.ts";

export interface LicenceKeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** The public key as the device is given it: raw 32 bytes, base64url. */
  readonly publicKeyRaw: string;
}

/** A new Ed25519 key pair (the private key is extractable so the tool can save it as JWK). */
export async function generateLicenceKeyPair(): Promise<LicenceKeyPair> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return {
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    publicKeyRaw: encodeBase64url(raw),
  };
}

/** The payload's bytes as they are signed and carried: UTF-8 JSON with keys in a fixed order. */
export function encodePayload(payload: LicencePayload): Uint8Array<ArrayBuffer> {
  const { v, licenceId, deviceId, fingerprintHash, maxCameras, issuedAt, expiresAt } = payload;
  return new TextEncoder().encode(
    JSON.stringify({ v, licenceId, deviceId, fingerprintHash, maxCameras, issuedAt, expiresAt }),
  );
}

/** Signs raw payload bytes (tests use it to sign deliberately malformed payloads). */
export async function signBytes(
  bytes: Uint8Array<ArrayBuffer>,
  privateKey: CryptoKey,
  keyId?: string,
): Promise<SignedLicence> {
  const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", privateKey, bytes));
  const base = { payload: encodeBase64url(bytes), signature: encodeBase64url(sig) };
  return keyId === undefined ? base : { ...base, keyId };
}

/** Signs a licence payload with an Ed25519 private key. */
export function signLicence(
  payload: LicencePayload,
  privateKey: CryptoKey,
  keyId?: string,
): Promise<SignedLicence> {
  return signBytes(encodePayload(payload), privateKey, keyId);
}
