/**
 * Offline licence verification with WebCrypto Ed25519. The order of checks decides the state:
 * none → tampered (not JSON, malformed, unknown key, bad signature, bad payload) → foreign (other
 * device or fingerprint) → valid / grace / expired by the clock. `issuedAt` in the future is not
 * refused: a Raspberry Pi has no clock battery and may boot in the past until NTP answers.
 */
import { decodeBase64url } from "./base64url.ts";
import type {
  LicenceKey,
  LicencePayload,
  LicenceState,
  LicenceStatus,
  SignedLicence,
} from "./types.ts";

export interface VerifyOptions {
  /** Keys the device trusts (from the image or config). */
  readonly publicKeys: readonly LicenceKey[];
  /** `fingerprintHash()` of this box now. */
  readonly fingerprintHash: string;
  /** This box's device id. */
  readonly deviceId: string;
  /** ms since the epoch. */
  readonly now: number;
  /** Days after expiresAt during which the licence still counts (state "grace"). */
  readonly graceDays: number;
}

const DAY_MS = 86_400_000;
const HASH = /^[0-9a-f]{64}$/;

function status(
  state: LicenceState,
  reason: string,
  p?: LicencePayload,
  keyId?: string,
  graceMs = 0,
): LicenceStatus {
  return {
    state,
    reason,
    licenceId: p?.licenceId ?? null,
    maxCameras: p?.maxCameras ?? null,
    issuedAt: p?.issuedAt ?? null,
    expiresAt: p?.expiresAt ?? null,
    graceEndsAt: p === undefined ? null : p.expiresAt + graceMs,
    keyId: keyId ?? null,
  };
}

function tampered(why: string): LicenceStatus {
  return status("tampered", `${why}; the licence is not accepted. Ask the fleet for a new one.`);
}

/** The envelope's fields, or a reason it is not one. */
function readEnvelope(licence: unknown): SignedLicence | string {
  let v = licence;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      return "the licence is not JSON";
    }
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return "the licence is not a JSON object";
  }
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!["payload", "signature", "keyId"].includes(key)) return `unknown licence field '${key}'`;
  }
  if (typeof o.payload !== "string") return "the licence has no 'payload' string";
  if (typeof o.signature !== "string") return "the licence has no 'signature' string";
  if (o.keyId !== undefined && typeof o.keyId !== "string") return "'keyId' is not a string";
  return o.keyId === undefined
    ? { payload: o.payload, signature: o.signature }
    : { payload: o.payload, signature: o.signature, keyId: o.keyId };
}

/** The payload's fields, or a reason it is malformed. */
export function readPayload(bytes: Uint8Array): LicencePayload | string {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return "the payload is not UTF-8 JSON";
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return "the payload is not an object";
  }
  const o = v as Record<string, unknown>;
  if (o.v !== 1) return `payload version ${JSON.stringify(o.v)} is not 1`;
  for (const key of ["licenceId", "deviceId"] as const) {
    if (typeof o[key] !== "string" || o[key] === "") {
      return `payload '${key}' is not a non-empty string`;
    }
  }
  if (typeof o.fingerprintHash !== "string" || !HASH.test(o.fingerprintHash)) {
    return "payload 'fingerprintHash' is not 64 lower-case hex digits";
  }
  if (!Number.isSafeInteger(o.maxCameras) || (o.maxCameras as number) < 0) {
    return "payload 'maxCameras' is not an integer ≥ 0";
  }
  for (const key of ["issuedAt", "expiresAt"] as const) {
    if (!Number.isSafeInteger(o[key]) || (o[key] as number) < 0) {
      return `payload '${key}' is not a time in ms`;
    }
  }
  if ((o.expiresAt as number) < (o.issuedAt as number)) {
    return "payload 'expiresAt' is before 'issuedAt'";
  }
  return o as unknown as LicencePayload;
}

/** Imports a raw base64url Ed25519 public key (or passes a CryptoKey through). */
export async function licencePublicKey(key: LicenceKey): Promise<CryptoKey> {
  if (typeof key.publicKey !== "string") return key.publicKey;
  const raw = decodeBase64url(key.publicKey);
  if (raw === null || raw.length !== 32) {
    throw new Error(
      `Licence key '${key.id}' is not a raw Ed25519 public key in base64url (43 characters); ` +
        "fix the key list the device was given.",
    );
  }
  return await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
}

/**
 * Checks a licence (object, JSON text, or null/undefined for none) against this box. Async only
 * because WebCrypto is; never throws for a bad licence (a bad trusted key list does throw).
 */
export async function verifyLicence(licence: unknown, opts: VerifyOptions): Promise<LicenceStatus> {
  if (licence === null || licence === undefined || licence === "") {
    return status("none", "No licence installed; the fleet sends one when the box is registered.");
  }
  const env = readEnvelope(licence);
  if (typeof env === "string") return tampered(env);
  const payloadBytes = decodeBase64url(env.payload);
  if (payloadBytes === null) return tampered("'payload' is not base64url");
  const signature = decodeBase64url(env.signature);
  if (signature === null || signature.length !== 64) {
    return tampered("'signature' is not a 64-byte Ed25519 signature in base64url");
  }
  const candidates = env.keyId === undefined
    ? opts.publicKeys
    : opts.publicKeys.filter((k) => k.id === env.keyId);
  if (candidates.length === 0) {
    return tampered(
      env.keyId === undefined
        ? "this device trusts no licence keys"
        : `signed with key '${env.keyId}', which this device does not trust`,
    );
  }
  let keyId: string | undefined;
  for (const key of candidates) {
    const ok = await crypto.subtle.verify(
      "Ed25519",
      await licencePublicKey(key),
      signature,
      payloadBytes,
    );
    if (ok) {
      keyId = key.id;
      break;
    }
  }
  if (keyId === undefined) {
    return tampered("the signature does not match the payload (altered, or signed by another key)");
  }
  const p = readPayload(payloadBytes);
  if (typeof p === "string") return tampered(`correctly signed but malformed: ${p}`);
  const graceMs = Math.max(0, opts.graceDays) * DAY_MS;
  if (p.deviceId !== opts.deviceId) {
    return status(
      "foreign",
      `The licence is for device ${p.deviceId}, this is ${opts.deviceId}.`,
      p,
      keyId,
      graceMs,
    );
  }
  if (p.fingerprintHash !== opts.fingerprintHash) {
    return status(
      "foreign",
      `The licence binds fingerprint ${p.fingerprintHash.slice(0, 12)}…, this box's is ` +
        `${opts.fingerprintHash.slice(0, 12)}… (hardware changed?); the fleet must re-issue it.`,
      p,
      keyId,
      graceMs,
    );
  }
  const iso = (ms: number) => new Date(ms).toISOString();
  if (opts.now <= p.expiresAt) {
    return status(
      "valid",
      `Valid until ${iso(p.expiresAt)} for ${p.maxCameras} cameras.`,
      p,
      keyId,
      graceMs,
    );
  }
  if (opts.now <= p.expiresAt + graceMs) {
    return status(
      "grace",
      `Expired ${iso(p.expiresAt)}; recording continues until ${
        iso(p.expiresAt + graceMs)
      }. Renew it.`,
      p,
      keyId,
      graceMs,
    );
  }
  return status(
    "expired",
    `Expired ${iso(p.expiresAt)}, grace ended ${iso(p.expiresAt + graceMs)}.`,
    p,
    keyId,
    graceMs,
  );
}
