/**
 * Disks: every block device under /sys/block except virtual ones (loop, ram, zram, dm-, md, nbd,
 * eMMC boot/rpmb areas) and empty card-reader slots (size 0).
 *
 * Serial, most trusted first: sysfs `device/serial` (NVMe, SD/eMMC), sysfs `serial` (virtio),
 * udev `ID_SERIAL_SHORT`, udev `ID_SERIAL`, then smartctl `serial_number`. File sources come
 * first because they never fail transiently, so the licence binding does not move when smartctl
 * times out. smartctl's answer is kept as `innerSerial` when it differs (the drive behind a USB
 * bridge). Model: udev `ID_MODEL_ENC`, sysfs `device/model` or `device/name`, udev `ID_MODEL`,
 * smartctl `model_name`.
 */
import { listDir, readTextOrNull, readValue } from "./read_text.ts";
import { type SmartctlRunner, smartctlSource, smartString } from "./smartctl.ts";
import type { DiskFingerprint, Sourced } from "./types.ts";

export interface DiskRoots {
  /** Usually "/sys". */
  readonly sysRoot: string;
  /** Usually "/dev". */
  readonly devRoot: string;
  /** Usually "/run/udev" (udev's database is `<root>/data/b<major>:<minor>`). */
  readonly runUdevRoot: string;
}

const VIRTUAL_DISK = /^(loop|ram|zram|dm-|md|nbd)\d*|^mmcblk\d+(boot\d+|rpmb)$/;

/** Physical block device names under `<sysRoot>/block`, sorted. */
export async function listDisks(sysRoot: string): Promise<string[]> {
  const names = await listDir(`${sysRoot}/block`);
  const kept: string[] = [];
  for (const name of names) {
    if (VIRTUAL_DISK.test(name)) continue;
    const size = await readValue(`${sysRoot}/block/${name}/size`);
    if (size === "0") continue;
    kept.push(name);
  }
  return kept;
}

/** udev's `E:KEY=VALUE` properties of one device, or an empty map. */
export async function readUdevProperties(
  runUdevRoot: string,
  majorMinor: string,
): Promise<{ path: string; props: Map<string, string> }> {
  const path = `${runUdevRoot}/data/b${majorMinor}`;
  const text = await readTextOrNull(path);
  const props = new Map<string, string>();
  for (const line of (text ?? "").split("\n")) {
    if (!line.startsWith("E:")) continue;
    const eq = line.indexOf("=");
    if (eq > 2) props.set(line.slice(2, eq), line.slice(eq + 1).trim());
  }
  return { path, props };
}

/** udev's `\x20`-style escapes (ID_MODEL_ENC). */
function udevUnescape(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
    .trim();
}

function first(...candidates: (Sourced | null)[]): Sourced | null {
  return candidates.find((c) => c !== null) ?? null;
}

async function sysValue(path: string): Promise<Sourced | null> {
  const value = await readValue(path);
  return value === null ? null : { value: value.replace(/\s+/g, " "), source: path };
}

/** One disk's identity. */
export async function readDisk(
  roots: DiskRoots,
  name: string,
  smartctl: SmartctlRunner | null,
): Promise<DiskFingerprint> {
  const dir = `${roots.sysRoot}/block/${name}`;
  const device = `${roots.devRoot}/${name}`;
  const majorMinor = await readValue(`${dir}/dev`);
  const udev = majorMinor === null
    ? { path: "", props: new Map<string, string>() }
    : await readUdevProperties(roots.runUdevRoot, majorMinor);
  const prop = (key: string, decode = false): Sourced | null => {
    const v = udev.props.get(key);
    return v ? { value: decode ? udevUnescape(v) : v, source: `${udev.path}:${key}` } : null;
  };
  const args = ["-i"];
  const smart = smartctl === null ? null : asRecord(await smartctl(device, args).catch(() => null)); // best effort: never binds
  const smartSerial = smartString(smart, "serial_number");
  const smartModel = smartString(smart, "model_name");
  const fromSmart = (v: string | null) =>
    v === null ? null : { value: v, source: `${smartctlSource(device, args)}` };

  const serial = first(
    await sysValue(`${dir}/device/serial`),
    await sysValue(`${dir}/serial`),
    prop("ID_SERIAL_SHORT"),
    prop("ID_SERIAL"),
    fromSmart(smartSerial),
  );
  const model = first(
    prop("ID_MODEL_ENC", true), // the SCSI model in sysfs is cut at 16 characters
    await sysValue(`${dir}/device/model`),
    await sysValue(`${dir}/device/name`), // SD cards and eMMC
    prop("ID_MODEL"),
    fromSmart(smartModel),
  );
  const sectors = Number(await readValue(`${dir}/size`));
  return {
    name,
    device,
    serial,
    model,
    innerSerial: serial !== null && smartSerial !== null && smartSerial !== serial.value
      ? fromSmart(smartSerial)
      : null,
    sizeBytes: Number.isFinite(sectors) && sectors > 0 ? sectors * 512 : null,
    removable: (await readValue(`${dir}/removable`)) === "1",
  };
}

function asRecord(v: unknown): Record<string, unknown> | null {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? v as Record<string, unknown>
    : null;
}

/** Every physical disk, sorted by name. */
export async function readDisks(
  roots: DiskRoots,
  smartctl: SmartctlRunner | null,
): Promise<DiskFingerprint[]> {
  const names = await listDisks(roots.sysRoot);
  return await Promise.all(names.map((n) => readDisk(roots, n, smartctl)));
}
