/**
 * The licence binding: a SHA-256 over the parts of the fingerprint that identify this box's own
 * hardware and do not move by themselves.
 *
 * Bound: the board serial; the serial of every non-removable disk; the MAC of every NIC whose
 * address is permanent (or of unknown kind) and that is not on USB. Not bound: sources, models,
 * IP addresses (DHCP changes them), random or user-set MACs, USB NICs and removable disks (a
 * dongle or stick plugged in must not void the licence), and cameras (a camera that is offline
 * reads as "config only"; the camera count is bound by the licence's maxCameras instead).
 */
import type { Fingerprint } from "./types.ts";

/** What the hash is computed over; exposed so the fleet can show why two hashes differ. */
export interface FingerprintBinding {
  readonly v: 1;
  readonly board: string | null;
  /** Sorted. */
  readonly disks: readonly string[];
  /** Sorted, lower case. */
  readonly macs: readonly string[];
}

/** The bound values of a fingerprint, in canonical order. */
export function fingerprintBinding(fp: Fingerprint): FingerprintBinding {
  const disks = fp.disks.filter((d) => !d.removable && d.serial !== null)
    .map((d) => d.serial?.value ?? "");
  const macs = fp.network.filter((n) =>
    (n.macType === "permanent" || n.macType === "unknown") && n.bus !== "usb"
  ).map((n) => n.mac.value.toLowerCase());
  return {
    v: 1,
    board: fp.board.serial?.value ?? null,
    disks: [...new Set(disks)].sort(),
    macs: [...new Set(macs)].sort(),
  };
}

/** JSON with object keys sorted at every level (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortKeys(v);
  }
  return out;
}

/** SHA-256 of a string's UTF-8 bytes, lower-case hex. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The licence binding: SHA-256 (hex) of the canonical JSON of `fingerprintBinding(fp)`. */
export function fingerprintHash(fp: Fingerprint): Promise<string> {
  return sha256Hex(canonicalJson(fingerprintBinding(fp)));
}

/**
 * What identifies the cameras themselves, apart from the box: per camera that said who it is, its
 * vendor, model and serial (ONVIF), else its MAC (ONVIF or the neighbour table); cameras that
 * said nothing (offline, no ONVIF, not on the LAN segment) are left out. Sorted, without camera
 * ids, so renaming or reordering cameras keeps it and swapping one camera for another moves it.
 */
export interface CameraBinding {
  readonly v: 1;
  readonly cameras: readonly string[];
}

/** The fields of a camera that `cameraBinding` reads (a Fingerprint's cameras have them). */
interface CameraIds {
  readonly vendor?: { readonly value: string } | null;
  readonly model?: { readonly value: string } | null;
  readonly serial?: { readonly value: string } | null;
  readonly mac?: { readonly value: string } | null;
}

export function cameraBinding(fp: { readonly cameras: readonly CameraIds[] }): CameraBinding {
  const ids = fp.cameras.flatMap((c) => {
    if (c.serial) {
      return [`serial:${c.vendor?.value ?? ""}|${c.model?.value ?? ""}|${c.serial.value}`];
    }
    if (c.mac) return [`mac:${c.mac.value.toLowerCase()}`];
    return [];
  });
  return { v: 1, cameras: [...new Set(ids)].sort() };
}

/**
 * SHA-256 (hex) of the canonical JSON of `cameraBinding(fp)`: the fleet sees a camera swapped for
 * another (or gone dark) as a new value. It does not bind the licence (see the top of this file).
 */
export function camerasHash(fp: { readonly cameras: readonly CameraIds[] }): Promise<string> {
  return sha256Hex(canonicalJson(cameraBinding(fp)));
}

/**
 * `camerasHash` of fingerprint data as it travels (JSON, e.g. read back from MQTT): fields that
 * are not `{ value: string }` count as absent; null when there is no camera list at all.
 */
export function camerasHashOfData(data: unknown): Promise<string | null> {
  const cameras = typeof data === "object" && data !== null
    ? (data as { cameras?: unknown }).cameras
    : undefined;
  if (!Array.isArray(cameras)) return Promise.resolve(null);
  const field = (camera: unknown, key: string): { value: string } | null => {
    const f = typeof camera === "object" && camera !== null
      ? (camera as Record<string, unknown>)[key]
      : null;
    const value = typeof f === "object" && f !== null ? (f as { value?: unknown }).value : null;
    return typeof value === "string" ? { value } : null;
  };
  return camerasHash({
    cameras: cameras.map((c) => ({
      vendor: field(c, "vendor"),
      model: field(c, "model"),
      serial: field(c, "serial"),
      mac: field(c, "mac"),
    })),
  });
}

/** Whether two fingerprints say the same thing (all fields, IPs and sources included). */
export function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
