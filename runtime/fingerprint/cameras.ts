/**
 * Cameras as the licence terms describe them: vendor, model, serial, firmware, MAC and IP. Asked
 * over ONVIF (GetDeviceInformation, GetNetworkInterfaces) when the camera has an ONVIF URL;
 * otherwise, or when it does not answer, only what the config says (the host of its URL) with
 * `origin: "config"` and the reason, and the MAC from the box's neighbour table.
 */
import { type OnvifDeviceInformation, readOnvifDeviceInformation } from "./onvif_info.ts";
import type { CameraFingerprint, Sourced } from "./types.ts";

/** One configured camera, as the fingerprint needs it. */
export interface FingerprintCameraInput {
  readonly id: string;
  /** The stream URL from the config (rtsp://…, v4l2://…); its host is the camera's IP. */
  readonly url: string;
  /** ONVIF device service, e.g. http://192.168.1.20/onvif/device_service; null: config only. */
  readonly onvifUrl?: string | null;
  readonly username?: string | null;
  readonly password?: string | null;
}

/** Reads one camera's ONVIF device information; swapped only where no network is wanted. */
export type OnvifReader = (
  url: string,
  opts: { username?: string | null; password?: string | null; timeoutMs?: number },
) => Promise<OnvifDeviceInformation>;

/** The host of a URL without brackets, or null (v4l2:///dev/video0 has none). */
export function urlHost(url: string): string | null {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    return host === "" ? null : host;
  } catch {
    return null;
  }
}

/** The neighbour table: where it was read and IPv4 address → MAC. */
export interface Neighbours {
  readonly path: string;
  readonly macs: ReadonlyMap<string, string>;
}

const NO_NEIGHBOURS: Neighbours = { path: "/proc/net/arp", macs: new Map() };

/** One camera's fingerprint; never throws (an ONVIF failure becomes `onvifError`). */
export async function readCamera(
  cam: FingerprintCameraInput,
  index: number,
  onvif: OnvifReader,
  timeoutMs: number,
  neighbours: Neighbours = NO_NEIGHBOURS,
): Promise<CameraFingerprint> {
  const configHost = urlHost(cam.url);
  const onvifHost = cam.onvifUrl ? urlHost(cam.onvifUrl) : null;
  const arpMac = [configHost, onvifHost].map((h) => h === null ? undefined : neighbours.macs.get(h))
    .find((m) => m !== undefined);
  const base = {
    id: cam.id,
    ip: configHost === null ? null : { value: configHost, source: `config:cameras[${index}].url` },
    mac: arpMac === undefined ? null : { value: arpMac, source: neighbours.path },
  };
  const none = { vendor: null, model: null, serial: null, firmware: null, hardwareId: null };
  if (!cam.onvifUrl) {
    return { ...base, ...none, origin: "config", onvifError: "no ONVIF URL configured" };
  }
  let info: OnvifDeviceInformation;
  try {
    info = await onvif(cam.onvifUrl, {
      username: cam.username ?? null,
      password: cam.password ?? null,
      timeoutMs,
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ...base, ...none, origin: "config", onvifError: reason };
  }
  const src = `onvif:GetDeviceInformation ${cam.onvifUrl}`;
  const field = (v: string | null): Sourced | null => v === null ? null : { value: v, source: src };
  const ip = base.ip ??
    (onvifHost === null ? null : { value: onvifHost, source: `config:cameras[${index}].onvifUrl` });
  return {
    id: cam.id,
    origin: "onvif",
    vendor: field(info.manufacturer),
    model: field(info.model),
    serial: field(info.serialNumber),
    firmware: field(info.firmwareVersion),
    hardwareId: field(info.hardwareId),
    ip,
    mac: info.mac
      ? { value: info.mac, source: `onvif:GetNetworkInterfaces ${cam.onvifUrl}` }
      : base.mac,
    onvifError: null,
  };
}

/** Every camera, asked in parallel, in config order. */
export function readCameras(
  cameras: readonly FingerprintCameraInput[],
  onvif: OnvifReader = readOnvifDeviceInformation,
  timeoutMs = 3000,
  neighbours: Neighbours = NO_NEIGHBOURS,
): Promise<CameraFingerprint[]> {
  return Promise.all(cameras.map((c, i) => readCamera(c, i, onvif, timeoutMs, neighbours)));
}
