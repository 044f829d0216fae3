/**
 * A virtual Modbus RTU slave on a socat pty pair, for the modbus-rtu plugin's tests and the demo.
 *
 * ```
 * socat pty,raw,echo=0,link=<dir>/ttyUSB0 pty,raw,echo=0,link=<dir>/slave
 * ```
 *
 * The code under test opens `<dir>/ttyUSB0` (with the plugin host's `devRoot` at `<dir>`, the
 * plugin's `/dev/ttyUSB0`); the simulator answers on `<dir>/slave`. It answers functions 03 and 04
 * from register tables the test sets, with exceptions as a real slave would (01 illegal function,
 * 02 illegal data address, 03 illegal data value for a count of 0 or above 125), after t3.5 of
 * silence at the configured line settings. It can be told to stay silent, to answer with a bad
 * CRC, from another slave id, with a wrong byte count, late, or with 300 random bytes (longer than
 * any frame) in place of an answer; to flood the line with garbage at
 * the line's rate (a pty has no wire: the pacing is the simulator's); and to be unplugged (socat
 * killed) and plugged in again on the same path.
 *
 * The CRC here is the bitwise form of the spec (§6.2.2), written apart from the plugin's
 * table-driven one, so each checks the other.
 *
 * @module
 */
import { prng } from "../../runtime/lib/prng.ts";

export type SlaveMode =
  | "normal"
  | "silent"
  | "bad-crc"
  | "wrong-slave"
  | "wrong-length"
  | "late"
  | "garbage";

export interface ModbusSlaveOptions {
  /** Folder for the links; default a new temp dir, removed by stop(). */
  readonly dir?: string;
  /** The device end's name in `dir`. Default "ttyUSB0". */
  readonly deviceName?: string;
  /** The slave id, 1–247. Default 1. */
  readonly slave?: number;
  /** For the t3.5 timing and the flood's pace. Default 9600, "none", 1. */
  readonly baudRate?: number;
  readonly parity?: "none" | "even" | "odd";
  readonly stopBits?: 1 | 2;
  /** Input registers (function 04) by address. */
  readonly input?: Readonly<Record<number, number>>;
  /** Holding registers (function 03) by address. */
  readonly holding?: Readonly<Record<number, number>>;
}

export interface SeenRequest {
  /** performance.now() when the request's last byte arrived. */
  readonly at: number;
  readonly frame: Uint8Array;
}

export interface ModbusSlave extends AsyncDisposable {
  readonly dir: string;
  /** The end the code under test opens. */
  readonly devicePath: string;
  /** t3.5 at the configured line settings, ms. */
  readonly silenceMs: number;
  setInput(address: number, value: number): void;
  setHolding(address: number, value: number): void;
  /** How the slave answers from now on; `lateMs` for "late" (default 3000). */
  setMode(mode: SlaveMode, opts?: { lateMs?: number }): void;
  /** Well-formed requests to this slave so far (the last 1000). */
  requests(): readonly SeenRequest[];
  /** Answers (and exceptions) sent so far, with when they were written. */
  answers(): readonly { at: number; frame: Uint8Array }[];
  /** Bytes that were not a request (noise the master sent, or partial frames). */
  readonly junkBytes: number;
  /** Writes bytes as they are to the line. */
  sendRaw(bytes: Uint8Array): Promise<void>;
  /** Random bytes at the line's rate for `ms` (at most 60 s); resolves when done. */
  flood(ms: number): Promise<number>;
  /** Ends a flood early. */
  stopFlood(): Promise<void>;
  /** SIGKILL to socat and the links removed: the device is gone, mid-transaction if one runs. */
  unplug(): Promise<void>;
  /** A new socat on the same links: the device is back. */
  replug(): Promise<void>;
  /** Stops everything, removes the links (and the dir if it made it). Idempotent. */
  stop(): Promise<void>;
}

/** CRC-16/MODBUS, bit by bit as the spec's flow chart has it. */
export function crcBitwise(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >> 1) ^ 0xa001 : crc >> 1;
  }
  return crc;
}

function frame(body: number[]): Uint8Array {
  const crc = crcBitwise(new Uint8Array(body));
  return new Uint8Array([...body, crc & 0xff, crc >> 8]);
}

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

interface Line {
  child: Deno.ChildProcess;
  status: Promise<Deno.CommandStatus>;
  writer: Deno.FsFile;
  reader: Deno.FsFile;
  pump: Promise<void>;
  gone: boolean;
}

export async function startModbusSlave(opts: ModbusSlaveOptions = {}): Promise<ModbusSlave> {
  const id = opts.slave ?? 1;
  const baud = opts.baudRate ?? 9600;
  const bits = 1 + 8 + ((opts.parity ?? "none") === "none" ? 0 : 1) + (opts.stopBits ?? 1);
  const silenceMs = baud > 19200 ? 1.75 : (3.5 * bits * 1000) / baud;
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "nvr-modbus-slave-" });
  const devicePath = `${dir}/${opts.deviceName ?? "ttyUSB0"}`;
  const slavePath = `${dir}/slave`;
  const input = new Map<number, number>(Object.entries(opts.input ?? {}).map(([a, v]) => [+a, v]));
  const holding = new Map<number, number>(
    Object.entries(opts.holding ?? {}).map(([a, v]) => [+a, v]),
  );
  let mode: SlaveMode = "normal";
  let lateMs = 3000;
  const seen: SeenRequest[] = [];
  const sent: { at: number; frame: Uint8Array }[] = [];
  let junk = 0;
  let stopping = false;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let line: Line | null = null;
  let flooding: Promise<number> | null = null;
  let floodUntil = 0;

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => (timers.delete(t), fn()), ms);
    timers.add(t);
  };
  const write = async (bytes: Uint8Array) => {
    const l = line;
    if (!l || l.gone) return;
    try {
      for (let off = 0; off < bytes.length;) off += await l.writer.write(bytes.subarray(off));
    } catch { /* unplugged meanwhile */ }
  };

  const noise = prng(11);
  const answer = (req: Uint8Array): Uint8Array | null => {
    if (mode === "garbage") return new Uint8Array(300).map(() => Math.floor(noise() * 256));
    const fn = req[1]!;
    const address = (req[2]! << 8) | req[3]!;
    const count = (req[4]! << 8) | req[5]!;
    if (fn !== 3 && fn !== 4) return frame([id, fn | 0x80, 1]);
    if (count < 1 || count > 125) return frame([id, fn | 0x80, 3]);
    const table = fn === 4 ? input : holding;
    const body = [mode === "wrong-slave" ? (id % 247) + 1 : id, fn, 2 * count];
    for (let a = address; a < address + count; a++) {
      const v = table.get(a);
      if (v === undefined) return frame([id, fn | 0x80, 2]);
      body.push((v >> 8) & 0xff, v & 0xff);
    }
    if (mode === "wrong-length") body[2] = 2 * count - 2, body.splice(-2);
    const out = frame(body);
    if (mode === "bad-crc") out[out.length - 1]! ^= 0x5a;
    return out;
  };

  const serve = (l: Line) =>
    (async () => {
      const buf = new Uint8Array(4096);
      let pending: number[] = [];
      let lastAt = -Infinity;
      try {
        for (;;) {
          const n = await l.reader.read(buf);
          if (n === null) return;
          const now = performance.now();
          // t3.5 of silence ends a frame: what came before it and was no request is junk.
          if (now - lastAt > silenceMs) junk += pending.length, pending = [];
          lastAt = now;
          pending.push(...buf.subarray(0, n));
          while (pending.length >= 8) {
            const req = new Uint8Array(pending.slice(0, 8));
            const crc = crcBitwise(req.subarray(0, 6));
            if (req[6] !== (crc & 0xff) || req[7] !== crc >> 8) {
              junk++, pending.shift();
              continue;
            }
            pending = pending.slice(8);
            if (req[0] !== id) continue; // for another slave on the bus
            seen.push({ at: now, frame: req });
            if (seen.length > 1000) seen.shift();
            if (mode === "silent") continue;
            const out = answer(req);
            if (!out) continue;
            later(mode === "late" ? lateMs : Math.ceil(silenceMs), () => {
              if (stopping) return;
              sent.push({ at: performance.now(), frame: out });
              if (sent.length > 1000) sent.shift();
              void write(out);
            });
          }
          if (pending.length > 256) junk += pending.length, pending = [];
        }
      } catch { /* EIO: socat is gone */ }
    })();

  const plug = async () => {
    await Deno.remove(devicePath).catch(() => {});
    await Deno.remove(slavePath).catch(() => {});
    const child = new Deno.Command("socat", {
      args: [`pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${slavePath}`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exited = false;
    const status = child.status.then((s) => (exited = true, s));
    const deadline = performance.now() + 10_000;
    while (!(await exists(devicePath) && await exists(slavePath))) {
      if (exited || performance.now() > deadline) {
        if (!exited) child.kill("SIGKILL");
        await status;
        throw new Error(`modbus slave: socat did not create ${devicePath} within 10 s`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    // Two files: a Deno FsFile serialises its operations (a pending read holds back a write).
    const writer = await Deno.open(slavePath, { write: true });
    const reader = await Deno.open(slavePath, { read: true });
    const l: Line = { child, status, writer, reader, pump: Promise.resolve(), gone: false };
    l.pump = serve(l);
    line = l;
  };

  const unplug = async () => {
    const l = line;
    if (!l || l.gone) return;
    l.gone = true;
    try {
      l.child.kill("SIGKILL");
    } catch { /* gone */ }
    await l.status;
    await l.pump;
    l.writer.close();
    l.reader.close();
    // The device node goes with the device, as udev removes /dev/ttyUSB0. A link left behind
    // points at /dev/pts/N, a number the kernel gives to the next pty made on this machine:
    // the plugin reopening it took another test's serial sensor (and its lock) that way.
    await Deno.remove(devicePath).catch(() => {});
    await Deno.remove(slavePath).catch(() => {});
  };

  await plug();
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      stopping = true;
      await flooding;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await unplug();
      if (ownsDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
      else for (const p of [devicePath, slavePath]) await Deno.remove(p).catch(() => {});
    })();

  return {
    dir,
    devicePath,
    silenceMs,
    setInput: (a, v) => void input.set(a, v & 0xffff),
    setHolding: (a, v) => void holding.set(a, v & 0xffff),
    setMode(m, o = {}) {
      mode = m;
      lateMs = o.lateMs ?? 3000;
    },
    requests: () => [...seen],
    answers: () => [...sent],
    get junkBytes() {
      return junk;
    },
    sendRaw: write,
    flood(ms) {
      floodUntil = performance.now() + Math.min(ms, 60_000);
      const rand = prng(7);
      const perTick = Math.max(1, Math.round((baud / bits) * 0.05)); // 50 ms of line time
      return flooding ??= (async () => {
        await Promise.resolve(); // `flooding` is set before the loop can end
        let total = 0;
        while (performance.now() < floodUntil && !stopping && line && !line.gone) {
          const chunk = new Uint8Array(perTick).map(() => Math.floor(rand() * 256));
          await write(chunk);
          total += chunk.length;
          await new Promise((r) => setTimeout(r, 50));
        }
        flooding = null;
        return total;
      })();
    },
    async stopFlood() {
      floodUntil = 0;
      await flooding;
    },
    unplug,
    replug: async () => {
      await unplug();
      await plug();
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
