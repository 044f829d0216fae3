/**
 * The modbus-rtu plugin: opens the manifest's one serial port through the host, polls the
 * configured registers every intervalSeconds, reports them scaled, raises a sensor-alarm per
 * threshold excursion and one when the slave stops answering; reopens the port when it comes back.
 */
import { definePlugin, type PluginContext } from "nvr-plugin-sdk";
import manifest from "./plugin.json" with { type: "json" };
import { ModbusRtuClient } from "./client.ts";
import { type Framing, ModbusError } from "./frame.ts";
import { configFrom, type PollConfig } from "./config.ts";
import { Alarms, planReads, valueOf } from "./registers.ts";

/** The one port the manifest allows. */
const DEVICE = manifest.permissions.devices[0]!;
/** Failed polls in a row before the slave counts as gone (one alarm per outage). */
const ALARM_AFTER_FAILURES = 3;

export const plugin = definePlugin({
  manifest,
  async start(ctx) {
    const cfg = configFrom(ctx.settings);
    await poll(ctx, cfg);
  },
});

async function poll(ctx: PluginContext, cfg: PollConfig): Promise<void> {
  const plans = planReads(cfg.registers);
  const alarms = new Alarms(cfg.alarms);
  const framing: Framing = { baudRate: cfg.baudRate, parity: cfg.parity, stopBits: cfg.stopBits };
  let failures = 0;
  let lastProblem = "";
  const problem = (kind: string, message: string) => {
    failures++;
    ctx.reading("link", kind, "");
    // Once per kind of trouble (not per message: a hostile slave can vary those): a slave that
    // is gone for a week, or one that babbles, must not fill the log.
    if (kind !== lastProblem) ctx.log.warn(message);
    lastProblem = kind;
    if (failures === ALARM_AFTER_FAILURES) {
      ctx.event("sensor-alarm", { sensor: "link", reason: message.slice(0, 200) });
    }
  };
  const fine = () => {
    if (lastProblem) ctx.log.info(`slave ${cfg.slave} answers again`);
    failures = 0;
    lastProblem = "";
    ctx.reading("link", "ok", "");
  };

  while (!ctx.signal.aborted) {
    let port;
    try {
      port = await ctx.serial(DEVICE, framing);
    } catch (err) {
      problem("unplugged", `${DEVICE}: ${(err as Error).message}`);
      await pause(ctx.signal, cfg.intervalMs);
      continue;
    }
    const client = new ModbusRtuClient(port, {
      ...framing,
      timeoutMs: cfg.timeoutMs,
      retries: cfg.retries,
    });
    // Stopping closes the port, which ends a transaction that is waiting at once.
    const closePort = () => port.close();
    ctx.signal.addEventListener("abort", closePort, { once: true });
    while (!ctx.signal.aborted && client.closed === null) {
      const started = performance.now();
      let ok = true;
      let failed: ModbusError | null = null;
      for (const plan of plans) {
        try {
          const regs = await client.read({
            slave: cfg.slave,
            fn: plan.fn,
            address: plan.address,
            count: plan.count,
          });
          for (const spec of plan.specs) {
            const value = valueOf(spec, plan, regs);
            ctx.reading(spec.name, value, spec.unit);
            for (const alarm of alarms.check(spec.name, value, spec.unit)) {
              ctx.event("sensor-alarm", alarm);
            }
          }
        } catch (err) {
          if (!(err instanceof ModbusError)) throw err;
          ok = false;
          if (err.kind === "closed") break;
          failed ??= err;
        }
      }
      // One poll, one verdict, however many requests it took.
      if (ok) fine();
      else if (failed) problem(failed.kind, `slave ${cfg.slave} on ${DEVICE}: ${failed.message}`);
      if (client.closed !== null) break;
      await pause(ctx.signal, cfg.intervalMs - (performance.now() - started), client.done);
    }
    ctx.signal.removeEventListener("abort", closePort);
    port.close();
    await client.done;
    if (!ctx.signal.aborted) {
      problem("unplugged", `${DEVICE} went away (${client.closed}); opening it again`);
      await pause(ctx.signal, cfg.intervalMs);
    }
  }
}

/** Waits `ms`, or less if `signal` aborts or `early` settles. */
function pause(signal: AbortSignal, ms: number, early?: Promise<unknown>): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    early?.then(done, done);
  });
}
