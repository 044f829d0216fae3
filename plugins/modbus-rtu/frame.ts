/**
 * Modbus RTU frames for functions 03 (read holding registers) and 04 (read input registers):
 * requests, answers, exception answers, and the line timing. Pure: no Deno APIs.
 *
 * A frame (ADU) is `slave, function, data…, CRC low, CRC high`, at most 256 bytes ("MODBUS over
 * Serial Line V1.02" §2.5.1). A read answer is `slave, fn, byteCount, registers…, CRC` (5 + 2n
 * bytes); an exception answer is `slave, fn | 0x80, code, CRC` (5 bytes).
 */
import { crcOk, withCrc } from "./crc.ts";

/** The longest RTU frame (serial line spec §2.5.1). */
export const MAX_ADU = 256;
/** The most registers one 03/04 request may ask for (application protocol spec §6.3, §6.4). */
export const MAX_REGISTERS = 125;

export type ReadFunction = 3 | 4;

export interface ReadRequest {
  /** 1–247 (0 is broadcast, which reads never use). */
  readonly slave: number;
  /** 3 = holding registers, 4 = input registers. */
  readonly fn: ReadFunction;
  /** The first register's address on the wire (0–65535). */
  readonly address: number;
  /** 1–125. */
  readonly count: number;
}

export type ModbusErrorKind =
  | "timeout"
  | "crc"
  | "wrong-slave"
  | "wrong-function"
  | "wrong-length"
  | "exception"
  | "noise"
  | "closed";

/** A failed transaction; branch on `kind`, never on the message. */
export class ModbusError extends Error {
  override name = "ModbusError";
  constructor(
    readonly kind: ModbusErrorKind,
    message: string,
    readonly exceptionCode: number | null = null,
  ) {
    super(message);
  }
}

/** Exception codes (application protocol spec §7). */
export const EXCEPTIONS: Readonly<Record<number, string>> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "slave device failure",
  5: "acknowledge",
  6: "slave device busy",
  8: "memory parity error",
  10: "gateway path unavailable",
  11: "gateway target device failed to respond",
};

/** Checks a request; throws a RangeError naming the field and what is accepted. */
export function checkRequest(r: ReadRequest): void {
  const whole = (name: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new RangeError(`Modbus request: ${name} ${v} is not a whole number in ${lo}–${hi}`);
    }
  };
  whole("slave", r.slave, 1, 247);
  if (r.fn !== 3 && r.fn !== 4) {
    throw new RangeError(`Modbus request: function ${r.fn} is not 3 (holding) or 4 (input)`);
  }
  whole("count", r.count, 1, MAX_REGISTERS);
  whole("address", r.address, 0, 0xffff);
  if (r.address + r.count > 0x10000) {
    throw new RangeError(
      `Modbus request: registers ${r.address}…${r.address + r.count - 1} run past 65535`,
    );
  }
}

/** The 8-byte request frame. */
export function encodeRequest(r: ReadRequest): Uint8Array {
  checkRequest(r);
  return withCrc(
    new Uint8Array([r.slave, r.fn, r.address >> 8, r.address & 0xff, r.count >> 8, r.count & 0xff]),
  );
}

/**
 * How many bytes the frame that starts with `head` has in all, once enough of it is known:
 * 5 for an exception, 5 + byteCount for a read answer; null while fewer than 3 bytes are in.
 */
export function frameLength(head: Uint8Array): number | null {
  if (head.length < 3) return null;
  if (head[1]! & 0x80) return 5;
  return 5 + head[2]!;
}

/**
 * The registers of the answer `frame` to `r`. Throws a ModbusError: `crc` (checked first: nothing
 * else of a frame with a bad CRC can be trusted), `wrong-slave`, `wrong-function`, `exception`
 * (with its code), `wrong-length` (byte count not 2 × count, or the frame not 5 + byte count).
 */
export function decodeAnswer(frame: Uint8Array, r: ReadRequest): Uint16Array {
  const hex = (n: number) => "0x" + n.toString(16).padStart(2, "0");
  if (frame.length < 5 || !crcOk(frame)) {
    throw new ModbusError("crc", `answer of ${frame.length} bytes with a bad CRC`);
  }
  if (frame[0] !== r.slave) {
    throw new ModbusError("wrong-slave", `answer from slave ${frame[0]}, asked slave ${r.slave}`);
  }
  const fn = frame[1]!;
  if ((fn & 0x7f) !== r.fn) {
    throw new ModbusError("wrong-function", `answer to function ${hex(fn)}, asked ${hex(r.fn)}`);
  }
  if (fn & 0x80) {
    const code = frame[2]!;
    if (frame.length !== 5) {
      throw new ModbusError("wrong-length", `exception answer of ${frame.length} bytes, not 5`);
    }
    throw new ModbusError(
      "exception",
      `slave ${r.slave} answered exception ${code} (${EXCEPTIONS[code] ?? "unknown"}) to ` +
        `function ${r.fn}, registers ${r.address}…${r.address + r.count - 1}`,
      code,
    );
  }
  const byteCount = frame[2]!;
  if (byteCount !== 2 * r.count || frame.length !== 5 + byteCount) {
    throw new ModbusError(
      "wrong-length",
      `answer carries ${byteCount} bytes in a ${frame.length}-byte frame; asked ` +
        `${r.count} registers (${2 * r.count} bytes)`,
    );
  }
  const out = new Uint16Array(r.count);
  for (let i = 0; i < r.count; i++) out[i] = (frame[3 + 2 * i]! << 8) | frame[4 + 2 * i]!;
  return out;
}

/** The answer frame a slave sends (for the virtual slave and tests). */
export function encodeAnswer(
  slave: number,
  fn: ReadFunction,
  registers: ArrayLike<number>,
): Uint8Array {
  const body = new Uint8Array(3 + 2 * registers.length);
  body[0] = slave, body[1] = fn, body[2] = 2 * registers.length;
  for (let i = 0; i < registers.length; i++) {
    body[3 + 2 * i] = (registers[i]! >> 8) & 0xff;
    body[4 + 2 * i] = registers[i]! & 0xff;
  }
  return withCrc(body);
}

/** The exception frame a slave sends. */
export function encodeException(slave: number, fn: number, code: number): Uint8Array {
  return withCrc(new Uint8Array([slave, fn | 0x80, code]));
}

/** Line framing: what one character costs on the wire. */
export interface Framing {
  readonly baudRate: number;
  readonly parity: "none" | "even" | "odd";
  readonly stopBits: 1 | 2;
}

/** Bits one character takes: start, 8 data, parity if any, stop bits (10 for 8N1, 11 for 8E1). */
export function bitsPerChar(f: Framing): number {
  return 1 + 8 + (f.parity === "none" ? 0 : 1) + f.stopBits;
}

/** Milliseconds `chars` characters take on the wire. */
export function charsMs(f: Framing, chars: number): number {
  return (chars * bitsPerChar(f) * 1000) / f.baudRate;
}

/**
 * The silence that ends a frame and must precede the next one, t3.5, in ms: 3.5 character times,
 * and a fixed 1.75 ms above 19200 baud (serial line spec §2.5.1.1).
 */
export function silenceMs(f: Framing): number {
  return f.baudRate > 19200 ? 1.75 : charsMs(f, 3.5);
}
