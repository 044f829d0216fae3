/**
 * The box's id in topics (`nvr/v1/<deviceId>/…`): `nvr-` and 16 hex digits, derived from
 *   1. the board serial: SHA-256 of the serial text, first 16 hex;
 *   2. else the first physical NIC's MAC (the bound ones first, then any; by name): SHA-256 of
 *      the lower-case MAC, first 16 hex;
 *   3. else a random id kept in `<dataDir>/device-id`, made once.
 * 1 and 2 survive reinstalls and reboots; 3 survives reboots and reinstalls that keep the data
 * disk.
 */
import { fingerprintBinding, sha256Hex } from "./hash.ts";
import type { Fingerprint } from "./types.ts";

export interface DeviceIdentity {
  /** e.g. "nvr-3f2a9c0d11e4b7a8". */
  readonly deviceId: string;
  readonly basis: "board-serial" | "mac" | "persisted";
  /** The file or value source the id came from. */
  readonly source: string;
}

const DEVICE_ID = /^nvr-[0-9a-f]{16}$/;

/** The device-id file in the data folder. */
export function deviceIdPath(dataDir: string): string {
  return `${dataDir}/device-id`;
}

/** The device-id file exists but does not hold an id. */
export class DeviceIdError extends Error {
  readonly path: string;
  constructor(path: string, content: string) {
    super(
      `'${path}' should hold a device id like nvr-0123456789abcdef, not ` +
        `${JSON.stringify(content.slice(0, 40))}. Restore it from a backup, or delete it to make ` +
        "a new id (the fleet will then see a new box).",
    );
    this.name = "DeviceIdError";
    this.path = path;
  }
}

/** The device id for this fingerprint; writes `<dataDir>/device-id` only in case 3. */
export async function deriveDeviceId(
  fp: Fingerprint,
  opts: { readonly dataDir: string },
): Promise<DeviceIdentity> {
  if (fp.board.serial !== null) {
    const hex = await sha256Hex(fp.board.serial.value);
    return {
      deviceId: `nvr-${hex.slice(0, 16)}`,
      basis: "board-serial",
      source: fp.board.serial.source,
    };
  }
  const bound = new Set(fingerprintBinding(fp).macs);
  const nic = fp.network.find((n) => bound.has(n.mac.value.toLowerCase())) ?? fp.network[0];
  if (nic !== undefined) {
    const hex = await sha256Hex(nic.mac.value.toLowerCase());
    return { deviceId: `nvr-${hex.slice(0, 16)}`, basis: "mac", source: nic.mac.source };
  }
  return {
    deviceId: await persistedId(deviceIdPath(opts.dataDir)),
    basis: "persisted",
    source: deviceIdPath(opts.dataDir),
  };
}

async function persistedId(path: string): Promise<string> {
  try {
    const content = (await Deno.readTextFile(path)).trim();
    if (!DEVICE_ID.test(content)) throw new DeviceIdError(path, content);
    return content;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const id = `nvr-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeTextFile(tmp, id + "\n");
  const f = await Deno.open(tmp, { read: true });
  try {
    await f.sync();
  } finally {
    f.close();
  }
  await Deno.rename(tmp, path);
  return id;
}
