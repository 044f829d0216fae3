/**
 * DS18B20 sensors through the kernel's w1 sysfs files. Pure apart from reading files under a root
 * that tests point at a fixture tree. Each sensor is a folder `28-<serial>` in
 * `<sysRoot>/bus/w1/devices`; newer kernels (5.10+) have a `temperature` file in millidegrees,
 * every kernel has `w1_slave`:
 *
 * ```
 * 72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
 * 72 01 4b 46 7f ff 0e 10 57 t=23125
 * ```
 */

export type SensorResult =
  | { readonly id: string; readonly celsius: number }
  | { readonly id: string; readonly error: string };

/** 85 °C exactly is the DS18B20's power-on value: a sensor read before its first conversion. */
const POWER_ON_MILLI = 85_000;

/** The temperature in a `w1_slave` text, or why there is none. */
export function parseW1Slave(text: string): { celsius: number } | { error: string } {
  const [first = "", second = ""] = text.split("\n");
  if (!/crc=[0-9a-f]{2} YES\s*$/i.test(first)) {
    return { error: `CRC check failed (${JSON.stringify((first.split(":").pop() ?? "").trim())})` };
  }
  const t = /t=(-?\d+)\s*$/.exec(second);
  if (!t) return { error: "no t= value on the second line" };
  return milli(Number(t[1]));
}

/** The temperature in a `temperature` file (millidegrees), or why there is none. */
export function parseTemperature(text: string): { celsius: number } | { error: string } {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) return { error: `not a number: ${JSON.stringify(trimmed)}` };
  return milli(Number(trimmed));
}

function milli(value: number): { celsius: number } | { error: string } {
  if (value === POWER_ON_MILLI) return { error: "85 °C power-on value (no conversion yet)" };
  if (value < -55_000 || value > 125_000) return { error: `${value / 1000} °C is out of range` };
  return { celsius: value / 1000 };
}

/** Every DS18B20 (family 28) under `<sysRoot>/bus/w1/devices`, read once. */
export async function readSensors(sysRoot: string): Promise<SensorResult[]> {
  const dir = `${sysRoot}/bus/w1/devices`;
  const ids: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (/^28-[0-9a-f]{12}$/i.test(e.name)) ids.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return []; // no w1 bus master loaded
    throw err;
  }
  const out: SensorResult[] = [];
  for (const id of ids.sort()) {
    let result: { celsius: number } | { error: string };
    try {
      result = parseTemperature(await Deno.readTextFile(`${dir}/${id}/temperature`));
    } catch {
      try {
        result = parseW1Slave(await Deno.readTextFile(`${dir}/${id}/w1_slave`));
      } catch (err) {
        result = { error: `unreadable: ${(err as Error).message}` };
      }
    }
    out.push({ id, ...result });
  }
  return out;
}

/**
 * One alarm per excursion: a sensor above `highC` (or below `lowC`) raises one alarm, and another
 * only after it has been back inside the band.
 */
export class Thresholds {
  readonly #out = new Set<string>();
  constructor(readonly highC: number, readonly lowC: number) {}

  check(id: string, celsius: number): { sensor: string; reason: string; value: number } | null {
    const reason = celsius > this.highC
      ? `above ${this.highC} °C`
      : celsius < this.lowC
      ? `below ${this.lowC} °C`
      : null;
    if (reason === null) {
      this.#out.delete(id);
      return null;
    }
    if (this.#out.has(id)) return null;
    this.#out.add(id);
    return { sensor: id, reason, value: celsius };
  }
}
