/**
 * The promise-based serial port: `openSerial(path, opts)` → `{ read(), write(), drain(), close() }`.
 *
 * How it stays off the event loop: the port is opened O_NONBLOCK; one loop per port waits in
 * poll(2) on a worker thread (an FFI call declared `nonblocking`), on the port and on a wake pipe,
 * then reads and writes on the JS thread with non-blocking calls that return at once. A write that
 * does not fit in the kernel's buffer, a reader that frees room, or close() write one byte to the
 * wake pipe, so the loop re-polls with the new interest at once instead of waiting for its timeout.
 *
 * Hang-up: POLLHUP/POLLERR, read(2) returning 0 or EIO, or write(2) failing with EIO end the port:
 * bytes already received are still handed out by read(), then read() rejects with a SerialError
 * of kind "hangup" and `closed` resolves with it.
 *
 * @module
 */
import {
  cString,
  errno,
  errnoName,
  type LibcHandle,
  LOCK_EX,
  LOCK_NB,
  O_CLOEXEC,
  O_NOCTTY,
  O_NONBLOCK,
  O_RDWR,
  openLibc,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  TCIOFLUSH,
  TCOFLUSH,
  TCSANOW,
  TIOCCBRK,
  TIOCEXCL,
  TIOCM_CAR,
  TIOCM_CTS,
  TIOCM_DSR,
  TIOCM_DTR,
  TIOCM_RTS,
  TIOCMBIC,
  TIOCMBIS,
  TIOCMGET,
  TIOCSBRK,
} from "./libc.ts";
import { lockHolders, openError, SerialError } from "./errors.ts";
import {
  applyLineSettings,
  type FullLineSettings,
  type LineSettings,
  lineSettings,
  type ReadBack,
  readBack,
  setSpeed,
  TERMIOS,
} from "./termios.ts";

/** Options of {@link openSerial}: the line settings, and how the port is held. */
export interface SerialOptions extends LineSettings {
  /**
   * Take the port for this process only: flock(LOCK_EX|LOCK_NB) (what serialport does; other
   * processes that lock get "busy") and TIOCEXCL (other non-root opens get EBUSY). Default true.
   */
  readonly lock?: boolean;
  /**
   * Bytes held for read() before the port stops reading from the kernel, so a reader that falls
   * behind slows the device down (the kernel's buffer fills; with flow control the device
   * pauses) instead of growing memory. Default 1 MiB.
   */
  readonly maxBufferedBytes?: number;
  /** Longest single wait in poll(2), in ms: how often an idle port wakes. Default 1000. */
  readonly pollTimeoutMs?: number;
}

/** Modem control lines to set; lines not given stay as they are. */
export interface ModemLines {
  readonly dtr?: boolean;
  readonly rts?: boolean;
  /** Send a break (true) until set to false. */
  readonly brk?: boolean;
}

/** Modem status lines, as the device reports them. */
export interface ModemStatus {
  readonly cts: boolean;
  readonly dsr: boolean;
  readonly dcd: boolean;
}

/** An open serial port. */
export interface SerialConnection extends AsyncDisposable {
  readonly path: string;
  /** The settings in force (after update(), the new baud rate). */
  readonly settings: FullLineSettings;
  /** True until close() begins or the device hangs up. */
  readonly isOpen: boolean;
  /** Bytes received and not read yet; at most maxBufferedBytes plus one read (64 KiB). */
  readonly bufferedBytes: number;
  /**
   * The next bytes received (all that is buffered, at least one byte). Resolves null once the port
   * was closed by close() and every received byte was read; rejects with the SerialError after a
   * hang-up (kind "hangup") or an I/O failure, once the bytes received before it were read.
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Queues `data` (a string is sent as UTF-8) and resolves once all of it went to the kernel; the
   * wire may still be busy: see drain(). Writes go out in call order.
   */
  write(data: Uint8Array | string): Promise<void>;
  /** Resolves once every queued write went to the kernel and the kernel sent it (tcdrain). */
  drain(): Promise<void>;
  /** Changes the baud rate of the open port. */
  update(opts: { readonly baudRate: number }): Promise<void>;
  /** Sets modem lines (DTR, RTS, break). Fails with kind "io" on devices without them (ptys). */
  set(lines: ModemLines): Promise<void>;
  /** Reads modem status lines (CTS, DSR, DCD). */
  get(): Promise<ModemStatus>;
  /** Discards bytes received but not read, and bytes queued but not sent (tcflush). */
  flush(): Promise<void>;
  /** The line settings the kernel holds now (tcgetattr), decoded. */
  attributes(): ReadBack;
  /**
   * Closes the port: pending writes and drains reject (kind "closed"), pending reads resolve
   * null. Idempotent; never rejects.
   */
  close(): Promise<void>;
  /** Resolves when the port is closed: with undefined after close(), or with the hang-up error. */
  readonly closed: Promise<SerialError | undefined>;
}

const DEFAULT_MAX_BUFFERED = 1 << 20;
const READ_CHUNK = 64 * 1024;
/** Consecutive failed poll(2) calls (EINTR is the only expected one) before giving up. */
const MAX_POLL_FAILURES = 100;
/** How long close() lets a pending tcdrain run before discarding the unsent output. */
const CLOSE_DRAIN_GRACE_MS = 2000;

/**
 * Opens `path` as a raw serial line with `opts`. Rejects with a RangeError for bad options, or a
 * SerialError whose message names the path and what to do (kinds "not-found", "permission",
 * "busy", "not-a-tty", "io").
 */
export async function openSerial(path: string, opts: SerialOptions): Promise<SerialConnection> {
  await Promise.resolve(); // errors below reject instead of throwing synchronously
  return SerialPortCore.open(path, opts);
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: unknown): void;
}

interface PendingWrite extends Waiter<void> {
  readonly data: Uint8Array<ArrayBuffer>;
  off: number;
}

class SerialPortCore implements SerialConnection {
  readonly path: string;
  #settings: FullLineSettings;
  readonly #lib: LibcHandle;
  readonly #fd: number;
  readonly #wakeR: number;
  readonly #wakeW: number;
  readonly #maxBuffered: number;
  readonly #pollTimeoutMs: number;
  readonly #pty: boolean;
  readonly #pollfds = new Uint8Array(16);
  readonly #pollView = new DataView(this.#pollfds.buffer);
  readonly #rbuf = new Uint8Array(READ_CHUNK);
  readonly #one = new Uint8Array(1);
  #state: "open" | "closing" | "closed" = "open";
  #failure: SerialError | undefined;
  #inbound: Uint8Array[] = [];
  #inboundBytes = 0;
  #readers: Waiter<Uint8Array | null>[] = [];
  #writes: PendingWrite[] = [];
  #flushedWaiters: Waiter<void>[] = [];
  #drains = new Set<Promise<unknown>>();
  #pollingIn = true;
  #resolveClosed!: (v: SerialError | undefined) => void;
  readonly closed: Promise<SerialError | undefined>;
  readonly #done: Promise<void>;

  static open(path: string, opts: SerialOptions): SerialPortCore {
    if (typeof path !== "string" || path === "" || path.includes("\0")) {
      throw new RangeError(
        `serial port path must be a non-empty string, got ${JSON.stringify(path)}`,
      );
    }
    const settings = lineSettings(path, opts);
    const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
    if (!Number.isInteger(maxBuffered) || maxBuffered < READ_CHUNK) {
      throw new RangeError(
        `serial port ${path}: maxBufferedBytes must be an integer >= ${READ_CHUNK}, got ${maxBuffered}`,
      );
    }
    const pollTimeoutMs = opts.pollTimeoutMs ?? 1000;
    if (!Number.isInteger(pollTimeoutMs) || pollTimeoutMs < 1 || pollTimeoutMs > 60_000) {
      throw new RangeError(
        `serial port ${path}: pollTimeoutMs must be an integer in 1..60000, got ${pollTimeoutMs}`,
      );
    }
    const lib = openLibc();
    const c = lib.c;
    const fd = c.open(cString(path), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0);
    if (fd < 0) {
      const code = lib.errno();
      lib.close();
      throw openError(path, code);
    }
    try {
      if (opts.lock ?? true) {
        if (c.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
          const code = lib.errno();
          throw openError(path, code, lockHolders(path));
        }
      }
      const t = new Uint8Array(TERMIOS.size);
      if (c.tcgetattr(fd, t) !== 0) throw openError(path, lib.errno());
      if ((opts.lock ?? true) && c.ioctl_noarg(fd, BigInt(TIOCEXCL), 0n) !== 0) {
        throw openError(path, lib.errno());
      }
      applyLineSettings(c, t, settings);
      const pty = isPseudoTerminal(lib, fd);
      setAndCheck(lib, fd, path, t, settings, pty);
      const fds = new Int32Array(2);
      if (c.pipe2(new Uint8Array(fds.buffer), O_CLOEXEC | O_NONBLOCK) !== 0) {
        throw new SerialError("io", path, `cannot make the wake pipe (${errnoName(lib.errno())})`);
      }
      return new SerialPortCore(
        path,
        settings,
        lib,
        fd,
        fds[0]!,
        fds[1]!,
        maxBuffered,
        pollTimeoutMs,
        pty,
      );
    } catch (e) {
      c.close_now(fd);
      lib.close();
      if (e instanceof SerialError || e instanceof RangeError) throw e;
      throw new SerialError("io", path, (e as Error).message, { cause: e });
    }
  }

  private constructor(
    path: string,
    settings: FullLineSettings,
    lib: LibcHandle,
    fd: number,
    wakeR: number,
    wakeW: number,
    maxBuffered: number,
    pollTimeoutMs: number,
    pty: boolean,
  ) {
    this.#pty = pty;
    this.path = path;
    this.#settings = settings;
    this.#lib = lib;
    this.#fd = fd;
    this.#wakeR = wakeR;
    this.#wakeW = wakeW;
    this.#maxBuffered = maxBuffered;
    this.#pollTimeoutMs = pollTimeoutMs;
    this.closed = new Promise((r) => this.#resolveClosed = r);
    this.#done = this.#run();
  }

  get settings(): FullLineSettings {
    return this.#settings;
  }

  get isOpen(): boolean {
    return this.#state === "open";
  }

  get bufferedBytes(): number {
    return this.#inboundBytes;
  }

  read(): Promise<Uint8Array | null> {
    if (this.#inbound.length > 0) return Promise.resolve(this.#take());
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#state !== "open") return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#readers.push({ resolve, reject }));
  }

  write(data: Uint8Array | string): Promise<void> {
    if (this.#state !== "open") return Promise.reject(this.#notOpen("write"));
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data.slice();
    if (bytes.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#writes.push({ data: bytes, off: 0, resolve, reject });
      if (this.#writes.length === 1) {
        this.#flushWrites();
        if (this.#writes.length > 0) this.#wake(); // the rest waits for POLLOUT
      }
    });
  }

  async drain(): Promise<void> {
    if (this.#state !== "open") throw this.#notOpen("drain");
    if (this.#writes.length > 0) {
      await new Promise<void>((resolve, reject) => this.#flushedWaiters.push({ resolve, reject }));
    }
    if (this.#state !== "open") throw this.#notOpen("drain");
    const p = this.#lib.c.tcdrain(this.#fd);
    this.#drains.add(p);
    try {
      if (await p !== 0) {
        if (this.#state !== "open") throw this.#notOpen("drain");
        throw new SerialError("io", this.path, "tcdrain failed: the output could not be sent");
      }
    } finally {
      this.#drains.delete(p);
    }
  }

  update(opts: { readonly baudRate: number }): Promise<void> {
    return this.#sync("update", () => {
      const next = lineSettings(this.path, { ...this.#settings, baudRate: opts.baudRate });
      const t = this.#getattr();
      setSpeed(this.#lib.c, t, next.baudRate);
      setAndCheck(this.#lib, this.#fd, this.path, t, next, this.#pty);
      this.#settings = next;
    });
  }

  set(lines: ModemLines): Promise<void> {
    return this.#sync("set", () => {
      let on = 0, off = 0;
      if (lines.dtr !== undefined) lines.dtr ? on |= TIOCM_DTR : off |= TIOCM_DTR;
      if (lines.rts !== undefined) lines.rts ? on |= TIOCM_RTS : off |= TIOCM_RTS;
      const bits = new Int32Array(1);
      const arg = new Uint8Array(bits.buffer);
      for (const [req, mask] of [[TIOCMBIS, on], [TIOCMBIC, off]] as const) {
        if (mask === 0) continue;
        bits[0] = mask;
        if (this.#lib.c.ioctl(this.#fd, BigInt(req), arg) !== 0) {
          this.#ioctlFailed("set the modem lines");
        }
      }
      if (lines.brk !== undefined) {
        if (this.#lib.c.ioctl_noarg(this.#fd, BigInt(lines.brk ? TIOCSBRK : TIOCCBRK), 0n) !== 0) {
          this.#ioctlFailed("send a break");
        }
      }
    });
  }

  get(): Promise<ModemStatus> {
    return this.#sync("get", () => {
      const bits = new Int32Array(1);
      if (this.#lib.c.ioctl(this.#fd, BigInt(TIOCMGET), new Uint8Array(bits.buffer)) !== 0) {
        this.#ioctlFailed("read the modem lines");
      }
      const v = bits[0]!;
      return { cts: (v & TIOCM_CTS) !== 0, dsr: (v & TIOCM_DSR) !== 0, dcd: (v & TIOCM_CAR) !== 0 };
    });
  }

  flush(): Promise<void> {
    return this.#sync("flush", () => {
      if (this.#lib.c.tcflush(this.#fd, TCIOFLUSH) !== 0) this.#ioctlFailed("flush");
      this.#inbound = [];
      this.#inboundBytes = 0;
      this.#wake();
    });
  }

  attributes(): ReadBack {
    if (this.#state === "closed") throw this.#notOpen("attributes");
    return readBack(this.#getattr());
  }

  async close(): Promise<void> {
    if (this.#state === "open") {
      this.#state = "closing";
      this.#wake();
    }
    await this.#done;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- the loop ----

  async #run(): Promise<void> {
    const c = this.#lib.c;
    let failures = 0;
    while (this.#state === "open") {
      this.#pollingIn = this.#inboundBytes < this.#maxBuffered;
      const events = (this.#pollingIn ? POLLIN : 0) | (this.#writes.length > 0 ? POLLOUT : 0);
      this.#pollView.setInt32(0, this.#fd, true);
      this.#pollView.setInt16(4, events, true);
      this.#pollView.setInt16(6, 0, true);
      this.#pollView.setInt32(8, this.#wakeR, true);
      this.#pollView.setInt16(12, POLLIN, true);
      this.#pollView.setInt16(14, 0, true);
      const n = await c.poll(this.#pollfds, 2n, this.#pollTimeoutMs);
      if (this.#state !== "open") break;
      if (n < 0) {
        // errno is the worker thread's and out of reach; EINTR is the one expected case.
        if (++failures >= MAX_POLL_FAILURES) {
          this.#fail(new SerialError("io", this.path, `poll failed ${failures} times in a row`));
        }
        continue;
      }
      failures = 0;
      if (n === 0) continue;
      const revents = this.#pollView.getInt16(6, true);
      if (this.#pollView.getInt16(14, true) !== 0) this.#drainWakePipe();
      if (revents & POLLNVAL) {
        this.#fail(
          new SerialError("io", this.path, "the file descriptor became invalid (POLLNVAL)"),
        );
        break;
      }
      if (revents & (POLLIN | POLLHUP | POLLERR)) this.#readAvailable(revents);
      if (this.#state === "open" && (revents & POLLOUT)) this.#flushWrites();
    }
    await this.#shutdown();
  }

  /** Reads until EAGAIN; a hang-up (flag, EOF or EIO) ends the port after the bytes before it. */
  #readAvailable(revents: number): void {
    const c = this.#lib.c;
    const hup = (revents & (POLLHUP | POLLERR)) !== 0;
    for (;;) {
      if (!hup && this.#inboundBytes >= this.#maxBuffered) break;
      const n = Number(c.read(this.#fd, this.#rbuf, BigInt(this.#rbuf.length)));
      if (n > 0) {
        this.#inbound.push(this.#rbuf.slice(0, n));
        this.#inboundBytes += n;
        continue;
      }
      if (n === 0) {
        this.#fail(this.#hangup("end of file (read returned 0)"));
        break;
      }
      const e = this.#lib.errno();
      if (e === errno.EINTR) continue;
      if (e === errno.EAGAIN) {
        if (hup) {
          const why = (revents & POLLHUP) ? "POLLHUP" : "POLLERR";
          this.#fail(this.#hangup(`the line hung up (${why})`));
        }
        break;
      }
      if (e === errno.EIO || e === errno.ENXIO || e === errno.ENODEV) {
        this.#fail(this.#hangup(`read failed with ${errnoName(e)}`));
      } else {
        this.#fail(new SerialError("io", this.path, `read failed (${errnoName(e)})`, { errno: e }));
      }
      break;
    }
    this.#deliver();
  }

  #flushWrites(): void {
    const c = this.#lib.c;
    while (this.#writes.length > 0) {
      const w = this.#writes[0]!;
      const rest = w.data.subarray(w.off);
      const n = Number(c.write(this.#fd, rest, BigInt(rest.length)));
      if (n > 0) {
        w.off += n;
        if (w.off >= w.data.length) {
          this.#writes.shift();
          w.resolve();
        }
        continue;
      }
      const e = n < 0 ? this.#lib.errno() : errno.EAGAIN;
      if (e === errno.EINTR) continue;
      if (e === errno.EAGAIN) return; // the kernel's buffer is full: wait for POLLOUT
      const err = e === errno.EIO || e === errno.ENXIO || e === errno.ENODEV
        ? this.#hangup(`write failed with ${errnoName(e)}`)
        : new SerialError("io", this.path, `write failed (${errnoName(e)})`, { errno: e });
      this.#fail(err);
      return;
    }
    for (const f of this.#flushedWaiters.splice(0)) f.resolve();
  }

  /** Hands buffered bytes to waiting readers, or the failure once nothing is buffered. */
  #deliver(): void {
    while (this.#readers.length > 0 && this.#inbound.length > 0) {
      this.#readers.shift()!.resolve(this.#take());
    }
    if (this.#inbound.length === 0 && this.#state !== "open") {
      for (const r of this.#readers.splice(0)) {
        if (this.#failure) r.reject(this.#failure);
        else r.resolve(null);
      }
    }
  }

  #take(): Uint8Array {
    let out: Uint8Array;
    if (this.#inbound.length === 1) out = this.#inbound[0]!;
    else {
      out = new Uint8Array(this.#inboundBytes);
      let off = 0;
      for (const chunk of this.#inbound) {
        out.set(chunk, off);
        off += chunk.length;
      }
    }
    this.#inbound = [];
    this.#inboundBytes = 0;
    if (!this.#pollingIn && this.#state === "open") this.#wake(); // room again: poll POLLIN
    return out;
  }

  #fail(err: SerialError): void {
    if (this.#state !== "open") return;
    this.#failure = err;
    this.#state = "closing";
  }

  async #shutdown(): Promise<void> {
    const c = this.#lib.c;
    const err = this.#failure ?? this.#notOpen("write");
    for (const w of this.#writes.splice(0)) w.reject(err);
    for (const f of this.#flushedWaiters.splice(0)) f.reject(err);
    if (this.#drains.size > 0) {
      // tcdrain waits for the wire (forever if CTS stays low): give it a grace, then discard the
      // unsent output, which wakes it.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const all = Promise.allSettled([...this.#drains]);
      const done = await Promise.race([
        all.then(() => true),
        new Promise<false>((r) => timer = setTimeout(() => r(false), CLOSE_DRAIN_GRACE_MS)),
      ]);
      clearTimeout(timer);
      if (!done) c.tcflush(this.#fd, TCOFLUSH);
      await all;
    }
    await c.close(this.#fd);
    c.close_now(this.#wakeR);
    c.close_now(this.#wakeW);
    this.#lib.close();
    this.#state = "closed";
    this.#deliver();
    this.#resolveClosed(this.#failure);
  }

  // ---- helpers ----

  #wake(): void {
    if (this.#state === "closed") return;
    this.#one[0] = 1;
    this.#lib.c.write(this.#wakeW, this.#one, 1n); // EAGAIN: the pipe is full, a wake is pending
  }

  #drainWakePipe(): void {
    while (Number(this.#lib.c.read(this.#wakeR, this.#rbuf, 256n)) > 0) { /* empty it */ }
  }

  #hangup(what: string): SerialError {
    return new SerialError(
      "hangup",
      this.path,
      `the device went away: ${what}; it was unplugged, powered off, or the other end closed. ` +
        "Plug it back in and open the port again",
    );
  }

  #notOpen(what: string): SerialError {
    return this.#failure ?? new SerialError("closed", this.path, `${what}: the port is closed`);
  }

  #getattr(): Uint8Array<ArrayBuffer> {
    const t = new Uint8Array(TERMIOS.size);
    if (this.#lib.c.tcgetattr(this.#fd, t) !== 0) this.#ioctlFailed("read the line settings");
    return t;
  }

  #ioctlFailed(what: string): never {
    const e = this.#lib.errno();
    const hint = e === errno.ENOTTY || e === errno.EINVAL
      ? ": this device does not support it (a pseudo-terminal has no modem lines)"
      : "";
    throw new SerialError("io", this.path, `cannot ${what} (${errnoName(e)})${hint}`, { errno: e });
  }

  async #sync<T>(what: string, fn: () => T): Promise<T> {
    await Promise.resolve();
    if (this.#state !== "open") throw this.#notOpen(what);
    return fn();
  }
}

/** tcsetattr, then tcgetattr to check the driver took what was asked (drivers may refuse). */
function setAndCheck(
  lib: LibcHandle,
  fd: number,
  path: string,
  t: Uint8Array<ArrayBuffer>,
  want: FullLineSettings,
  pty: boolean,
): void {
  if (lib.c.tcsetattr(fd, TCSANOW, t) !== 0) {
    const e = lib.errno();
    throw new SerialError("io", path, `the driver refused the line settings (${errnoName(e)})`, {
      errno: e,
    });
  }
  const back = new Uint8Array(TERMIOS.size);
  if (lib.c.tcgetattr(fd, back) !== 0) throw openError(path, lib.errno());
  const got = readBack(back);
  const asked: ReadBack = {
    baudRate: want.baudRate,
    dataBits: want.dataBits,
    parity: want.parity,
    stopBits: want.stopBits,
    rtscts: want.rtscts,
    xon: want.xon,
    xoff: want.xoff,
  };
  const differs = (Object.keys(asked) as (keyof ReadBack)[]).filter((k) =>
    asked[k] !== got[k] &&
    // Linux ptys force CS8 and no parity (pty_set_termios): there is no wire to frame.
    !(pty && ((k === "dataBits" && got[k] === 8) || (k === "parity" && got[k] === "none")))
  );
  if (differs.length > 0) {
    throw new SerialError(
      "io",
      path,
      "the driver did not take the line settings: " +
        differs.map((k) => `${k} asked ${asked[k]}, got ${got[k]}`).join("; ") +
        "; this device may not support them",
    );
  }
}

/** True for a pseudo-terminal slave (/dev/pts/N): the virtual sensor's and the tests' devices. */
function isPseudoTerminal(lib: LibcHandle, fd: number): boolean {
  const buf = new Uint8Array(256);
  if (lib.c.ttyname_r(fd, buf, BigInt(buf.length)) !== 0) return false;
  const name = new TextDecoder().decode(buf.subarray(0, buf.indexOf(0)));
  return name.startsWith("/dev/pts/");
}
