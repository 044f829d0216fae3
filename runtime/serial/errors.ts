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

/**
 * The error of a failed open(2) (or the lock after it), with what to do next. `holder` names who
 * holds the port's lock when that is known (lockHolders below).
 */
export function openError(path: string, code: number, holder?: string): SerialError {
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
        `busy (${name}): ${holder ?? "another process holds it"}; stop that process ` +
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

/**
 * Who holds a flock(2) on `path`, from /proc/locks (its FLOCK lines name the locking process's
 * pid and the file's device and inode): "process 123 (socat) holds it", "this process holds it
 * (a port of its own not closed)", or undefined when nothing can be read. `procRoot` for tests.
 */
export function lockHolders(path: string, procRoot = "/proc"): string | undefined {
  try {
    const st = Deno.statSync(path);
    if (st.dev === null || st.ino === null) return undefined;
    const dev = BigInt(st.dev);
    const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
    const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
    const hex = (n: number) => n.toString(16).padStart(2, "0");
    const key = `${hex(major)}:${hex(minor)}:${st.ino}`;
    const pids = new Set<number>();
    for (const line of Deno.readTextFileSync(`${procRoot}/locks`).split("\n")) {
      const f = line.trim().split(/\s+/);
      // "1: FLOCK  ADVISORY  WRITE 1234 00:19:3 0 EOF"
      if (f[1] === "FLOCK" && f[5] === key) pids.add(Number(f[4]));
    }
    if (pids.size === 0) return undefined;
    const who = [...pids].map((pid) => {
      if (pid === Deno.pid) return "this process (a port of its own not closed)";
      let comm = "?";
      try {
        comm = Deno.readTextFileSync(`${procRoot}/${pid}/comm`).trim();
      } catch { /* gone */ }
      return `process ${pid} (${comm})`;
    });
    return `${who.join(", ")} holds it`;
  } catch {
    return undefined;
  }
}
