/**
 * collectFingerprint: board, disks, NICs and cameras, each value with its source. Every root and
 * command is a parameter so tests read fixture trees (testdata/<board>/) and saved smartctl output.
 */
import { readBoardIdentity } from "./board_serial.ts";
import { DEFAULT_ROOTS } from "../board/detect.ts";
import { type FingerprintCameraInput, type OnvifReader, readCameras } from "./cameras.ts";
import { readDisks } from "./disks.ts";
import { readNeighbours } from "./neighbours.ts";
import { type InterfaceLister, readNics } from "./network.ts";
import { readOnvifDeviceInformation } from "./onvif_info.ts";
import { type SmartctlRunner, systemSmartctl } from "./smartctl.ts";
import type { Fingerprint } from "./types.ts";

export interface FingerprintSources {
  /** Default "/sys". */
  readonly sysRoot?: string;
  /** Default "/proc". */
  readonly procRoot?: string;
  /**
   * The image's readable copy of the root-only DMI serials (BoardRoots.dmiCopy); default
   * "/run/nvr/dmi" with the real /sys, none with a fixture `sysRoot`.
   */
  readonly dmiCopy?: string;
  /** Where device nodes are named, default "/dev". */
  readonly devRoot?: string;
  /** udev's run folder, default "/run/udev" (data in `<root>/data/b<major>:<minor>`). */
  readonly runUdevRoot?: string;
  /** `smartctl --json -i` per disk; default the system's smartctl; null: do not run it. */
  readonly smartctl?: SmartctlRunner | null;
  /** Default `Deno.networkInterfaces`. */
  readonly networkInterfaces?: InterfaceLister;
  /** The configured cameras, in config order; default none. */
  readonly cameras?: readonly FingerprintCameraInput[];
  /** Default: npm:onvif GetDeviceInformation. */
  readonly onvif?: OnvifReader;
  /** Per ONVIF request, default 3000 ms (cameras are asked in parallel). */
  readonly onvifTimeoutMs?: number;
}

/** Reads the whole fingerprint. Missing files are absent values, never errors. */
export async function collectFingerprint(sources: FingerprintSources = {}): Promise<Fingerprint> {
  const sysRoot = sources.sysRoot ?? "/sys";
  const procRoot = sources.procRoot ?? "/proc";
  const neighbours = sources.cameras?.length ? await readNeighbours(procRoot) : undefined;
  const [board, disks, network, cameras] = await Promise.all([
    readBoardIdentity({
      sysRoot,
      procRoot,
      ...(sources.dmiCopy !== undefined
        ? { dmiCopy: sources.dmiCopy }
        : sources.sysRoot === undefined
        ? { dmiCopy: DEFAULT_ROOTS.dmiCopy! }
        : {}),
    }),
    readDisks(
      {
        sysRoot,
        devRoot: sources.devRoot ?? "/dev",
        runUdevRoot: sources.runUdevRoot ?? "/run/udev",
      },
      sources.smartctl === undefined ? systemSmartctl() : sources.smartctl,
    ),
    readNics(sysRoot, sources.networkInterfaces ?? Deno.networkInterfaces),
    readCameras(
      sources.cameras ?? [],
      sources.onvif ?? readOnvifDeviceInformation,
      sources.onvifTimeoutMs ?? 3000,
      neighbours,
    ),
  ]);
  return { schema: 1, board, disks, network, cameras };
}
