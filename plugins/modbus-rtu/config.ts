/** The plugin's settings, checked beyond the manifest's schema; errors name the setting. */
import type { ReadingValue } from "nvr-plugin-sdk";
import {
  type AlarmRule,
  parseAlarms,
  parseRegisters,
  PRESETS,
  type RegisterSpec,
  SettingError,
} from "./registers.ts";

/** Rates the host relays (runtime/plugins/serial_relay.ts BAUD_RATES, up to 115200). */
const BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200];

export interface PollConfig {
  readonly slave: number;
  readonly baudRate: number;
  readonly parity: "none" | "even" | "odd";
  readonly stopBits: 1 | 2;
  readonly registers: readonly RegisterSpec[];
  readonly alarms: readonly AlarmRule[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly retries: number;
}

export function configFrom(s: Readonly<Record<string, ReadingValue>>): PollConfig {
  const baudRate = Number(s.baudRate);
  if (!BAUD_RATES.includes(baudRate)) {
    throw new SettingError(`setting baudRate: ${baudRate} is not one of ${BAUD_RATES.join(", ")}`);
  }
  const parity = String(s.parity);
  if (parity !== "none" && parity !== "even" && parity !== "odd") {
    throw new SettingError(`setting parity: ${JSON.stringify(parity)} is not none, even or odd`);
  }
  const stopBits = Number(s.stopBits);
  if (stopBits !== 1 && stopBits !== 2) {
    throw new SettingError(`setting stopBits: ${stopBits} is not 1 or 2`);
  }
  const slave = Number(s.slave);
  if (!Number.isInteger(slave)) throw new SettingError(`setting slave: ${slave} is not whole`);
  const preset = String(s.preset ?? "").trim();
  let registers: readonly RegisterSpec[];
  if (preset !== "") {
    const p = PRESETS[preset];
    if (!p) {
      throw new SettingError(
        `setting preset: ${JSON.stringify(preset)} is not one of ${
          Object.keys(PRESETS).join(", ")
        }` +
          " (or empty, to use the registers setting)",
      );
    }
    if (String(s.registers ?? "").trim() !== "") {
      throw new SettingError("settings preset and registers: give one, not both");
    }
    registers = p;
  } else {
    registers = parseRegisters(String(s.registers ?? ""));
    if (registers.length === 0) {
      throw new SettingError("setting registers: empty; give a preset or at least one register");
    }
  }
  return {
    slave,
    baudRate,
    parity,
    stopBits,
    registers,
    alarms: parseAlarms(String(s.alarms ?? ""), registers.map((r) => r.name)),
    intervalMs: Number(s.intervalSeconds) * 1000,
    timeoutMs: Number(s.timeoutMs),
    retries: Number(s.retries),
  };
}
