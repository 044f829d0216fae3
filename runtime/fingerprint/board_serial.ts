/**
 * The board's identity: model and serial, each with the file it came from.
 *
 * Candidates, in the order they are trusted:
 * - DMI `board_serial`, `product_serial`, `product_uuid` (x86 and UEFI boards; root only),
 * - devicetree `serial-number` (Raspberry Pi, Jetson),
 * - `/proc/cpuinfo` `Serial` (Raspberry Pi; on Rockchip the fused one).
 * On Rockchip the devicetree serial may be a constant set by the bootloader, so cpuinfo comes first
 * there and a devicetree-only serial carries a caveat. OEM placeholders ("To be filled by O.E.M.",
 * all zeros, …) are skipped.
 */
import { type BoardRoots, detectBoard } from "../board/detect.ts";
import { colonField, readTextOrNull, readValue } from "./read_text.ts";
import type { BoardFingerprint, Sourced } from "./types.ts";

const PLACEHOLDERS = new Set([
  "none",
  "n/a",
  "na",
  "not specified",
  "not applicable",
  "not available",
  "to be filled by o.e.m.",
  "to be filled by oem",
  "default string",
  "system serial number",
  "chassis serial number",
  "base board serial number",
  "serial number",
  "oem",
  "o.e.m.",
  "123456789",
  "0123456789",
  "1234567890",
  // A UUID many firmwares ship unchanged.
  "03000200-0400-0500-0006-000700080009",
]);

/** Whether a serial is an OEM placeholder or a run of one character (zeros, Fs, Xs). */
export function isPlaceholderSerial(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === "" || PLACEHOLDERS.has(v)) return true;
  const bare = v.replace(/[-:.\s]/g, "");
  return bare === "" || /^(.)\1*$/.test(bare);
}

const ROCKCHIP_CAVEAT =
  "Rockchip devicetree serial: some bootloaders set a constant here; the fused serial in " +
  "/proc/cpuinfo was not available";

/** Reads the board id, model and serial under `roots`. Never throws for a missing file. */
export async function readBoardIdentity(roots: BoardRoots): Promise<BoardFingerprint> {
  const info = await detectBoard(roots);
  const dmiDir = `${roots.sysRoot}/class/dmi/id`;
  const dmi: Sourced[] = [];
  for (const name of ["board_serial", "product_serial", "product_uuid"]) {
    // Root-only in /sys: the service user reads the pre-start step's copy (BoardRoots.dmiCopy).
    for (const dir of roots.dmiCopy === undefined ? [dmiDir] : [dmiDir, roots.dmiCopy]) {
      const path = `${dir}/${name}`;
      const value = await readValue(path);
      if (value === null) continue;
      if (!isPlaceholderSerial(value)) dmi.push({ value, source: path });
      break;
    }
  }
  let dt: Sourced | null = null;
  for (
    const dir of [`${roots.sysRoot}/firmware/devicetree/base`, `${roots.procRoot}/device-tree`]
  ) {
    const path = `${dir}/serial-number`;
    const value = await readValue(path);
    if (value !== null && !isPlaceholderSerial(value)) {
      dt = { value, source: path };
      break;
    }
  }
  const cpuinfoPath = `${roots.procRoot}/cpuinfo`;
  const cpuinfo = await readTextOrNull(cpuinfoPath);
  const cpuSerial = cpuinfo === null ? null : colonField(cpuinfo, "Serial");
  const cpu: Sourced | null = cpuSerial !== null && !isPlaceholderSerial(cpuSerial)
    ? { value: cpuSerial, source: `${cpuinfoPath}:Serial` }
    : null;

  const rockchip = info.id === "rockchip";
  const ordered = rockchip ? [cpu, ...dmi, dt] : [...dmi, dt, cpu];
  const identifiers = ordered.filter((s): s is Sourced => s !== null);
  const serial = identifiers[0] ?? null;
  return {
    id: info.id,
    model: info.model !== "unknown" && info.source !== null
      ? { value: info.model, source: info.source }
      : null,
    serial,
    serialCaveat: rockchip && serial !== null && serial === dt ? ROCKCHIP_CAVEAT : null,
    identifiers,
  };
}
