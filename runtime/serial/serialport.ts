/**
 * `SerialPort` with the shape of npm `serialport`'s, on top of {@link openSerial}, so code written
 * for serialport ports over:
 *
 * ```ts
 * const port = new SerialPort({ path: "/dev/ttyUSB0", baudRate: 9600 });
 * const parser = port.pipe(new ReadlineParser({ delimiter: "\r\n" }));
 * parser.on("data", (line) => console.log(line));
 * port.on("close", (err) => err?.disconnected && console.log("unplugged"));
 * port.write("PING\r\n", (err) => …);
 * ```
 *
 * What matches serialport: the constructor options and `autoOpen`, events "open", "data" (a
 * Buffer), "error", "close" (with the error, `disconnected: true`, after an unplug; with null
 * after close()), `open(cb)`, `write(data, [encoding], [cb])`, `drain(cb)`, `close(cb)`,
 * `update({ baudRate }, cb)`, `set({ dtr, rts, brk }, cb)`, `get(cb)`, `flush(cb)`, `isOpen`,
 * `path`, `baudRate`, `pipe(dest)`. A callback gets the error; without one it is emitted as
 * "error". What does not: it is an EventEmitter, not a Node stream — `pipe()` forwards "data" to
 * `dest.write()` and there is no backpressure to a slow `dest` (the core's bounded buffer is the
 * backpressure towards the device); no `pause()`/`resume()`, no `SerialPort.list()`.
 *
 * @module
 */
import { EventEmitter } from "node:events";
import { Buffer } from "node:buffer";
import { type ModemLines, type ModemStatus, openSerial, type SerialConnection } from "./core.ts";
import type { SerialOptions } from "./core.ts";
import { SerialError } from "./errors.ts";
import { lineSettings } from "./termios.ts";

/** serialport's constructor options. */
export interface SerialPortOptions extends SerialOptions {
  readonly path: string;
  /** Open in the constructor ("open" or the error follow asynchronously). Default true. */
  readonly autoOpen?: boolean;
}

/** A node-style callback. */
export type ErrorCallback = (err: Error | null) => void;

type Writable = Uint8Array | string | readonly number[];

/** A serial port with serialport's API. */
export class SerialPort extends EventEmitter {
  readonly path: string;
  readonly #opts: SerialOptions;
  #conn: SerialConnection | undefined;
  #opening: Promise<SerialConnection> | undefined;
  #lastWrite: Promise<unknown> = Promise.resolve();
  readonly #closeEmitted = new WeakSet<SerialConnection>();

  /** Throws a RangeError at once for bad options (as serialport throws a TypeError). */
  constructor(opts: SerialPortOptions, openCallback?: ErrorCallback) {
    super();
    this.path = opts.path;
    const { path: _path, autoOpen, ...rest } = opts;
    lineSettings(opts.path, rest);
    this.#opts = rest;
    // Opening starts now, so writes made right after wait for it; "open" or the error come
    // after at least one microtask, when the caller's listeners are in place.
    if (autoOpen ?? true) this.open(openCallback);
  }

  get isOpen(): boolean {
    return this.#conn?.isOpen ?? false;
  }

  get baudRate(): number {
    return this.#conn?.settings.baudRate ?? this.#opts.baudRate;
  }

  /** Opens the port; "open" follows, or the error (callback or "error"). */
  open(cb?: ErrorCallback): void {
    if (this.#conn?.isOpen || this.#opening) {
      this.#report(new SerialError("busy", this.path, "open: the port is already open"), cb);
      return;
    }
    const opening = openSerial(this.path, this.#opts);
    this.#opening = opening;
    opening.then(
      (conn) => {
        this.#opening = undefined;
        this.#conn = conn;
        this.#emitSafe("open");
        cb?.(null);
        void this.#pump(conn);
      },
      (err) => {
        this.#opening = undefined;
        this.#report(err as Error, cb);
      },
    );
  }

  /**
   * Queues `data` (a string in `encoding`, default utf8); `cb` runs once it went to the kernel.
   * Writes made while the port opens wait for it. Returns true (there is no stream buffer).
   */
  write(data: Writable, encoding?: BufferEncoding | ErrorCallback, cb?: ErrorCallback): boolean {
    const callback = typeof encoding === "function" ? encoding : cb;
    const enc = typeof encoding === "string" ? encoding : "utf8";
    const bytes = typeof data === "string"
      ? Buffer.from(data, enc)
      : data instanceof Uint8Array
      ? data
      : Uint8Array.from(data);
    const done = this.#whenOpen("write").then((conn) => conn.write(bytes));
    this.#lastWrite = done.catch(() => {});
    done.then(() => callback?.(null), (e) => this.#report(e, callback));
    return true;
  }

  /** Waits until every write so far went out on the wire (tcdrain). */
  drain(cb?: ErrorCallback): void {
    const pending = this.#lastWrite;
    this.#run("drain", cb, async (conn) => {
      await pending;
      await conn.drain();
    });
  }

  /** Changes the baud rate of the open port. */
  update(opts: { readonly baudRate: number }, cb?: ErrorCallback): void {
    this.#run("update", cb, (conn) => conn.update(opts));
  }

  /** Sets modem lines. serialport fills in dtr/rts true and brk false for lines not given. */
  set(lines: ModemLines, cb?: ErrorCallback): void {
    const all = { dtr: true, rts: true, brk: false, ...lines };
    this.#run("set", cb, (conn) => conn.set(all));
  }

  /** Reads modem status lines. */
  get(cb: (err: Error | null, status?: ModemStatus) => void): void {
    this.#whenOpen("get").then((conn) => conn.get()).then(
      (status) => cb(null, status),
      (e) => cb(e as Error),
    );
  }

  /** Discards bytes received but not read and bytes not yet sent. */
  flush(cb?: ErrorCallback): void {
    this.#run("flush", cb, (conn) => conn.flush());
  }

  /** Closes the port; "close" (null) follows. */
  close(cb?: ErrorCallback): void {
    const conn = this.#conn;
    if (!conn?.isOpen) {
      this.#report(new SerialError("closed", this.path, "close: the port is not open"), cb);
      return;
    }
    conn.close().then(() => {
      this.#emitClose(conn, null);
      cb?.(null);
    });
  }

  /** Sends every "data" chunk to `dest.write()`; returns `dest` (serialport's `pipe`). */
  pipe<T extends { write(chunk: Uint8Array): unknown }>(dest: T): T {
    this.on("data", (chunk: Uint8Array) => dest.write(chunk));
    return dest;
  }

  async #pump(conn: SerialConnection): Promise<void> {
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await conn.read();
      } catch (e) {
        await conn.close(); // already closing after a hang-up: waits for the fd to be closed
        this.#emitClose(conn, e as Error);
        return;
      }
      if (chunk === null) return; // close(): it emits "close"
      this.#emitSafe("data", Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
  }

  #emitClose(conn: SerialConnection, err: Error | null): void {
    if (this.#closeEmitted.has(conn)) return;
    this.#closeEmitted.add(conn);
    if (this.#conn === conn) this.#conn = undefined;
    this.#emitSafe("close", err);
  }

  #whenOpen(what: string): Promise<SerialConnection> {
    if (this.#conn?.isOpen) return Promise.resolve(this.#conn);
    if (this.#opening) return this.#opening;
    return Promise.reject(new SerialError("closed", this.path, `${what}: the port is not open`));
  }

  #run(what: string, cb: ErrorCallback | undefined, fn: (c: SerialConnection) => Promise<void>) {
    this.#whenOpen(what).then(fn).then(() => cb?.(null), (e) => this.#report(e, cb));
  }

  /** To the callback if there is one, else as "error" (serialport's rule). */
  #report(err: Error, cb: ErrorCallback | undefined): void {
    if (cb) cb(err);
    else this.#emitSafe("error", err);
  }

  /** A listener that throws must not end the read loop: its error goes to "error" or is rethrown. */
  #emitSafe(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (e) {
      if (event !== "error" && this.listenerCount("error") > 0) this.emit("error", e);
      else {queueMicrotask(() => {
          throw e;
        }); // uncaught, as in Node
      }
    }
  }
}
