/**
 * What to poll: register maps (a preset, or the `registers` setting), grouped into as few 03/04
 * requests as possible; values scaled; alarms on thresholds. Pure: no Deno APIs.
 */
import { MAX_REGISTERS, type ReadFunction } from "./frame.ts";

export type ValueType = "u16" | "s16" | "u32" | "s32";

export interface RegisterSpec {
  /** The reading's name (letters, digits, '_', '.', '-'). */
  readonly name: string;
  readonly fn: ReadFunction;
  /** The address on the wire (as the device's manual lists it, 0-based). */
  readonly address: number;
  readonly type: ValueType;
  readonly scale: number;
  readonly unit: string;
}

/**
 * XY-MD02 (SHT20) RS-485 temperature/humidity transmitter: input registers 0x0001 temperature
 * (signed, 0.1 °C: 0xFF33 is −20.5 °C) and 0x0002 humidity (0.1 %RH), read with function 04;
 * factory settings slave 1, 9600 baud 8N1. Sources in README.md.
 */
export const PRESETS: Readonly<Record<string, readonly RegisterSpec[]>> = {
  "xy-md02": [
    { name: "temperature", fn: 4, address: 1, type: "s16", scale: 0.1, unit: "°C" },
    { name: "humidity", fn: 4, address: 2, type: "u16", scale: 0.1, unit: "%RH" },
  ],
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const WIDTH: Record<ValueType, number> = { u16: 1, s16: 1, u32: 2, s32: 2 };

/** The `registers` setting is wrong; the message names the entry and the field. */
export class SettingError extends Error {
  override name = "SettingError";
}

/**
 * Parses `name:input|holding:address[:type[:scale[:unit]]]` entries separated by `;`, e.g.
 * `temperature:input:1:s16:0.1:°C; humidity:input:2:u16:0.1:%RH`. Types u16 (default), s16, u32,
 * s32 (32-bit: high word first); scale default 1; unit up to 16 characters.
 */
export function parseRegisters(text: string): RegisterSpec[] {
  const out: RegisterSpec[] = [];
  const entries = text.split(";").map((e) => e.trim()).filter((e) => e !== "");
  if (entries.length > 32) {
    throw new SettingError(`setting registers: ${entries.length} entries; at most 32`);
  }
  for (const [i, entry] of entries.entries()) {
    const bad = (what: string) =>
      new SettingError(
        `setting registers, entry ${i + 1} (${JSON.stringify(entry)}): ${what}; expected ` +
          "name:input|holding:address[:u16|s16|u32|s32[:scale[:unit]]]",
      );
    const [name = "", kind = "", addr = "", type = "u16", scale = "1", unit = "", ...rest] = entry
      .split(":").map((p) => p.trim());
    if (rest.length > 0) throw bad("too many fields");
    if (!NAME.test(name)) throw bad(`name ${JSON.stringify(name)} is not letters, digits, _ . -`);
    if (out.some((s) => s.name === name)) throw bad(`name ${name} is used twice`);
    if (kind !== "input" && kind !== "holding") {
      throw bad(`${JSON.stringify(kind)} is not input or holding`);
    }
    const address = Number(addr);
    if (!/^(0x[0-9a-f]+|\d+)$/i.test(addr) || address > 0xffff) {
      throw bad(`address ${JSON.stringify(addr)} is not 0–65535 (decimal or 0x…)`);
    }
    if (!(type in WIDTH)) throw bad(`type ${JSON.stringify(type)} is not u16, s16, u32 or s32`);
    const vt = type as ValueType;
    if (address + WIDTH[vt] > 0x10000) throw bad(`a ${vt} at ${address} runs past 65535`);
    const factor = Number(scale);
    if (!Number.isFinite(factor) || factor === 0) {
      throw bad(`scale ${JSON.stringify(scale)} is not a non-zero number`);
    }
    if (unit.length > 16) throw bad("unit is longer than 16 characters");
    out.push({ name, fn: kind === "input" ? 4 : 3, address, type: vt, scale: factor, unit });
  }
  return out;
}

/** One request and the registers it carries. */
export interface ReadPlan {
  readonly fn: ReadFunction;
  readonly address: number;
  readonly count: number;
  readonly specs: readonly RegisterSpec[];
}

/**
 * Groups the specs into requests: same function, registers within `maxGap` of each other, at most
 * MAX_REGISTERS per request (the XY-MD02 preset becomes the one read its manual shows:
 * 01 04 00 01 00 02 20 0B).
 */
export function planReads(specs: readonly RegisterSpec[], maxGap = 8): ReadPlan[] {
  const sorted = [...specs].sort((a, b) => a.fn - b.fn || a.address - b.address);
  const plans: { fn: ReadFunction; address: number; end: number; specs: RegisterSpec[] }[] = [];
  for (const s of sorted) {
    const end = s.address + WIDTH[s.type];
    const last = plans.at(-1);
    if (
      last && last.fn === s.fn && s.address <= last.end + maxGap &&
      Math.max(end, last.end) - last.address <= MAX_REGISTERS
    ) {
      last.end = Math.max(last.end, end);
      last.specs.push(s);
    } else plans.push({ fn: s.fn, address: s.address, end, specs: [s] });
  }
  return plans.map((p) => ({
    fn: p.fn,
    address: p.address,
    count: p.end - p.address,
    specs: p.specs,
  }));
}

/** The scaled value of `spec` in the registers `regs` read from `plan.address` on. */
export function valueOf(spec: RegisterSpec, plan: ReadPlan, regs: Uint16Array): number {
  const at = spec.address - plan.address;
  const hi = regs[at] ?? 0;
  let raw: number;
  switch (spec.type) {
    case "u16":
      raw = hi;
      break;
    case "s16":
      raw = hi >= 0x8000 ? hi - 0x10000 : hi;
      break;
    case "u32":
      raw = hi * 0x10000 + (regs[at + 1] ?? 0);
      break;
    case "s32": {
      const u = hi * 0x10000 + (regs[at + 1] ?? 0);
      raw = u >= 0x80000000 ? u - 0x100000000 : u;
      break;
    }
  }
  // Round away binary noise of the scale (0.1 × 305 = 30.500000000000004).
  return Number((raw * spec.scale).toPrecision(12));
}

export interface AlarmRule {
  readonly name: string;
  readonly above: boolean;
  readonly limit: number;
}

/** Parses `temperature>40; humidity<10` (names must be registers being read). */
export function parseAlarms(text: string, names: readonly string[]): AlarmRule[] {
  const out: AlarmRule[] = [];
  for (const entry of text.split(";").map((e) => e.trim()).filter((e) => e !== "")) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*([<>])\s*(-?\d+(?:\.\d+)?)$/.exec(entry);
    if (!m) {
      throw new SettingError(
        `setting alarms: ${JSON.stringify(entry)} is not <name> > <number> or <name> < <number>`,
      );
    }
    if (!names.includes(m[1]!)) {
      throw new SettingError(
        `setting alarms: ${m[1]} is not a register being read (${names.join(", ")})`,
      );
    }
    out.push({ name: m[1]!, above: m[2] === ">", limit: Number(m[3]) });
  }
  return out;
}

/** One alarm per excursion and rule: another only after the value was back inside. */
export class Alarms {
  readonly #out = new Set<AlarmRule>();
  constructor(readonly rules: readonly AlarmRule[]) {}

  check(
    name: string,
    value: number,
    unit: string,
  ): { sensor: string; reason: string; value: number }[] {
    const raised = [];
    for (const rule of this.rules) {
      if (rule.name !== name) continue;
      const outside = rule.above ? value > rule.limit : value < rule.limit;
      if (!outside) {
        this.#out.delete(rule);
        continue;
      }
      if (this.#out.has(rule)) continue;
      this.#out.add(rule);
      raised.push({
        sensor: name,
        reason: `${rule.above ? "above" : "below"} ${rule.limit}${unit ? " " + unit : ""}`,
        value,
      });
    }
    return raised;
  }
}
