/**
 * One error type for the serial port, with a kind to branch on (never the message text).
 *
 * @module
 */
import { errno, errnoName } from "./libc.ts";

/** What went wrong, for callers that react differently (retry later, tell the user, give up). */
export type SerialErrorKind =
  | "not-found" // no such device: not plugged in, or a wrong path
  | "permission" // the user may not open it (group dialout)
  | "busy" // another process holds it
  | "not-a-tty" // the path is not a serial port
  | "hangup" // the device went away while open (unplugged, the other end closed)
  | "closed" // the port was closed by us while the call waited
  | "io"; // anything else the kernel reported

/** An error of the serial port; the message names the path and says what to do next. */
export class SerialError extends Error {
  override readonly name = "SerialError";
  readonly kind: SerialErrorKind;
  readonly path: string;
  /** errno, when a system call failed. */
  readonly errno: number | undefined;
  /** True when the device went away (serialport's `DisconnectedError` flag). */
  readonly disconnected: boolean;

  constructor(
    kind: SerialErrorKind,
    path: string,
    message: string,
    opts: { errno?: number; cause?: unknown } = {},
  ) {
    super(`serial port ${path}: ${message}`, { cause: opts.cause });
    this.kind = kind;
    this.path = path;
    this.errno = opts.errno;
    this.disconnected = kind === "hangup";
  }
}

/** The error of a failed open(2) (or the lock after it), with what to do next. */
export function openError(path: string, code: number): SerialError {
  const name = errnoName(code);
  switch (code) {
    case errno.ENOENT:
    case errno.ENXIO:
    case errno.ENODEV:
      return new SerialError(
        "not-found",
        path,
        `no such device (${name}): it is not plugged in, or the path is wrong; ` +
          "plug it in and check the path (ls /dev/serial/by-id/)",
        { errno: code },
      );
    case errno.EACCES:
    case errno.EPERM:
    case errno.EROFS:
      return new SerialError(
        "permission",
        path,
        `permission denied (${name}): add the daemon's user to group dialout ` +
          "(usermod -aG dialout <user>) or fix the device's udev rule",
        { errno: code },
      );
    case errno.EBUSY:
    case errno.EAGAIN:
      return new SerialError(
        "busy",
        path,
        `busy (${name}): another process holds it; stop that process ` +
          `(fuser -v ${path}) and open the port again`,
        { errno: code },
      );
    case errno.EISDIR:
    case errno.ENOTDIR:
    case errno.ENOTTY:
    case errno.ELOOP:
      return new SerialError(
        "not-a-tty",
        path,
        `not a serial port (${name}); give the path of a tty device such as /dev/ttyUSB0`,
        { errno: code },
      );
    default:
      return new SerialError("io", path, `cannot open (${name})`, { errno: code });
  }
}
