/**
 * Serial ports for plugins: plugins get no FFI (FFI can do anything the daemon's user can), so the
 * host opens the port, with the library the daemon trusts, and relays its bytes over the plugin's
 * line channel. `SerialOpener` is the seam: runtime/serial's `openSerial` fits it as it is; tests
 * use a socat pseudo-terminal opened with Deno.open.
 */

/** An open port (the shape of runtime/serial's openSerial result). */
export interface SerialPortLike {
  /** The next bytes, or null at hang-up / close. */
  read(): Promise<Uint8Array | null>;
  write(bytes: Uint8Array): Promise<void> | Promise<unknown>;
  close(): void | Promise<void>;
}

export interface SerialOptions {
  readonly baudRate: number;
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

/** Until runtime/serial is wired: every request is refused with the reason. */
export const noSerial: SerialOpener = (path: string): Promise<SerialPortLike> =>
  Promise.reject(new Error(`serial ports are not available in this build (asked for ${path})`));
