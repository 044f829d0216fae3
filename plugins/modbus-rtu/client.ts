/**
 * A Modbus RTU master over a byte port (the plugin's relayed serial port, or runtime/serial in
 * tests): one transaction at a time, t3.5 of silence before each request, a response timeout,
 * retries, and a receive buffer that never holds more than one RTU frame (256 bytes).
 *
 * The end of an answer is found by its length (from the function byte and the byte count), not by
 * t3.5 of silence: the bytes reach the plugin through the host's relay, in chunks whose arrival no
 * longer shows the gaps on the wire. Silence is used where it matters to the slaves: before a
 * request, measured from the last byte that arrived, which is later than it left the wire (so the
 * pause is never shorter than t3.5). RTU has no transaction ids: an answer that comes after its
 * timeout is dropped as noise when it arrives between transactions; one that lands inside the next
 * transaction is taken for its answer when slave, function and byte count match (for a retry, the
 * same registers; for another read of the same size, another read's values). Keep `timeoutMs`
 * above the slowest slave's answer time: only that rules this out.
 */
import {
  charsMs,
  decodeAnswer,
  encodeRequest,
  frameLength,
  type Framing,
  MAX_ADU,
  ModbusError,
  type ReadRequest,
  silenceMs,
} from "./frame.ts";

/** The port the client talks through (the SDK's RelayedPort has this shape). */
export interface BytePort {
  /** The next bytes, or null once the port is closed or gone. */
  read(): Promise<Uint8Array | null>;
  write(bytes: Uint8Array): Promise<void>;
}

export interface ClientOptions extends Framing {
  /** How long an answer may take after the request left, ms. Default 1000. */
  readonly timeoutMs?: number;
  /** Further attempts after a failed one (timeout, CRC, noise…; not an exception). Default 2. */
  readonly retries?: number;
  /** Monotonic ms. Default performance.now. */
  readonly now?: () => number;
}

export interface ClientStats {
  readonly transactions: number;
  readonly failures: number;
  readonly retries: number;
  /** Bytes that were not part of an answer: noise, late answers, overflow. */
  readonly discardedBytes: number;
}

export class ModbusRtuClient {
  readonly #port: BytePort;
  readonly #framing: Framing;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #now: () => number;
  readonly #buf = new Uint8Array(MAX_ADU);
  #len = 0;
  #overflow = false;
  #listening = false;
  #lastRxAt = -Infinity;
  #quietFrom = -Infinity;
  #closed: string | null = null;
  #wake: (() => void) | null = null;
  #busy = false;
  #stats = { transactions: 0, failures: 0, retries: 0, discardedBytes: 0 };
  /** Resolves once the port is gone (read returned null or failed). */
  readonly done: Promise<void>;

  constructor(port: BytePort, options: ClientOptions) {
    this.#port = port;
    this.#framing = options;
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.#retries = options.retries ?? 2;
    this.#now = options.now ?? (() => performance.now());
    if (!(this.#timeoutMs > 0)) throw new RangeError(`timeoutMs ${this.#timeoutMs} must be > 0`);
    if (!Number.isInteger(this.#retries) || this.#retries < 0) {
      throw new RangeError(`retries ${this.#retries} must be a whole number >= 0`);
    }
    this.done = this.#pump();
  }

  /** Why the port is gone, or null while it is open. */
  get closed(): string | null {
    return this.#closed;
  }

  get stats(): ClientStats {
    return { ...this.#stats };
  }

  async #pump(): Promise<void> {
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await this.#port.read();
      } catch (err) {
        this.#closed = err instanceof Error ? err.message : String(err);
        break;
      }
      if (chunk === null) {
        this.#closed = "the serial port was closed";
        break;
      }
      this.#lastRxAt = this.#now();
      this.#take(chunk);
      this.#wake?.();
    }
    this.#wake?.();
  }

  /** Keeps bytes only while an answer is awaited, and never more than one frame's worth. */
  #take(chunk: Uint8Array): void {
    if (!this.#listening) {
      this.#stats.discardedBytes += chunk.length;
      return;
    }
    const room = MAX_ADU - this.#len;
    if (chunk.length > room) {
      this.#overflow = true;
      this.#stats.discardedBytes += chunk.length - room;
    }
    this.#buf.set(chunk.subarray(0, room), this.#len);
    this.#len += Math.min(room, chunk.length);
  }

  /**
   * Reads `r.count` registers; retries as configured. Rejects with the last ModbusError (an
   * exception answer and a closed port are not retried: the slave will say the same again).
   */
  async read(r: ReadRequest): Promise<Uint16Array> {
    if (this.#busy) throw new Error("ModbusRtuClient: one transaction at a time");
    this.#busy = true;
    try {
      let last: ModbusError | undefined;
      for (let attempt = 0; attempt <= this.#retries; attempt++) {
        if (attempt > 0) this.#stats.retries++;
        this.#stats.transactions++;
        try {
          return await this.#once(r);
        } catch (err) {
          if (!(err instanceof ModbusError)) throw err;
          this.#stats.failures++;
          last = err;
          if (err.kind === "exception" || err.kind === "closed") break;
        }
      }
      throw last!;
    } finally {
      this.#busy = false;
    }
  }

  async #once(r: ReadRequest): Promise<Uint16Array> {
    const request = encodeRequest(r);
    const silence = silenceMs(this.#framing);
    // t3.5 of silence since the last byte either way; a line that never falls quiet is noise.
    const quietBy = this.#now() + this.#timeoutMs;
    for (;;) {
      this.#checkOpen();
      const quiet = this.#now() - Math.max(this.#lastRxAt, this.#quietFrom);
      if (quiet >= silence) break;
      if (this.#now() > quietBy) {
        throw new ModbusError(
          "noise",
          `the line did not fall silent for ${
            silence.toFixed(2)
          } ms within ${this.#timeoutMs} ms ` +
            "(a slave or noise keeps sending); check the wiring, termination and that only one " +
            "master is on the bus",
        );
      }
      await this.#wait(Math.max(1, Math.ceil(silence - quiet)));
    }
    this.#len = 0;
    this.#overflow = false;
    this.#listening = true;
    try {
      await this.#port.write(request);
      const deadline = this.#now() + charsMs(this.#framing, request.length) + this.#timeoutMs;
      for (;;) {
        this.#checkOpen();
        const need = frameLength(this.#buf.subarray(0, this.#len));
        if (need !== null && need > MAX_ADU) {
          throw new ModbusError(
            "wrong-length",
            `answer claims ${need} bytes, more than an RTU frame (${MAX_ADU}); asked ` +
              `${r.count} registers`,
          );
        }
        if (need !== null && this.#len >= need) {
          this.#stats.discardedBytes += this.#len - need;
          return decodeAnswer(this.#buf.slice(0, need), r);
        }
        if (this.#overflow) {
          throw new ModbusError("wrong-length", `more than ${MAX_ADU} bytes without a frame`);
        }
        const left = deadline - this.#now();
        if (left <= 0) {
          throw new ModbusError(
            "timeout",
            this.#len === 0
              ? `no answer from slave ${r.slave} within ${this.#timeoutMs} ms`
              : `an incomplete answer from slave ${r.slave} (${this.#len} of ${
                need ?? "?"
              } bytes) within ${this.#timeoutMs} ms`,
          );
        }
        await this.#wait(left);
      }
    } finally {
      this.#listening = false;
      this.#quietFrom = this.#now();
    }
  }

  #checkOpen(): void {
    if (this.#closed !== null) {
      throw new ModbusError("closed", `the port is gone: ${this.#closed}`);
    }
  }

  /** Waits `ms` or until bytes arrive or the port goes. */
  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}
