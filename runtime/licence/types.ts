/**
 * The licence the cloud issues and the status the box reports (`health.licence`, events). Pure
 * types; docs/fleet-data.md describes the format and every state.
 */

/** What the cloud signs. Times are milliseconds since the Unix epoch (UTC). */
export interface LicencePayload {
  /** Format version. */
  readonly v: 1;
  /** The cloud's id of this licence, for support and revocation lists. */
  readonly licenceId: string;
  /** The box it is for (`nvr-…`, see runtime/fingerprint/device_id.ts). */
  readonly deviceId: string;
  /** `fingerprintHash(fp)` of that box: 64 lower-case hex digits. */
  readonly fingerprintHash: string;
  /** Cameras that may record at once; an integer ≥ 0. */
  readonly maxCameras: number;
  readonly issuedAt: number;
  /** Recording continues for the grace period after this. */
  readonly expiresAt: number;
}

/** The licence as it travels and is stored: JSON with base64url (no padding) fields. */
export interface SignedLicence {
  /** base64url of the payload's UTF-8 JSON bytes. */
  readonly payload: string;
  /** base64url of the 64-byte Ed25519 signature over exactly those bytes. */
  readonly signature: string;
  /** Which of the device's trusted keys signed it; absent: every trusted key is tried. */
  readonly keyId?: string;
}

export type LicenceState =
  | "valid" // signature good, this box, not expired
  | "grace" // expired, but within the grace period: recording continues as licensed
  | "expired" // expired beyond the grace period
  | "tampered" // malformed, bad signature, or signed by a key the box does not trust
  | "foreign" // correctly signed, for another device or another fingerprint
  | "none"; // no licence at all

export interface LicenceStatus {
  readonly state: LicenceState;
  /** One sentence for people: why this state, and what to do. */
  readonly reason: string;
  /** From a correctly signed payload (valid, grace, expired, foreign); null otherwise. */
  readonly licenceId: string | null;
  readonly maxCameras: number | null;
  readonly issuedAt: number | null;
  readonly expiresAt: number | null;
  /** expiresAt + the grace period; null when there is no verified payload. */
  readonly graceEndsAt: number | null;
  /** The trusted key that verified the signature; null when none did. */
  readonly keyId: string | null;
}

/** A public key the device trusts: raw 32-byte Ed25519 key as base64url, or an imported key. */
export interface LicenceKey {
  readonly id: string;
  readonly publicKey: string | CryptoKey;
}
