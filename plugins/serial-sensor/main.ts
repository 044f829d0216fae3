/**
 * The serial-sensor plugin: reads the line protocol of protocol.ts ($TH temperature/humidity,
 * $DC door contact) from a serial port the host opens for it, reports the values as readings and
 * raises `sensor-alarm`s (alarms.ts: thresholds with hysteresis, one alarm per door opening).
 * An unplugged or silent sensor is opened again after a growing pause (1 s, 2 s, 5 s, then every
 * 10 s). Readings are reported at most once a second each (a change of state four times a second)
 * and alarms at most ten a minute, so a sensor that floods its port cannot make the host stop the
 * plugin for flooding its output.
 */
import { definePlugin, type PluginContext, type RelayedPort } from "nvr-plugin-sdk";
import manifest from "./plugin.json" with { type: "json" };
import { Alarms } from "./alarms.ts";
import { LineSplitter, parseSensorLine } from "./protocol.ts";
import { Throttle } from "./throttle.ts";

const REOPEN_MS = [1_000, 2_000, 5_000, 10_000];
const READING_GAP_MS = 1_000;
const CHANGE_GAP_MS = 250;
const ALARMS_PER_MINUTE = 10;
/** Bad lines are logged once, then at most once a minute with their count. */
const BAD_LINE_LOG_MS = 60_000;

export const plugin = definePlugin({
  manifest,
  async start(ctx) {
    const s = ctx.settings;
    const device = String(s.device);
    const baudRate = Number(s.baudRate);
    const staleMs = Number(s.staleSeconds) * 1000;
    const alarms = new Alarms({
      highC: Number(s.highC),
      lowC: Number(s.lowC),
      hysteresisC: Number(s.hysteresisC),
      highHumidity: Number(s.highHumidity),
      hysteresisHumidity: Number(s.hysteresisHumidity),
      doorAlarm: s.doorAlarm === true,
    });
    const out = new Reporter(ctx);
    let failures = 0;
    let lastProblem = "";
    const problem = (text: string) => {
      // Once per kind of problem: an unplugged sensor must not fill the log every 10 s.
      if (text !== lastProblem) ctx.log.warn(text);
      lastProblem = text;
    };
    while (!ctx.signal.aborted) {
      let port: RelayedPort;
      try {
        port = await ctx.serial(device, { baudRate });
      } catch (err) {
        out.connected(false);
        problem(`cannot open ${device}: ${(err as Error).message}; trying again`);
        await pause(REOPEN_MS[Math.min(failures++, REOPEN_MS.length - 1)]!, ctx.signal);
        continue;
      }
      ctx.log.info(`${device} open at ${baudRate} baud`);
      lastProblem = "";
      const ended = await readPort(port, staleMs, ctx, alarms, out, () => failures = 0);
      out.connected(false);
      if (ctx.signal.aborted) break;
      problem(`${device}: ${ended}; opening it again`);
      await pause(REOPEN_MS[Math.min(failures++, REOPEN_MS.length - 1)]!, ctx.signal);
    }
  },
});

/** Reads sentences until the port ends, goes silent for staleMs or the plugin stops; says why. */
async function readPort(
  port: RelayedPort,
  staleMs: number,
  ctx: PluginContext,
  alarms: Alarms,
  out: Reporter,
  onValid: () => void,
): Promise<string> {
  const splitter = new LineSplitter();
  let why = "the port was closed (unplugged?)";
  let stale: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(stale);
    stale = setTimeout(() => {
      why = `no valid sentence for ${staleMs / 1000} s`;
      port.close();
    }, staleMs);
  };
  const onAbort = () => port.close();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  let bad = 0;
  let badLoggedAt = -Infinity;
  arm();
  try {
    for (let chunk = await port.read(); chunk; chunk = await port.read()) {
      for (const line of splitter.push(chunk)) {
        const r = parseSensorLine(line);
        if ("error" in r) {
          bad++;
          if (Date.now() - badLoggedAt >= BAD_LINE_LOG_MS) {
            ctx.log.warn(`${bad} bad line(s) skipped; the last: ${r.message}`);
            badLoggedAt = Date.now();
            bad = 0;
          }
          continue;
        }
        arm();
        onValid();
        out.connected(true);
        if ("doorOpen" in r) {
          out.reading("door", r.doorOpen ? "open" : "closed", "", true);
          for (const a of alarms.door(r.doorOpen)) out.alarm(a);
        } else {
          out.reading("temperature", r.temperatureC, "°C");
          out.reading("humidity", r.humidity, "%");
          for (const a of alarms.reading(r.temperatureC, r.humidity)) out.alarm(a);
        }
      }
    }
  } finally {
    clearTimeout(stale);
    ctx.signal.removeEventListener("abort", onAbort);
    port.close();
  }
  return why;
}

/**
 * Readings: each name at most once a second, a change of state (door, connection) after at least
 * a quarter of a second; a value held back is sent when its pause ends, so the last one always
 * arrives (a door that flaps 1000 times in a burst is 4 messages a second, then its final state).
 * Alarms: rate-capped.
 */
class Reporter {
  readonly #ctx: PluginContext;
  readonly #last = new Map<string, number>();
  readonly #held = new Map<string, { value: number | string | boolean; unit: string }>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #sent = new Map<string, unknown>();
  readonly #alarms = new Throttle(ALARMS_PER_MINUTE, 60_000);
  #dropped = 0;
  constructor(ctx: PluginContext) {
    this.#ctx = ctx;
    ctx.signal.addEventListener("abort", () => this.#timers.forEach((t) => clearTimeout(t)), {
      once: true,
    });
  }

  reading(name: string, value: number | string | boolean, unit: string, onChange = false): void {
    if (onChange && !this.#timers.has(name) && this.#sent.get(name) === value) return;
    const gap = onChange ? CHANGE_GAP_MS : READING_GAP_MS;
    const wait = (this.#last.get(name) ?? -Infinity) + gap - Date.now();
    if (wait <= 0 && !this.#timers.has(name)) return this.#send(name, value, unit);
    this.#held.set(name, { value, unit });
    if (this.#timers.has(name) || this.#ctx.signal.aborted) return;
    this.#timers.set(
      name,
      setTimeout(() => {
        this.#timers.delete(name);
        const held = this.#held.get(name);
        this.#held.delete(name);
        if (held && !(onChange && this.#sent.get(name) === held.value)) {
          this.#send(name, held.value, held.unit);
        }
      }, Math.max(0, wait)),
    );
  }

  #send(name: string, value: number | string | boolean, unit: string): void {
    this.#last.set(name, Date.now());
    this.#sent.set(name, value);
    this.#ctx.reading(name, value, unit);
  }

  connected(yes: boolean): void {
    this.reading("connected", yes, "", true);
  }

  alarm(a: { sensor: string; reason: string; value: number | string }): void {
    if (!this.#alarms.take(Date.now())) {
      if (this.#dropped++ === 0) {
        this.#ctx.log.warn(`more than ${ALARMS_PER_MINUTE} alarms a minute: not all are sent`);
      }
      return;
    }
    if (this.#dropped > 0) {
      this.#ctx.log.warn(`${this.#dropped} alarm(s) were not sent (too many a minute)`);
      this.#dropped = 0;
    }
    this.#ctx.event("sensor-alarm", a);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => (clearTimeout(timer), signal.removeEventListener("abort", done), resolve());
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
