/**
 * Virtual serial temperature/humidity sensor for hardware-less tests.
 *
 * `socat` makes a linked pair of pseudo terminals:
 *
 * ```
 * socat -d -d pty,raw,echo=0,link=<dir>/device pty,raw,echo=0,link=<dir>/sensor
 * ```
 *
 * Whatever is written to `<dir>/sensor` comes out of `<dir>/device` and the
 * other way round. The simulator drives the sensor end: it writes one
 * reading sentence per interval in the protocol of `sensor_protocol.ts`
 * (`$TH,<seq>,<tempC>,<rh>*<CS>\r\n`), with values that drift smoothly. The
 * code under test opens {@link SerialSensor.devicePath} as if it were
 * `/dev/ttyUSB0`.
 *
 * Notes:
 * - The first reading is written right after start, then one per interval.
 * - While nobody reads the device end, the pty pair and socat buffer what the
 *   sensor writes (about 36 KiB, ~1700 readings, measured on Linux); a reader
 *   that opens the device later gets those readings first, complete. When
 *   the buffer is full the write blocks; the simulator then skips readings
 *   (counted in {@link SerialSensor.readingsSkipped}) instead of queueing, and
 *   a pending sendRaw() rejects on stop().
 * - A door contact: after setDoor() the sensor sends `$DC,<0|1>` at once and
 *   after every reading (none before, so readers of readings only see TH).
 * - Bytes the code under test writes to the device end are collected and
 *   readable through {@link SerialSensor.received} (last 64 KiB).
 * - A Deno `FsFile` serialises its operations (a pending read delays a write
 *   on the same file), so the sensor end is opened twice: once to write,
 *   once to read.
 *
 * @module
 */
import { prng } from "../../runtime/lib/prng.ts";

import {
  formatDoorLine,
  formatReadingLine,
  HUMIDITY_RANGE,
  MAX_SEQ,
  TEMPERATURE_RANGE_C,
} from "./sensor_protocol.ts";
import type { Reading } from "./sensor_protocol.ts";
import { writeAll } from "../../runtime/std/io/write_all.ts";

/** Values a reading carries. */
export interface SensorValues {
  /** Degrees Celsius, clamped to -40..125. */
  readonly temperatureC: number;
  /** Relative humidity in percent, clamped to 0..100. */
  readonly humidity: number;
}

/** Options of {@link startSerialSensor}. All are optional. */
export interface SerialSensorOptions {
  /**
   * Directory for the `device` and `sensor` links. Default: a new temp dir,
   * removed by stop(). A given dir is left in place (only the links go).
   */
  readonly dir?: string;
  /** Name of the device end's link in {@link dir} (e.g. "ttyUSB0"). Default "device". */
  readonly deviceName?: string;
  /** Milliseconds between readings. Default 1000. */
  readonly intervalMs?: number;
  /** Starting values. Default 21.5 °C, 45 %. */
  readonly initial?: Partial<SensorValues>;
  /** Whether values drift between readings. Default true. */
  readonly drift?: boolean;
  /** Seed of the drift's pseudo random generator. Default 1. */
  readonly seed?: number;
  /** Sequence number of the first reading. Default 0. */
  readonly firstSeq?: number;
  /** How long to wait for socat to create both links. Default 5000 ms. */
  readonly startTimeoutMs?: number;
  /** socat executable. Default "socat" (from PATH). */
  readonly socatPath?: string;
}

/** A running virtual sensor. Stop it with stop() or `await using`. */
export interface SerialSensor extends AsyncDisposable {
  /** The pty a plugin opens (like /dev/ttyUSB0); a symlink in {@link dir}. */
  readonly devicePath: string;
  /** The sensor's own end (driven by the simulator). */
  readonly sensorPath: string;
  /** Directory holding both links. */
  readonly dir: string;
  /** Process id of socat. */
  readonly pid: number;
  /** Milliseconds between readings. */
  readonly intervalMs: number;
  /** True between pause() and resume(). */
  readonly paused: boolean;
  /** False once stop() was called or socat died. */
  readonly running: boolean;
  /** Readings written so far. */
  readonly readingsSent: number;
  /** Readings skipped because the previous write had not finished. */
  readonly readingsSkipped: number;
  /** Values the next reading will carry (before rounding to wire precision). */
  values(): SensorValues;
  /**
   * Sets the values of the next reading (given fields only, clamped to the
   * protocol's ranges); drift, if on, continues from there around them.
   */
  setValues(values: Partial<SensorValues>): void;
  /** The door contact's state: null until setDoor() is first called. */
  door(): boolean | null;
  /**
   * Opens (true) or closes (false) the door contact: its `$DC` sentence is sent
   * at once and after every reading from then on.
   */
  setDoor(open: boolean): Promise<void>;
  /**
   * Writes bytes as they are to the sensor end, in order with readings:
   * garbage, partial lines, wrong checksums, binary noise, over-long lines.
   * A string is sent UTF-8 encoded. Resolves once written; works while paused.
   */
  sendRaw(bytes: Uint8Array | string): Promise<void>;
  /** The sensor goes silent (no readings; sendRaw still works). */
  pause(): void;
  /** Readings start again, the next one after one interval. */
  resume(): void;
  /** Copy of the bytes written to the device end so far (last 64 KiB). */
  received(): Uint8Array;
  /** socat's stderr so far (last 16 KiB), for diagnostics. */
  socatLog(): string;
  /**
   * Stops readings, kills socat, closes every file, removes the links and the
   * temp dir. Idempotent; never rejects.
   */
  stop(): Promise<void>;
}

const DEFAULT_VALUES: SensorValues = { temperatureC: 21.5, humidity: 45 };
const RECEIVED_LIMIT = 64 * 1024;
const LOG_LIMIT = 16 * 1024;
const KILL_GRACE_MS = 2000;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** Smoothly wandering values: damped random velocity, pulled to an anchor. */
class Drift {
  #t: number;
  #h: number;
  #anchorT: number;
  #anchorH: number;
  #vt = 0;
  #vh = 0;
  readonly #rand: () => number;
  readonly #on: boolean;

  constructor(initial: SensorValues, on: boolean, seed: number) {
    this.#t = this.#anchorT = initial.temperatureC;
    this.#h = this.#anchorH = initial.humidity;
    this.#on = on;
    this.#rand = prng(seed);
  }

  get current(): SensorValues {
    return { temperatureC: this.#t, humidity: this.#h };
  }

  set(v: Partial<SensorValues>): void {
    if (v.temperatureC !== undefined) {
      if (!Number.isFinite(v.temperatureC)) throw new RangeError("temperatureC must be finite");
      this.#t = this.#anchorT = clamp(
        v.temperatureC,
        TEMPERATURE_RANGE_C.min,
        TEMPERATURE_RANGE_C.max,
      );
      this.#vt = 0;
    }
    if (v.humidity !== undefined) {
      if (!Number.isFinite(v.humidity)) throw new RangeError("humidity must be finite");
      this.#h = this.#anchorH = clamp(v.humidity, HUMIDITY_RANGE.min, HUMIDITY_RANGE.max);
      this.#vh = 0;
    }
  }

  step(): void {
    if (!this.#on) return;
    const noise = () => this.#rand() + this.#rand() + this.#rand() - 1.5; // ~N(0, 0.5)
    this.#vt = 0.8 * this.#vt + 0.04 * noise() + 0.01 * (this.#anchorT - this.#t);
    this.#vh = 0.8 * this.#vh + 0.12 * noise() + 0.01 * (this.#anchorH - this.#h);
    this.#t = clamp(this.#t + this.#vt, TEMPERATURE_RANGE_C.min, TEMPERATURE_RANGE_C.max);
    this.#h = clamp(this.#h + this.#vh, HUMIDITY_RANGE.min, HUMIDITY_RANGE.max);
  }
}

/**
 * Starts socat and the sensor. Resolves once both links exist and the first
 * reading was queued; rejects (after cleaning up) if socat can't be started,
 * exits early or does not create the links within `startTimeoutMs`; the
 * error message includes socat's stderr.
 */
export async function startSerialSensor(opts: SerialSensorOptions = {}): Promise<SerialSensor> {
  const intervalMs = opts.intervalMs ?? 1000;
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
    throw new RangeError(`intervalMs must be a positive number, got ${intervalMs}`);
  }
  const firstSeq = opts.firstSeq ?? 0;
  if (!Number.isInteger(firstSeq) || firstSeq < 0 || firstSeq > MAX_SEQ) {
    throw new RangeError(`firstSeq must be an integer in 0..${MAX_SEQ}`);
  }
  const drift = new Drift(DEFAULT_VALUES, opts.drift ?? true, opts.seed ?? 1);
  if (opts.initial) drift.set(opts.initial);

  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "nvr-serial-sensor-" });
  const deviceName = opts.deviceName ?? "device";
  if (!/^[A-Za-z0-9_.-]+$/.test(deviceName) || deviceName === "sensor") {
    throw new RangeError(`deviceName must be a plain file name other than "sensor"`);
  }
  const devicePath = `${dir}/${deviceName}`;
  const sensorPath = `${dir}/sensor`;
  const socat = opts.socatPath ?? "socat";
  const args = [
    "-d",
    "-d",
    `pty,raw,echo=0,link=${devicePath}`,
    `pty,raw,echo=0,link=${sensorPath}`,
  ];

  const removeFiles = async () => {
    if (ownsDir) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    } else {
      for (const p of [devicePath, sensorPath]) await Deno.remove(p).catch(() => {});
    }
  };

  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(socat, { args, stdin: "null", stdout: "null", stderr: "piped" })
      .spawn();
  } catch (e) {
    await removeFiles();
    throw new Error(`serial sensor: cannot start '${socat}': ${(e as Error).message}`, {
      cause: e,
    });
  }

  let log = "";
  const logDone = (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of child.stderr) {
        log += dec.decode(chunk, { stream: true });
        if (log.length > LOG_LIMIT) log = log.slice(-LOG_LIMIT);
      }
    } catch { /* pipe error: socat is gone */ }
  })();

  let exited: Deno.CommandStatus | undefined;
  const statusDone = child.status.then((s) => {
    exited = s;
    return s;
  });

  const killSocat = async () => {
    if (exited === undefined) {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = await Promise.race([
        statusDone.then(() => true),
        new Promise<false>((r) => timer = setTimeout(() => r(false), KILL_GRACE_MS)),
      ]);
      clearTimeout(timer);
      if (!killed) {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
      }
    }
    await statusDone;
    await logDone;
  };

  // Wait for both links (or socat's early death, or the deadline).
  const timeoutMs = opts.startTimeoutMs ?? 5000;
  const deadline = performance.now() + timeoutMs;
  let writer: Deno.FsFile | undefined;
  let readerFile: Deno.FsFile | undefined;
  try {
    for (;;) {
      if (exited !== undefined) {
        throw new Error(`socat exited with code ${exited.code} before creating the ptys`);
      }
      if (await exists(devicePath) && await exists(sensorPath)) break;
      if (performance.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for socat to create ${devicePath} and ${sensorPath}`,
        );
      }
      await delay(10);
    }
    writer = await Deno.open(sensorPath, { write: true });
    readerFile = await Deno.open(sensorPath, { read: true });
  } catch (e) {
    writer?.close();
    readerFile?.close();
    await killSocat();
    await removeFiles();
    throw new Error(
      `serial sensor: ${(e as Error).message}; socat stderr:\n${log.trim() || "(empty)"}`,
      {
        cause: e,
      },
    );
  }
  return new SerialSensorImpl({
    child,
    writer,
    readerFile,
    killSocat,
    removeFiles,
    getLog: () => log,
    isExited: () => exited !== undefined,
    dir,
    devicePath,
    sensorPath,
    intervalMs,
    firstSeq,
    drift,
  });
}

interface ImplParts {
  readonly child: Deno.ChildProcess;
  readonly writer: Deno.FsFile;
  readonly readerFile: Deno.FsFile;
  readonly killSocat: () => Promise<void>;
  readonly removeFiles: () => Promise<void>;
  readonly getLog: () => string;
  readonly isExited: () => boolean;
  readonly dir: string;
  readonly devicePath: string;
  readonly sensorPath: string;
  readonly intervalMs: number;
  readonly firstSeq: number;
  readonly drift: Drift;
}

class SerialSensorImpl implements SerialSensor {
  readonly devicePath: string;
  readonly sensorPath: string;
  readonly dir: string;
  readonly pid: number;
  readonly intervalMs: number;
  readonly #p: ImplParts;
  readonly #drift: Drift;
  #seq: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #paused = false;
  #door: boolean | null = null;
  #stopping = false;
  #stopDone: Promise<void> | undefined;
  #writeChain: Promise<void> = Promise.resolve();
  #writesInFlight = 0;
  #sent = 0;
  #skipped = 0;
  #received: Uint8Array[] = [];
  #receivedBytes = 0;
  readonly #readLoop: Promise<void>;

  constructor(p: ImplParts) {
    this.#p = p;
    this.devicePath = p.devicePath;
    this.sensorPath = p.sensorPath;
    this.dir = p.dir;
    this.pid = p.child.pid;
    this.intervalMs = p.intervalMs;
    this.#seq = p.firstSeq;
    this.#drift = p.drift;
    this.#readLoop = this.#pumpReceived();
    this.#tick();
    this.#arm();
  }

  get paused(): boolean {
    return this.#paused;
  }
  get running(): boolean {
    return !this.#stopping && !this.#p.isExited();
  }
  get readingsSent(): number {
    return this.#sent;
  }
  get readingsSkipped(): number {
    return this.#skipped;
  }

  values(): SensorValues {
    return this.#drift.current;
  }

  setValues(values: Partial<SensorValues>): void {
    this.#drift.set(values);
  }

  sendRaw(bytes: Uint8Array | string): Promise<void> {
    if (!this.running) return Promise.reject(new Error("serial sensor is stopped"));
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes.slice();
    return this.#write(data).catch((e) => {
      throw new Error(
        this.#stopping
          ? "serial sensor stopped before the bytes were written"
          : `serial sensor write failed: ${e}`,
        { cause: e },
      );
    });
  }

  door(): boolean | null {
    return this.#door;
  }

  setDoor(open: boolean): Promise<void> {
    this.#door = open;
    return this.sendRaw(formatDoorLine({ doorOpen: open }));
  }

  pause(): void {
    this.#paused = true;
    this.#disarm();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#arm();
  }

  received(): Uint8Array {
    const out = new Uint8Array(this.#receivedBytes);
    let off = 0;
    for (const c of this.#received) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  socatLog(): string {
    return this.#p.getLog();
  }

  stop(): Promise<void> {
    this.#stopDone ??= this.#doStop();
    return this.#stopDone;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #doStop(): Promise<void> {
    this.#stopping = true;
    this.#disarm();
    // Killing socat closes the pty masters: pending reads and writes on the
    // sensor end then fail with EIO, so they all settle.
    await this.#p.killSocat();
    await this.#writeChain;
    await this.#readLoop;
    this.#p.writer.close();
    this.#p.readerFile.close();
    await this.#p.removeFiles();
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#paused || this.#stopping) return;
    this.#timer = setInterval(() => this.#tick(), this.intervalMs);
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    if (!this.running || this.#paused) return;
    if (this.#writesInFlight > 0) {
      this.#skipped++;
      return;
    }
    const reading: Reading = { seq: this.#seq, ...this.#drift.current };
    const line = formatReadingLine(reading) +
      (this.#door === null ? "" : formatDoorLine({ doorOpen: this.#door }));
    this.#seq = this.#seq >= MAX_SEQ ? 0 : this.#seq + 1;
    this.#drift.step();
    this.#sent++;
    this.#write(new TextEncoder().encode(line)).catch(() => {
      // socat died or we are stopping; nothing to report to.
    });
  }

  #write(data: Uint8Array): Promise<void> {
    this.#writesInFlight++;
    const done = this.#writeChain.then(() => writeAll(this.#p.writer, data)).finally(() => {
      this.#writesInFlight--;
    });
    this.#writeChain = done.catch(() => {});
    return done;
  }

  async #pumpReceived(): Promise<void> {
    const buf = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await this.#p.readerFile.read(buf);
        if (n === null) return;
        this.#received.push(buf.slice(0, n));
        this.#receivedBytes += n;
        while (this.#receivedBytes > RECEIVED_LIMIT && this.#received.length > 1) {
          this.#receivedBytes -= this.#received.shift()!.length;
        }
      }
    } catch {
      // EIO once socat is gone: the end of the stream.
    }
  }
}
