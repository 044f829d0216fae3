/** The box's hardware fingerprint, its licence binding hash and the device id. */
export type {
  BoardFingerprint,
  CameraFingerprint,
  DiskFingerprint,
  Fingerprint,
  MacType,
  NicFingerprint,
  Sourced,
} from "./types.ts";
export { collectFingerprint, type FingerprintSources } from "./collect.ts";
export {
  type CameraBinding,
  cameraBinding,
  camerasHash,
  canonicalJson,
  type FingerprintBinding,
  fingerprintBinding,
  fingerprintHash,
  sameFingerprint,
  sha256Hex,
} from "./hash.ts";
export { deriveDeviceId, type DeviceIdentity, DeviceIdError, deviceIdPath } from "./device_id.ts";
export type { FingerprintCameraInput, OnvifReader } from "./cameras.ts";
export {
  type OnvifDeviceInformation,
  OnvifReadError,
  readOnvifDeviceInformation,
} from "./onvif_info.ts";
export {
  cachedSmartctl,
  parseSmartctlJson,
  smartctlFromFiles,
  type SmartctlRunner,
  systemSmartctl,
} from "./smartctl.ts";
export { isPlaceholderSerial } from "./board_serial.ts";
export { listDisks } from "./disks.ts";
export type { InterfaceLister } from "./network.ts";
