/**
 * The lines between the plugin host and a plugin process: one JSON object a line, the host
 * writing to the plugin's stdin and the plugin to its stdout. Pure: the SDK (which runs inside the
 * sandbox) imports this file and nothing else of the daemon, so it imports nothing itself.
 *
 * Everything a plugin writes is hostile until read: `LineReader` refuses a line longer than
 * MAX_LINE_BYTES without buffering it, and the host counts lines and bytes per second.
 */

/** The longest line either side may write (a serial chunk in base64 fits many times over). */
export const MAX_LINE_BYTES = 64 * 1024;

/** How often the SDK says it is alive; the host's stall watchdog allows many missed beats. */
export const HEARTBEAT_MS = 1_000;

/** A value a reading may carry. */
export type ReadingValue = number | string | boolean;

/** Host → plugin. */
export type ToPlugin =
  | {
    readonly t: "init";
    readonly id: string;
    readonly settings: Readonly<Record<string, ReadingValue>>;
    /** Where /sys is (tests point it at a fixture tree; the read permission follows it). */
    readonly sysRoot: string;
  }
  | { readonly t: "stop" }
  | { readonly t: "serial-opened"; readonly port: number }
  | { readonly t: "serial-data"; readonly port: number; readonly b64: string }
  | { readonly t: "serial-closed"; readonly port: number; readonly error: string | null };

/** Plugin → host. */
export type FromPlugin =
  | { readonly t: "hb" }
  | { readonly t: "ready" }
  | {
    readonly t: "reading";
    readonly name: string;
    readonly value: ReadingValue;
    readonly unit: string;
  }
  | {
    readonly t: "event";
    readonly kind: "sensor-alarm";
    readonly sensor: string;
    readonly reason: string;
    readonly value?: ReadingValue;
  }
  | { readonly t: "log"; readonly level: "debug" | "info" | "warn" | "error"; readonly msg: string }
  | {
    readonly t: "serial-open";
    readonly port: number;
    readonly path: string;
    readonly baudRate: number;
    /** Default "none" (8N1); Modbus RTU's default framing is 8E1. */
    readonly parity?: "none" | "even" | "odd";
    /** Default 1. */
    readonly stopBits?: 1 | 2;
  }
  | { readonly t: "serial-write"; readonly port: number; readonly b64: string }
  | { readonly t: "serial-close"; readonly port: number }
  | { readonly t: "done"; readonly error: string | null };

/** A line that breaks the protocol; the host stops the plugin with this message. */
export class ProtocolViolation extends Error {
  override name = "ProtocolViolation";
}

/**
 * Splits a byte stream into lines of at most `maxBytes` (newline excluded). A longer line throws
 * ProtocolViolation as soon as it passes the limit, so a plugin writing without newlines costs
 * the host at most `maxBytes` of memory.
 */
export class LineReader {
  #parts: Uint8Array[] = [];
  #size = 0;
  readonly #max: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });

  constructor(maxBytes = MAX_LINE_BYTES) {
    this.#max = maxBytes;
  }

  /** Feeds a chunk; returns the lines it completes. */
  push(chunk: Uint8Array): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== 0x0a) continue;
      this.#append(chunk.subarray(start, i));
      lines.push(this.#take());
      start = i + 1;
    }
    this.#append(chunk.subarray(start));
    return lines;
  }

  #append(part: Uint8Array): void {
    if (part.length === 0) return;
    this.#size += part.length;
    if (this.#size > this.#max) {
      throw new ProtocolViolation(
        `wrote a line longer than ${this.#max} bytes (the most one message may take)`,
      );
    }
    this.#parts.push(part.slice());
  }

  #take(): string {
    const all = new Uint8Array(this.#size);
    let at = 0;
    for (const p of this.#parts) all.set(p, at), at += p.length;
    this.#parts = [];
    this.#size = 0;
    return this.#decoder.decode(all);
  }
}

const FROM_PLUGIN_TYPES = new Set([
  "hb",
  "ready",
  "reading",
  "event",
  "log",
  "serial-open",
  "serial-write",
  "serial-close",
  "done",
]);

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Reads one line from a plugin; throws ProtocolViolation naming what is wrong. */
export function parseFromPlugin(line: string): FromPlugin {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new ProtocolViolation(
      `wrote a line that is not JSON (${JSON.stringify(line.slice(0, 60))}); plugins must ` +
        "write only through the SDK (console output goes to ctx.log)",
    );
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ProtocolViolation("wrote a JSON value that is not an object");
  }
  const m = raw as Record<string, unknown>;
  if (typeof m.t !== "string" || !FROM_PLUGIN_TYPES.has(m.t)) {
    throw new ProtocolViolation(`wrote an unknown message type ${JSON.stringify(m.t)}`);
  }
  const str = (k: string, max = 200) => {
    const v = m[k];
    if (typeof v !== "string" || v.length > max) {
      throw new ProtocolViolation(`${m.t}.${k}: expected a string of at most ${max} characters`);
    }
    return v;
  };
  const int = (k: string) => {
    const v = m[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new ProtocolViolation(`${m.t}.${k}: expected a whole number`);
    }
    return v;
  };
  const value = (k: string): ReadingValue => {
    const v = m[k];
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "boolean") return v;
    if (typeof v === "string" && v.length <= 200) return v;
    throw new ProtocolViolation(`${m.t}.${k}: expected a finite number, a boolean or a string`);
  };
  const name = (k: string) => {
    const v = str(k, 64);
    if (!NAME.test(v)) {
      throw new ProtocolViolation(
        `${m.t}.${k}: ${JSON.stringify(v)} is not a name (letters, digits, '_', '.', '-')`,
      );
    }
    return v;
  };
  switch (m.t) {
    case "hb":
    case "ready":
      return { t: m.t };
    case "reading":
      return { t: "reading", name: name("name"), value: value("value"), unit: str("unit", 16) };
    case "event": {
      if (m.kind !== "sensor-alarm") {
        throw new ProtocolViolation(
          `event.kind: ${JSON.stringify(m.kind)} is not an event plugins may raise (sensor-alarm)`,
        );
      }
      return {
        t: "event",
        kind: "sensor-alarm",
        sensor: name("sensor"),
        reason: str("reason"),
        ...(m.value === undefined ? {} : { value: value("value") }),
      };
    }
    case "log": {
      const level = m.level;
      if (level !== "debug" && level !== "info" && level !== "warn" && level !== "error") {
        throw new ProtocolViolation("log.level: expected debug, info, warn or error");
      }
      return { t: "log", level, msg: str("msg", 2000) };
    }
    case "serial-open": {
      const { parity, stopBits } = m;
      if (parity !== undefined && parity !== "none" && parity !== "even" && parity !== "odd") {
        throw new ProtocolViolation('serial-open.parity: expected "none", "even" or "odd"');
      }
      if (stopBits !== undefined && stopBits !== 1 && stopBits !== 2) {
        throw new ProtocolViolation("serial-open.stopBits: expected 1 or 2");
      }
      return {
        t: "serial-open",
        port: int("port"),
        path: str("path", 256),
        baudRate: int("baudRate"),
        ...(parity === undefined ? {} : { parity }),
        ...(stopBits === undefined ? {} : { stopBits }),
      };
    }
    case "serial-write":
      return { t: "serial-write", port: int("port"), b64: str("b64", MAX_LINE_BYTES) };
    case "serial-close":
      return { t: "serial-close", port: int("port") };
    default: // "done"
      return { t: "done", error: m.error === null ? null : str("error", 2000) };
  }
}

export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
