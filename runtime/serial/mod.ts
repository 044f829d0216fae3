/**
 * Serial ports for Deno over FFI to libc: a promise-based core ({@link openSerial}) for the plugin
 * host, and {@link SerialPort} / {@link ReadlineParser} with npm serialport's shape. See README.md.
 *
 * @module
 */
export { openSerial } from "./core.ts";
export type { ModemLines, ModemStatus, SerialConnection, SerialOptions } from "./core.ts";
export { SerialError } from "./errors.ts";
export type { SerialErrorKind } from "./errors.ts";
export { SerialPort } from "./serialport.ts";
export type { ErrorCallback, SerialPortOptions } from "./serialport.ts";
export { LineTooLongError, ReadlineParser } from "./readline.ts";
export type { ReadlineOptions } from "./readline.ts";
export { BAUD_CODES } from "./termios.ts";
export type { DataBits, LineSettings, Parity, ReadBack, StopBits } from "./termios.ts";
