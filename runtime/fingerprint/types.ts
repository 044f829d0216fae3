/**
 * The hardware fingerprint the box reports to the fleet (`nvr/v1/<deviceId>/fingerprint`, retained).
 * Pure types: the fleet link imports them; docs/fleet-data.md describes every field.
 */
import type { BoardId } from "../board/detect.ts";

/** A value and where it was read, e.g. `{ value: "10000000abcd1234", source: "/proc/cpuinfo:Serial" }`. */
export interface Sourced<T = string> {
  readonly value: T;
  /** A file path (with `:Field` for one line of it), a command, `onvif:<action>` or `config:<key>`. */
  readonly source: string;
}

export interface BoardFingerprint {
  /** Board family as runtime/board/detect.ts names it: "rpi4", "jetson", "x86", … */
  readonly id: BoardId;
  /** Human model string, e.g. "Raspberry Pi 4 Model B Rev 1.4"; null when nothing said. */
  readonly model: Sourced | null;
  /** The board serial that identifies the box (binds the licence); null when none was readable. */
  readonly serial: Sourced | null;
  /** Why `serial` may not be unique, e.g. a Rockchip devicetree serial set by the bootloader. */
  readonly serialCaveat: string | null;
  /** Every other usable identifier found (DMI, devicetree, cpuinfo), `serial` included. */
  readonly identifiers: readonly Sourced[];
}

export interface DiskFingerprint {
  /** Kernel name, e.g. "sda", "nvme0n1", "mmcblk0". */
  readonly name: string;
  /** Device node, e.g. "/dev/sda". */
  readonly device: string;
  /** Serial from sysfs or udev (binds the licence unless the disk is removable). */
  readonly serial: Sourced | null;
  readonly model: Sourced | null;
  /** The drive behind a USB bridge as smartctl sees it, when it differs from `serial`. */
  readonly innerSerial: Sourced | null;
  /** Size in bytes (`/sys/block/<name>/size` × 512). */
  readonly sizeBytes: number | null;
  /** `/sys/block/<name>/removable` is 1 (USB sticks, SD readers): never binds the licence. */
  readonly removable: boolean;
}

/** How the kernel got the MAC (`addr_assign_type`): only "permanent" ones bind the licence. */
export type MacType = "permanent" | "random" | "stolen" | "set" | "unknown";

export interface NicFingerprint {
  /** Interface name, e.g. "eth0", "enp3s0", "wlan0". */
  readonly name: string;
  /** Lower-case MAC, e.g. "dc:a6:32:01:02:03". */
  readonly mac: Sourced;
  readonly macType: MacType;
  /** Bus of the controller from its modalias: "pci", "usb", "of" (SoC), "sdio", "virtio", … */
  readonly bus: string | null;
  /** IPv4 and IPv6 addresses at collection time (never bind the licence: DHCP changes them). */
  readonly addresses: readonly Sourced[];
}

export interface CameraFingerprint {
  /** Camera id from the config. */
  readonly id: string;
  /** Where vendor/model/serial came from: the camera itself over ONVIF, or only the config. */
  readonly origin: "onvif" | "config";
  readonly vendor: Sourced | null;
  readonly model: Sourced | null;
  readonly serial: Sourced | null;
  readonly firmware: Sourced | null;
  readonly hardwareId: Sourced | null;
  /** Host of the camera's URL (an IP address, or a name as configured). */
  readonly ip: Sourced | null;
  /**
   * Lower-case MAC: the camera's own answer (ONVIF GetNetworkInterfaces), else the box's
   * neighbour table for `ip` (`/proc/net/arp`: a router's MAC for a camera behind one); null when
   * neither knows it.
   */
  readonly mac: Sourced | null;
  /** Why ONVIF was not used or failed; null when it answered. */
  readonly onvifError: string | null;
}

export interface Fingerprint {
  /** Payload version. */
  readonly schema: 1;
  readonly board: BoardFingerprint;
  /** Sorted by name. */
  readonly disks: readonly DiskFingerprint[];
  /** Physical network controllers, sorted by name. */
  readonly network: readonly NicFingerprint[];
  /** In config order. */
  readonly cameras: readonly CameraFingerprint[];
}
