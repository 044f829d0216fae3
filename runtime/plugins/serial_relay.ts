/**
 * Serial ports for plugins: plugins get no FFI (FFI can do anything the daemon's user can), so the
 * host opens the port, with the library the daemon trusts (runtime/serial, `serialOpener`, the
 * host's default), and relays its bytes over the plugin's line channel. `SerialOpener` is the
 * seam; tests point `devRoot` at a folder holding socat pseudo-terminals.
 */
import { openSerial } from "../serial/mod.ts";

/** An open port (the shape of runtime/serial's openSerial result). */
export interface SerialPortLike {
  /** The next bytes, or null at hang-up / close. */
  read(): Promise<Uint8Array | null>;
  write(bytes: Uint8Array): Promise<void> | Promise<unknown>;
  close(): void | Promise<void>;
}

export interface SerialOptions {
  readonly baudRate: number;
  /** Default "none". */
  readonly parity?: "none" | "even" | "odd";
  /** Default 1. */
  readonly stopBits?: 1 | 2;
}

/** Opens a port for a plugin; rejects with a message that names the path. */
export type SerialOpener = (path: string, options: SerialOptions) => Promise<SerialPortLike>;

/** The baud rates a plugin may ask for (termios's standard set up to 4 Mbit/s). */
export const BAUD_RATES: readonly number[] = [
  1200,
  2400,
  4800,
  9600,
  19200,
  38400,
  57600,
  115200,
  230400,
  460800,
  921600,
];

/**
 * The daemon's opener: runtime/serial's openSerial (8 data bits, the parity and stop bits asked
 * for, 8N1 by default, no flow control, the port locked for this process). `/dev/<name>` opens `<devRoot>/<name>`; the manifest check (only paths under
 * /dev it lists) is plugin_process.ts's, before this is called.
 */
export function serialOpener(devRoot = "/dev"): SerialOpener {
  const root = devRoot.replace(/\/+$/, "");
  return (path, options) => {
    if (!path.startsWith("/dev/") || path.split("/").includes("..")) {
      return Promise.reject(new Error(`${path}: a plugin's serial port must be under /dev`));
    }
    return openSerial(root + path.slice("/dev".length), {
      baudRate: options.baudRate,
      ...(options.parity === undefined ? {} : { parity: options.parity }),
      ...(options.stopBits === undefined ? {} : { stopBits: options.stopBits }),
    });
  };
}

/** Every request refused with the reason (a host built without serial ports). */
export const noSerial: SerialOpener = (path: string): Promise<SerialPortLike> =>
  Promise.reject(new Error(`serial ports are not available in this build (asked for ${path})`));
