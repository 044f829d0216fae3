/**
 * SMART health and wear from `smartctl --json -i -H -A`: `smart_status.passed`, NVMe
 * `percentage_used`, and for SATA SSDs the first wear attribute found (its normalised value is
 * the life left, so wear used = 100 − value).
 */
import { type SmartctlRunner, smartString } from "../fingerprint/smartctl.ts";
import type { SmartHealth } from "./types.ts";

/** ATA attributes whose normalised value is the life left in %, most specific first. */
const ATA_WEAR: readonly number[] = [231, 233, 202, 177, 169, 173];
export const SMART_ARGS: readonly string[] = ["-i", "-H", "-A"];

interface AtaAttribute {
  id?: unknown;
  name?: unknown;
  value?: unknown;
  raw?: { value?: unknown };
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function get(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** SMART health of one device from smartctl's JSON (null: smartctl gave nothing). */
export function parseSmartHealth(
  device: string,
  json: Record<string, unknown> | null,
): SmartHealth {
  const empty: SmartHealth = {
    device,
    model: null,
    passed: null,
    wearPercentUsed: null,
    wearSource: null,
    temperatureC: null,
    powerOnHours: null,
    reallocatedSectors: null,
    pendingSectors: null,
    mediaErrors: null,
    error: null,
  };
  if (json === null) {
    return { ...empty, error: "smartctl gave no answer (not installed, or no permission)" };
  }
  const passed = get(json, "smart_status", "passed");
  const table = get(json, "ata_smart_attributes", "table");
  const attrs = Array.isArray(table) ? table as AtaAttribute[] : [];
  const raw = (id: number) => num(attrs.find((a) => a.id === id)?.raw?.value);
  let wear: number | null = num(get(json, "nvme_smart_health_information_log", "percentage_used"));
  let wearSource = wear === null ? null : "nvme:percentage_used";
  for (const id of wear === null ? ATA_WEAR : []) {
    const a = attrs.find((x) => x.id === id);
    const left = num(a?.value);
    if (a !== undefined && left !== null && left >= 0 && left <= 100) {
      wear = 100 - left;
      wearSource = `ata:${id} ${typeof a.name === "string" ? a.name : ""}`.trim();
      break;
    }
  }
  return {
    ...empty,
    model: smartString(json, "model_name"),
    passed: typeof passed === "boolean" ? passed : null,
    wearPercentUsed: wear,
    wearSource,
    temperatureC: num(get(json, "temperature", "current")),
    powerOnHours: num(get(json, "power_on_time", "hours")),
    reallocatedSectors: raw(5),
    pendingSectors: raw(197),
    mediaErrors: num(get(json, "nvme_smart_health_information_log", "media_errors")),
  };
}

/** Asks smartctl about each device, in parallel. */
export async function readSmart(
  devices: readonly string[],
  smartctl: SmartctlRunner | null,
): Promise<SmartHealth[]> {
  if (smartctl === null) return [];
  return await Promise.all(devices.map(async (device) => {
    try {
      const json = await smartctl(device, SMART_ARGS);
      const obj = typeof json === "object" && json !== null && !Array.isArray(json)
        ? json as Record<string, unknown>
        : null;
      return parseSmartHealth(device, obj);
    } catch (err) {
      return {
        ...parseSmartHealth(device, null),
        error: `smartctl failed: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }));
}
