/**
 * The C library calls the serial port needs, over Deno FFI, and the Linux constants they take.
 *
 * Constants are those of Linux on x86_64 and aarch64 with glibc, which share the asm-generic
 * values for everything used here (checked against both targets' headers by a compiled probe:
 * see README.md, "Layout checks"). Other architectures (mips, ppc, sparc, alpha) differ and are
 * refused by {@link openLibc}.
 *
 * Each port opens its own handle (dlopen of an already loaded libc is cheap) and closes it when the
 * port closes, so no handle outlives its port and `deno test --trace-leaks` sees none left open.
 *
 * @module
 */

/** open(2) flags. */
export const O_RDWR = 0o2;
export const O_NOCTTY = 0o400;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

/** poll(2) events. */
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

/** ioctl(2) requests on a tty (asm-generic/ioctls.h). */
export const TIOCEXCL = 0x540c;
export const TIOCMGET = 0x5415;
export const TIOCMBIS = 0x5416;
export const TIOCMBIC = 0x5417;
export const TIOCSBRK = 0x5427;
export const TIOCCBRK = 0x5428;
/** Modem lines (TIOCM_*). */
export const TIOCM_DTR = 0x002;
export const TIOCM_RTS = 0x004;
export const TIOCM_CTS = 0x020;
export const TIOCM_CAR = 0x040;
export const TIOCM_DSR = 0x100;

/** tcsetattr / tcflush. */
export const TCSANOW = 0;
export const TCIFLUSH = 0;
export const TCOFLUSH = 1;
export const TCIOFLUSH = 2;

/** flock(2). */
export const LOCK_EX = 2;
export const LOCK_NB = 4;

/** errno values (asm-generic/errno-base.h, errno.h). */
export const errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EBUSY: 16,
  ENODEV: 19,
  EISDIR: 21,
  EINVAL: 22,
  ENOTTY: 25,
  ELOOP: 40,
  ENOTDIR: 20,
  EROFS: 30,
} as const;

/** Name of an errno value, e.g. "EACCES", or "errno 123". */
export function errnoName(code: number): string {
  for (const [name, value] of Object.entries(errno)) if (value === code) return name;
  return `errno ${code}`;
}

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // close(2) of a real UART may wait for output to drain (the driver's closing_wait, 30 s by
  // default): on a worker thread so the event loop never waits on it.
  close: { parameters: ["i32"], result: "i32", nonblocking: true },
  close_now: { name: "close", parameters: ["i32"], result: "i32" },
  // Waits for the port (and the wake pipe) on a worker thread: the event loop never blocks.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  cfsetispeed: { parameters: ["buffer", "u32"], result: "i32" },
  cfsetospeed: { parameters: ["buffer", "u32"], result: "i32" },
  cfgetospeed: { parameters: ["buffer"], result: "u32" },
  // Waits until the output is on the wire; on a worker thread (seconds at low baud rates).
  tcdrain: { parameters: ["i32"], result: "i32", nonblocking: true },
  tcflush: { parameters: ["i32", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctl_noarg: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  ttyname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened C library. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** A handle on the C library; close it when the port closes. */
export interface LibcHandle {
  readonly c: Libc;
  /** errno of the last failed synchronous call on this (the JS) thread. */
  errno(): number;
  close(): void;
}

/**
 * Opens libc.so.6. Throws an Error that says what to do when FFI is not allowed or the machine is
 * not Linux on x86_64/aarch64.
 */
export function openLibc(): LibcHandle {
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) {
    throw new Error(
      `serial ports need Linux on x86_64 or aarch64 (this is ${Deno.build.os}/${Deno.build.arch}): ` +
        "the termios layout and constants in runtime/serial/ are checked for those two only",
    );
  }
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (e) {
    throw new Error(
      `serial ports: cannot load libc.so.6 over FFI (${(e as Error).message}); ` +
        "run Deno with --allow-ffi",
      { cause: e },
    );
  }
  const c = lib.symbols;
  return {
    c,
    errno() {
      const p = c.__errno_location();
      return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
    },
    close() {
      lib.close();
    },
  };
}

/** A NUL-terminated copy of `s` for C. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}
