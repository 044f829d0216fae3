/** The w1-temperature plugin: reads every DS18B20 each intervalSeconds; alarms on thresholds. */
import { definePlugin } from "nvr-plugin-sdk";
import manifest from "./plugin.json" with { type: "json" };
import { readSensors, Thresholds } from "./w1.ts";

export const plugin = definePlugin({
  manifest,
  async start(ctx) {
    const intervalMs = Number(ctx.settings.intervalSeconds) * 1000;
    const thresholds = new Thresholds(Number(ctx.settings.highC), Number(ctx.settings.lowC));
    const failing = new Set<string>();
    while (!ctx.signal.aborted) {
      for (const sensor of await readSensors(ctx.sysRoot)) {
        if ("error" in sensor) {
          // Once per sensor until it reads again: a loose wire must not fill the log.
          if (!failing.has(sensor.id)) ctx.log.warn(`${sensor.id}: ${sensor.error}`);
          failing.add(sensor.id);
          continue;
        }
        failing.delete(sensor.id);
        ctx.reading(sensor.id, sensor.celsius, "°C");
        const alarm = thresholds.check(sensor.id, sensor.celsius);
        if (alarm) ctx.event("sensor-alarm", alarm);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        ctx.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), {
          once: true,
        });
      });
    }
  },
});
