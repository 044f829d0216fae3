/**
 * Line settings: the options a port takes, and how they land in glibc's `struct termios`.
 *
 * `struct termios` of glibc on Linux x86_64 and aarch64 (bits/termios-struct.h, the generic
 * version on both): four `tcflag_t` (u32) flags, `cc_t c_line`, `cc_t c_cc[32]`, then
 * `speed_t c_ispeed, c_ospeed` after padding: 60 bytes. Offsets and every constant below were
 * compared with both targets' headers by a compiled probe (README.md, "Layout checks").
 *
 * @module
 */

/** The C library's termios helpers (a subset of libc.ts's symbols). */
export interface TermiosOps {
  cfmakeraw(t: Uint8Array<ArrayBuffer>): void;
  cfsetispeed(t: Uint8Array<ArrayBuffer>, speed: number): number;
  cfsetospeed(t: Uint8Array<ArrayBuffer>, speed: number): number;
}

/** Offsets into glibc's struct termios (x86_64 and aarch64). */
export const TERMIOS = {
  size: 60,
  iflag: 0,
  oflag: 4,
  cflag: 8,
  lflag: 12,
  line: 16,
  cc: 17,
  ispeed: 52,
  ospeed: 56,
} as const;

/** c_cc indices. */
export const VTIME = 5;
export const VMIN = 6;
/** c_iflag. */
export const IXON = 0o2000;
export const IXANY = 0o4000;
export const IXOFF = 0o10000;
/** c_cflag. */
export const CBAUD = 0o10017;
export const CSIZE = 0o60;
export const CSTOPB = 0o100;
export const CREAD = 0o200;
export const PARENB = 0o400;
export const PARODD = 0o1000;
export const HUPCL = 0o2000;
export const CLOCAL = 0o4000;
export const CRTSCTS = 0o20000000000;
const CS: Record<DataBits, number> = { 5: 0o0, 6: 0o20, 7: 0o40, 8: 0o60 };

/** Baud rates termios names (B50 … B4000000) and their speed_t codes. */
export const BAUD_CODES: ReadonlyMap<number, number> = new Map([
  [50, 0o1],
  [75, 0o2],
  [110, 0o3],
  [134, 0o4],
  [150, 0o5],
  [200, 0o6],
  [300, 0o7],
  [600, 0o10],
  [1200, 0o11],
  [1800, 0o12],
  [2400, 0o13],
  [4800, 0o14],
  [9600, 0o15],
  [19200, 0o16],
  [38400, 0o17],
  [57600, 0o10001],
  [115200, 0o10002],
  [230400, 0o10003],
  [460800, 0o10004],
  [500000, 0o10005],
  [576000, 0o10006],
  [921600, 0o10007],
  [1000000, 0o10010],
  [1152000, 0o10011],
  [1500000, 0o10012],
  [2000000, 0o10013],
  [2500000, 0o10014],
  [3000000, 0o10015],
  [3500000, 0o10016],
  [4000000, 0o10017],
]);

export type DataBits = 5 | 6 | 7 | 8;
export type Parity = "none" | "even" | "odd";
export type StopBits = 1 | 2;

/** How the line is set up; the names and defaults are npm serialport's. */
export interface LineSettings {
  /** One of {@link BAUD_CODES}' rates, e.g. 9600 or 115200. Required. */
  readonly baudRate: number;
  /** Default 8. */
  readonly dataBits?: DataBits;
  /** Default "none". */
  readonly parity?: Parity;
  /** Default 1. */
  readonly stopBits?: StopBits;
  /** RTS/CTS hardware flow control. Default false. */
  readonly rtscts?: boolean;
  /** XON/XOFF flow control of what we send (the device may pause us). Default false. */
  readonly xon?: boolean;
  /** XON/XOFF flow control of what we receive (we may pause the device). Default false. */
  readonly xoff?: boolean;
  /** Any byte resumes output after XOFF. Default false. */
  readonly xany?: boolean;
  /** Drop the modem lines (DTR) on close. Default true. */
  readonly hupcl?: boolean;
}

/** {@link LineSettings} with every default filled in. */
export type FullLineSettings = Required<LineSettings>;

/**
 * Checks settings and fills in defaults. Throws a RangeError naming the option, the bad value and
 * what is accepted.
 */
export function lineSettings(path: string, s: LineSettings): FullLineSettings {
  const bad = (what: string) => new RangeError(`serial port ${path}: ${what}`);
  if (!BAUD_CODES.has(s.baudRate)) {
    throw bad(
      `baudRate ${s.baudRate} is not a standard rate; use one of ${
        [...BAUD_CODES.keys()].join(", ")
      }`,
    );
  }
  const dataBits = s.dataBits ?? 8;
  if (!(dataBits in CS)) throw bad(`dataBits ${dataBits} is not 5, 6, 7 or 8`);
  const parity = s.parity ?? "none";
  if (!["none", "even", "odd"].includes(parity)) {
    throw bad(`parity ${JSON.stringify(parity)} is not "none", "even" or "odd"`);
  }
  const stopBits = s.stopBits ?? 1;
  if (stopBits !== 1 && stopBits !== 2) throw bad(`stopBits ${stopBits} is not 1 or 2`);
  for (const k of ["rtscts", "xon", "xoff", "xany", "hupcl"] as const) {
    if (s[k] !== undefined && typeof s[k] !== "boolean") {
      throw bad(`${k} must be true or false, got ${JSON.stringify(s[k])}`);
    }
  }
  return {
    baudRate: s.baudRate,
    dataBits,
    parity,
    stopBits,
    rtscts: s.rtscts ?? false,
    xon: s.xon ?? false,
    xoff: s.xoff ?? false,
    xany: s.xany ?? false,
    hupcl: s.hupcl ?? true,
  };
}

/** Reads the u32 at `off` of a termios buffer. */
export function termiosField(t: Uint8Array, off: number): number {
  return new DataView(t.buffer, t.byteOffset, t.byteLength).getUint32(off, true);
}

function setField(t: Uint8Array, off: number, v: number): void {
  new DataView(t.buffer, t.byteOffset, t.byteLength).setUint32(off, v >>> 0, true);
}

/**
 * Turns `t` (as tcgetattr filled it) into a raw line with `s`: cfmakeraw, then size, parity, stop
 * bits, flow control, CREAD|CLOCAL, VMIN=1 VTIME=0 (reads are non-blocking anyway), and the speed
 * through cfsetispeed/cfsetospeed. Throws when the C library refuses the speed.
 */
export function applyLineSettings(
  ops: TermiosOps,
  t: Uint8Array<ArrayBuffer>,
  s: FullLineSettings,
): void {
  ops.cfmakeraw(t);
  let cflag = termiosField(t, TERMIOS.cflag);
  cflag &= ~(CSIZE | CSTOPB | PARENB | PARODD | CRTSCTS | HUPCL);
  cflag |= CS[s.dataBits] | CREAD | CLOCAL;
  if (s.stopBits === 2) cflag |= CSTOPB;
  if (s.parity !== "none") cflag |= PARENB;
  if (s.parity === "odd") cflag |= PARODD;
  if (s.rtscts) cflag |= CRTSCTS;
  if (s.hupcl) cflag |= HUPCL;
  setField(t, TERMIOS.cflag, cflag);
  let iflag = termiosField(t, TERMIOS.iflag);
  iflag &= ~(IXON | IXOFF | IXANY);
  if (s.xon) iflag |= IXON;
  if (s.xoff) iflag |= IXOFF;
  if (s.xany) iflag |= IXANY;
  setField(t, TERMIOS.iflag, iflag);
  t[TERMIOS.cc + VMIN] = 1;
  t[TERMIOS.cc + VTIME] = 0;
  setSpeed(ops, t, s.baudRate);
}

/** Sets both speeds of `t` to `baudRate` (a key of {@link BAUD_CODES}). */
export function setSpeed(ops: TermiosOps, t: Uint8Array<ArrayBuffer>, baudRate: number): void {
  const code = BAUD_CODES.get(baudRate);
  if (code === undefined) throw new RangeError(`baudRate ${baudRate} is not a standard rate`);
  if (ops.cfsetispeed(t, code) !== 0 || ops.cfsetospeed(t, code) !== 0) {
    throw new Error(`the C library refused baud rate ${baudRate} (speed_t 0o${code.toString(8)})`);
  }
  // glibc keeps the speed in c_cflag's CBAUD bits, which is what the kernel reads. A C library
  // whose cfsetospeed means something else (a different speed_t) fails here, not on the wire.
  if ((termiosField(t, TERMIOS.cflag) & CBAUD) !== code) {
    throw new Error(
      `cfsetospeed(${baudRate}) did not set CBAUD to 0o${code.toString(8)}: this C library's ` +
        "termios differs from glibc's on x86_64/aarch64 (see runtime/serial/README.md)",
    );
  }
}

/** The settings a termios buffer holds (for checks and `stty`-like reports). */
export interface ReadBack {
  readonly baudRate: number | undefined;
  readonly dataBits: DataBits;
  readonly parity: Parity;
  readonly stopBits: StopBits;
  readonly rtscts: boolean;
  readonly xon: boolean;
  readonly xoff: boolean;
}

/** Decodes the settings of a termios buffer. */
export function readBack(t: Uint8Array): ReadBack {
  const cflag = termiosField(t, TERMIOS.cflag);
  const iflag = termiosField(t, TERMIOS.iflag);
  const code = cflag & CBAUD;
  const baudRate = [...BAUD_CODES].find(([, c]) => c === code)?.[0];
  const size = Object.entries(CS).find(([, v]) => v === (cflag & CSIZE))?.[0] ?? "8";
  return {
    baudRate,
    dataBits: Number(size) as DataBits,
    parity: (cflag & PARENB) === 0 ? "none" : (cflag & PARODD) !== 0 ? "odd" : "even",
    stopBits: (cflag & CSTOPB) !== 0 ? 2 : 1,
    rtscts: (cflag & CRTSCTS) !== 0,
    xon: (iflag & IXON) !== 0,
    xoff: (iflag & IXOFF) !== 0,
  };
}
