/** Licences: the signed format, offline verification, and the camera limit. */
export type {
  LicenceKey,
  LicencePayload,
  LicenceState,
  LicenceStatus,
  SignedLicence,
} from "./types.ts";
export { licencePublicKey, verifyLicence, type VerifyOptions } from "./verify.ts";
export { type CameraLimit, enforceCameraLimit, type EnforceOptions } from "./enforce.ts";
export {
  encodePayload,
  generateLicenceKeyPair,
  type LicenceKeyPair,
  signBytes,
  signLicence,
} from "./sign.ts";
export { decodeBase64url, encodeBase64url } from "./base64url.ts";
