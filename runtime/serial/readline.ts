/**
 * `ReadlineParser`: splits the bytes of a port into lines, with the shape of npm
 * `@serialport/parser-readline` (`port.pipe(new ReadlineParser({ delimiter: "\r\n" }))`, then
 * `parser.on("data", (line: string) => …)`).
 *
 * Unlike the npm parser its buffer is bounded: a device that sends `maxLength` bytes without a
 * delimiter (broken, misconfigured baud rate, or hostile) does not grow memory. The parser drops
 * what it holds, skips up to the next delimiter (the rest of that line is not a line either),
 * counts the bytes in `droppedBytes`, and emits "error" with a {@link LineTooLongError} when
 * someone listens for "error" (with nobody listening it stays silent rather than throw into the
 * port's read loop).
 *
 * @module
 */
import { EventEmitter } from "node:events";
import { Buffer } from "node:buffer";

/** Options of {@link ReadlineParser}; names and defaults as in serialport. */
export interface ReadlineOptions {
  /** Default "\n". A string (UTF-8), bytes or an array of byte values. */
  readonly delimiter?: string | Uint8Array | readonly number[];
  /** Keep the delimiter at the end of each line. Default false. */
  readonly includeDelimiter?: boolean;
  /** How lines are decoded. Default "utf8". */
  readonly encoding?: "utf8" | "utf-8" | "latin1" | "ascii" | "hex" | "base64";
  /** Longest line in bytes (without the delimiter) kept; longer ones are dropped. Default 64 KiB. */
  readonly maxLength?: number;
}

/** A line longer than `maxLength` arrived; it was dropped. */
export class LineTooLongError extends Error {
  override readonly name = "LineTooLongError";
  /** Bytes dropped so far for this line. */
  readonly droppedBytes: number;
  constructor(maxLength: number, dropped: number) {
    super(
      `serial line longer than ${maxLength} bytes without a delimiter: dropped ${dropped} bytes ` +
        "and skipping to the next delimiter; check the device's baud rate and line ending, " +
        "or raise maxLength",
    );
    this.droppedBytes = dropped;
  }
}

/** Splits written bytes into lines and emits each as "data". */
export class ReadlineParser extends EventEmitter {
  readonly delimiter: Uint8Array;
  readonly includeDelimiter: boolean;
  readonly encoding: NonNullable<ReadlineOptions["encoding"]>;
  readonly maxLength: number;
  /** Bytes dropped because lines were too long, since the parser was made. */
  droppedBytes = 0;
  #buf: Uint8Array;
  #len = 0;
  /** Where the delimiter search resumes: bytes before it hold no delimiter start. */
  #scanFrom = 0;
  /** True while skipping the rest of a line that was too long. */
  #skipping = false;

  constructor(opts: ReadlineOptions = {}) {
    super();
    const d = opts.delimiter ?? "\n";
    this.delimiter = typeof d === "string" ? new TextEncoder().encode(d) : Uint8Array.from(d);
    if (this.delimiter.length === 0) throw new RangeError("ReadlineParser: delimiter is empty");
    this.includeDelimiter = opts.includeDelimiter ?? false;
    this.encoding = opts.encoding ?? "utf8";
    this.maxLength = opts.maxLength ?? 64 * 1024;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) {
      throw new RangeError(
        `ReadlineParser: maxLength must be a positive integer, got ${this.maxLength}`,
      );
    }
    this.#buf = new Uint8Array(Math.min(this.maxLength + this.delimiter.length, 4096));
  }

  /** Bytes held now (a partial line); never more than maxLength plus the delimiter. */
  get bufferedBytes(): number {
    return this.#len;
  }

  /** Takes the next bytes (what `port.pipe(parser)` calls). Returns true, like a stream. */
  write(chunk: Uint8Array | string): boolean {
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    let i = 0;
    while (i < bytes.length) {
      // Room for at most a line and its delimiter: a longer run can't end a kept line.
      const room = this.maxLength + this.delimiter.length - this.#len;
      const take = Math.min(room, bytes.length - i);
      this.#append(bytes.subarray(i, i + take));
      i += take;
      this.#split();
      if (this.#len >= this.maxLength + this.delimiter.length) this.#overflow();
    }
    return true;
  }

  /** Emits what is left as a last line (serialport's flush on end) and empties the buffer. */
  end(): this {
    if (this.#len > 0 && !this.#skipping) this.#emitLine(this.#buf.subarray(0, this.#len));
    this.#len = 0;
    this.#scanFrom = 0;
    this.#skipping = false;
    this.emit("end");
    return this;
  }

  #append(b: Uint8Array): void {
    if (this.#len + b.length > this.#buf.length) {
      const next = new Uint8Array(
        Math.min(
          Math.max(this.#buf.length * 2, this.#len + b.length),
          this.maxLength + this.delimiter.length,
        ),
      );
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  #split(): void {
    const d = this.delimiter;
    let start = 0;
    for (let i = this.#scanFrom; i + d.length <= this.#len; i++) {
      if (this.#buf[i] !== d[0] || !this.#matchAt(i)) continue;
      const end = i + d.length;
      if (this.#skipping) {
        this.#skipping = false; // the tail of a dropped line ends here
        this.droppedBytes += i - start;
      } else if (i - start > this.maxLength) this.#drop(i - start);
      else this.#emitLine(this.#buf.subarray(start, this.includeDelimiter ? end : i));
      start = end;
      i = end - 1;
    }
    if (start > 0) {
      this.#buf.copyWithin(0, start, this.#len);
      this.#len -= start;
    }
    this.#scanFrom = Math.max(0, this.#len - d.length + 1);
  }

  #matchAt(i: number): boolean {
    for (let k = 1; k < this.delimiter.length; k++) {
      if (this.#buf[i + k] !== this.delimiter[k]) return false;
    }
    return true;
  }

  /** The buffer is full and holds no delimiter: drop it, keeping a possible delimiter start. */
  #overflow(): void {
    const keep = this.delimiter.length - 1;
    const dropped = this.#len - keep;
    this.#buf.copyWithin(0, dropped, this.#len);
    this.#len = keep;
    this.#scanFrom = 0;
    const first = !this.#skipping;
    this.#skipping = true;
    this.#drop(dropped, first);
  }

  #drop(n: number, report = true): void {
    this.droppedBytes += n;
    if (report && this.listenerCount("error") > 0) {
      this.emit("error", new LineTooLongError(this.maxLength, n));
    }
  }

  #emitLine(bytes: Uint8Array): void {
    this.emit("data", Buffer.from(bytes).toString(this.encoding));
  }
}
