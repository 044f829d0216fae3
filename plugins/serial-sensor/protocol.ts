/**
 * Line protocol of the serial temperature/humidity/door-contact sensor (and of
 * the virtual one, hw-tests/sim/serial_sensor.ts).
 *
 * Pure module: no Deno or Node APIs, so the plugin (main.ts), the simulator
 * and their tests all import the protocol from this one place (the simulator
 * through hw-tests/sim/sensor_protocol.ts; a plugin may import only its own
 * files, so the file lives here).
 *
 * ## Wire format
 *
 * The sensor talks 8N1 ASCII at any baud rate (on a pty the baud rate is
 * meaningless). It sends one sentence per reading, NMEA-style:
 *
 * ```
 * $TH,<seq>,<tempC>,<rh>*<CS>\r\n
 * $TH,42,21.37,48.2*0F\r\n
 * ```
 *
 * | field   | format                                                          |
 * | ------- | --------------------------------------------------------------- |
 * | `$`     | start of sentence                                               |
 * | `TH`    | sentence id (temperature/humidity)                              |
 * | `seq`   | decimal 0..4294967295, +1 per reading, wraps to 0               |
 * | `tempC` | degrees Celsius, -40..125, sent with 2 decimals (`-3.50`)       |
 * | `rh`    | relative humidity in %, 0..100, sent with 1 decimal (`48.2`)    |
 * | `*CS`   | XOR of every byte strictly between `$` and `*`, 2 hex digits;   |
 * |         | sent upper case, accepted in either case                        |
 * | `\r\n`  | end of sentence (a bare `\n` is accepted, a bare `\r` is not)   |
 *
 * A door contact, when the sensor has one, sends its state on every change
 * and after every reading (so a reader that starts late learns it):
 *
 * ```
 * $DC,<state>*<CS>\r\n            state: 1 = open, 0 = closed
 * $DC,1*1A\r\n
 * ```
 *
 * A sentence is at most {@link MAX_LINE_LENGTH} characters including `$` and
 * the line ending (the NMEA limit). Anything else on the line (leading noise,
 * non-ASCII bytes, missing or wrong checksum, extra fields) makes the whole
 * line a {@link ParseError}: a reader never guesses.
 *
 * Bytes are mapped 1:1 to chars (latin1) by {@link LineSplitter} so that
 * binary noise stays visible as non-ASCII chars instead of being hidden by a
 * UTF-8 decoder.
 *
 * @module
 */

/** Sentence id of a reading. */
export const SENTENCE_ID = "TH";
/** Sentence id of a door contact's state. */
export const DOOR_SENTENCE_ID = "DC";
/** Longest valid sentence, including `$` and `\r\n` (NMEA 0183 limit). */
export const MAX_LINE_LENGTH = 82;
/** Valid temperature range in degrees Celsius (inclusive). */
export const TEMPERATURE_RANGE_C = { min: -40, max: 125 } as const;
/** Valid relative humidity range in percent (inclusive). */
export const HUMIDITY_RANGE = { min: 0, max: 100 } as const;
/** Sequence numbers wrap to 0 after this value. */
export const MAX_SEQ = 0xffff_ffff;

/** One sensor reading. */
export interface Reading {
  /** Sequence number, +1 per reading, wraps after {@link MAX_SEQ}. */
  readonly seq: number;
  /** Temperature in degrees Celsius (2 decimals on the wire). */
  readonly temperatureC: number;
  /** Relative humidity in percent (1 decimal on the wire). */
  readonly humidity: number;
}

/** A door contact's state. */
export interface DoorState {
  /** True when the contact is open. */
  readonly doorOpen: boolean;
}

/** Why a line is not a reading. */
export type ParseErrorCode =
  | "empty"
  | "too-long"
  | "non-ascii"
  | "bad-terminator"
  | "no-start"
  | "no-checksum"
  | "bad-checksum-format"
  | "checksum-mismatch"
  | "unknown-sentence"
  | "field-count"
  | "bad-seq"
  | "bad-temperature"
  | "bad-humidity"
  | "bad-door";

/** Result of {@link parseReadingLine} for a line that is not a valid reading. */
export interface ParseError {
  readonly error: ParseErrorCode;
  readonly message: string;
  /** The offending line (as given, possibly long), for logs. */
  readonly line: string;
}

/** Type guard telling a {@link ParseError} from a {@link Reading}. */
export function isParseError(r: Reading | DoorState | ParseError): r is ParseError {
  return "error" in r;
}

/** XOR of the char codes of `body` (the text between `$` and `*`), 0..255. */
export function checksum(body: string): number {
  let cs = 0;
  for (let i = 0; i < body.length; i++) cs ^= body.charCodeAt(i) & 0xff;
  return cs;
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, "0");
}

function fixed(value: number, decimals: number): string {
  const s = value.toFixed(decimals);
  // Avoid "-0.00" for tiny negatives that round to zero.
  return Number(s) === 0 ? (0).toFixed(decimals) : s;
}

/**
 * Formats a reading as one wire sentence, terminator included.
 *
 * @throws RangeError if seq is not an integer in 0..MAX_SEQ or a value is
 *   not finite or out of range (after rounding to its wire precision).
 */
export function formatReadingLine(reading: Reading): string {
  const { seq, temperatureC, humidity } = reading;
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQ) {
    throw new RangeError(`seq must be an integer in 0..${MAX_SEQ}, got ${seq}`);
  }
  const t = fixed(temperatureC, 2);
  const h = fixed(humidity, 1);
  if (
    !Number.isFinite(temperatureC) || Number(t) < TEMPERATURE_RANGE_C.min ||
    Number(t) > TEMPERATURE_RANGE_C.max
  ) {
    throw new RangeError(`temperatureC out of range: ${temperatureC}`);
  }
  if (
    !Number.isFinite(humidity) || Number(h) < HUMIDITY_RANGE.min || Number(h) > HUMIDITY_RANGE.max
  ) {
    throw new RangeError(`humidity out of range: ${humidity}`);
  }
  const body = `${SENTENCE_ID},${seq},${t},${h}`;
  return `$${body}*${hex2(checksum(body))}\r\n`;
}

const SEQ_RE = /^(0|[1-9][0-9]{0,9})$/;
const NUM_RE = /^-?[0-9]{1,3}(\.[0-9]{1,3})?$/;
const HEX2_RE = /^[0-9A-Fa-f]{2}$/;

/**
 * Parses one line (with or without its `\r\n` / `\n` terminator) into a
 * {@link Reading}, or tells why it is not one (a door sentence is an
 * `unknown-sentence` here; {@link parseSensorLine} reads both). Never throws.
 */
export function parseReadingLine(line: string): Reading | ParseError {
  const frame = parseFrame(line);
  if ("error" in frame) return frame;
  if (frame.fields[0] !== SENTENCE_ID) return unknownSentence(frame.fields, line);
  return parseTH(frame.fields, line);
}

/**
 * Parses one line into a {@link Reading} or a {@link DoorState}, or tells why
 * it is neither. Never throws.
 */
export function parseSensorLine(line: string): Reading | DoorState | ParseError {
  const frame = parseFrame(line);
  if ("error" in frame) return frame;
  const { fields } = frame;
  if (fields[0] === SENTENCE_ID) return parseTH(fields, line);
  if (fields[0] !== DOOR_SENTENCE_ID) return unknownSentence(fields, line);
  if (fields.length !== 2) {
    return {
      error: "field-count",
      message: `expected 2 fields, got ${fields.length}`,
      line,
    };
  }
  if (fields[1] !== "0" && fields[1] !== "1") {
    return { error: "bad-door", message: `door state must be 0 or 1, got '${fields[1]}'`, line };
  }
  return { doorOpen: fields[1] === "1" };
}

/** Formats a door contact's state as one wire sentence, terminator included. */
export function formatDoorLine(state: DoorState): string {
  const body = `${DOOR_SENTENCE_ID},${state.doorOpen ? 1 : 0}`;
  return `$${body}*${hex2(checksum(body))}\r\n`;
}

function unknownSentence(fields: string[], line: string): ParseError {
  return { error: "unknown-sentence", message: `unknown sentence '${fields[0]}'`, line };
}

/** The checks every sentence passes: length, ASCII, terminator, `$`, checksum. */
function parseFrame(line: string): { fields: string[] } | ParseError {
  const fail = (error: ParseErrorCode, message: string): ParseError => ({ error, message, line });

  if (line.length > MAX_LINE_LENGTH) {
    return fail("too-long", `line is ${line.length} chars, max ${MAX_LINE_LENGTH}`);
  }
  let text = line;
  if (text.endsWith("\r\n")) text = text.slice(0, -2);
  else if (text.endsWith("\n")) text = text.slice(0, -1);
  if (text.length === 0) return fail("empty", "empty line");
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0d || c === 0x0a) return fail("bad-terminator", `stray CR/LF at offset ${i}`);
    if (c < 0x20 || c > 0x7e) {
      return fail("non-ascii", `byte 0x${hex2(c & 0xff)} at offset ${i} is not printable ASCII`);
    }
  }
  if (text[0] !== "$") return fail("no-start", "line does not start with '$'");
  const star = text.indexOf("*");
  if (star < 0) return fail("no-checksum", "no '*' checksum delimiter");
  const body = text.slice(1, star);
  const csText = text.slice(star + 1);
  if (!HEX2_RE.test(csText)) {
    return fail("bad-checksum-format", `checksum must be 2 hex digits, got '${csText}'`);
  }
  const expected = checksum(body);
  const got = parseInt(csText, 16);
  if (got !== expected) {
    return fail("checksum-mismatch", `checksum ${hex2(got)} != computed ${hex2(expected)}`);
  }
  return { fields: body.split(",") };
}

function parseTH(fields: string[], line: string): Reading | ParseError {
  const fail = (error: ParseErrorCode, message: string): ParseError => ({ error, message, line });
  if (fields.length !== 4) return fail("field-count", `expected 4 fields, got ${fields.length}`);
  const [, seqText = "", tText = "", hText = ""] = fields;

  if (!SEQ_RE.test(seqText) || Number(seqText) > MAX_SEQ) {
    return fail("bad-seq", `bad sequence number '${seqText}'`);
  }
  if (!NUM_RE.test(tText)) return fail("bad-temperature", `bad temperature '${tText}'`);
  const temperatureC = Number(tText);
  if (temperatureC < TEMPERATURE_RANGE_C.min || temperatureC > TEMPERATURE_RANGE_C.max) {
    return fail("bad-temperature", `temperature ${tText} out of range`);
  }
  if (!NUM_RE.test(hText)) return fail("bad-humidity", `bad humidity '${hText}'`);
  const humidity = Number(hText);
  if (humidity < HUMIDITY_RANGE.min || humidity > HUMIDITY_RANGE.max) {
    return fail("bad-humidity", `humidity ${hText} out of range`);
  }
  return { seq: Number(seqText), temperatureC, humidity };
}

/**
 * Splits a byte stream into lines on `\n` (the `\r` before it is kept, so
 * {@link parseReadingLine} can check the terminator). Bytes map 1:1 to chars
 * (latin1). A line longer than `maxLineBytes` is cut to that many bytes
 * (the rest up to its `\n` is dropped) so garbage can't grow memory; the cut
 * line is still yielded, and is longer than {@link MAX_LINE_LENGTH}, so the
 * parser reports it as `too-long`.
 */
export class LineSplitter {
  readonly #max: number;
  #buf = "";
  #overflow = false;

  constructor(maxLineBytes = 4 * MAX_LINE_LENGTH) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes <= MAX_LINE_LENGTH) {
      throw new RangeError(`maxLineBytes must be an integer > ${MAX_LINE_LENGTH}`);
    }
    this.#max = maxLineBytes;
  }

  /** Feeds a chunk; returns the lines it completed, terminators included. */
  push(chunk: Uint8Array): string[] {
    const out: string[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.#buf.length < this.#max) this.#buf += String.fromCharCode(b);
      else this.#overflow = true;
      if (b === 0x0a) {
        // A cut line lost its "\n"; keep it cut (it is too long anyway).
        out.push(this.#buf);
        this.#buf = "";
        this.#overflow = false;
      }
    }
    return out;
  }

  /** The incomplete line buffered so far (no terminator seen yet). */
  get pending(): string {
    return this.#buf;
  }

  /** True while the pending line has been cut for being over-long. */
  get overflowing(): boolean {
    return this.#overflow;
  }
}
