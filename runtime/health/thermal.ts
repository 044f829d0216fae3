/**
 * Temperatures from /sys/class/thermal/thermal_zone* (`temp` in millidegrees, `type` the name).
 * The CPU temperature is the first zone whose type names the CPU or SoC (cpu-thermal on the Pi,
 * CPU-therm on Jetson, soc-thermal on Rockchip, x86_pkg_temp on Intel); else the hottest zone,
 * leaving out Jetson's PMIC-Die, which reads a fixed 100 °C.
 */
import { listDir, readValue } from "../fingerprint/read_text.ts";
import type { Temperature } from "./types.ts";

const CPU_ZONE = /^(cpu|soc|x86_pkg_temp|k10temp|coretemp|package|bigcore|littlecore)/i;
const NOT_A_SENSOR = /^PMIC-Die$/i;

/** Every thermal zone with a readable temperature, in zone order. */
export async function readTemperatures(sysRoot: string): Promise<Temperature[]> {
  const dir = `${sysRoot}/class/thermal`;
  const zones = (await listDir(dir)).filter((n) => n.startsWith("thermal_zone"))
    .sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
  const out: Temperature[] = [];
  for (const zone of zones) {
    const milli = Number(await readValue(`${dir}/${zone}/temp`) ?? NaN);
    if (!Number.isFinite(milli)) continue;
    out.push({
      zone,
      type: (await readValue(`${dir}/${zone}/type`)) ?? zone,
      celsius: Math.round(milli / 100) / 10,
    });
  }
  return out;
}

/** The CPU/SoC temperature among the zones, or null. */
export function cpuTemperature(temps: readonly Temperature[]): number | null {
  const cpu = temps.find((t) => CPU_ZONE.test(t.type));
  if (cpu !== undefined) return cpu.celsius;
  const real = temps.filter((t) => !NOT_A_SENSOR.test(t.type));
  return real.length === 0 ? null : Math.max(...real.map((t) => t.celsius));
}
