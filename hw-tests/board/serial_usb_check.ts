/**
 * On a real board: runtime/serial/ against a USB-serial adapter wired in loopback (TX to RX; for
 * `--rtscts` also RTS to CTS). What ptys can't show: bytes really on a wire, at several baud rates
 * and framings (a pty ignores data bits, parity and speed), the time on the wire matching the baud
 * rate (drain), and a real unplug.
 *
 * ```
 * .tools/bin/deno run -A hw-tests/board/serial_usb_check.ts /dev/ttyUSB0 [--rtscts] [--unplug]
 * ```
 *
 * Exits 0 when every check passed, 1 otherwise, printing one line per check. Not run in CI and not
 * run on the development machine (it has no serial adapter).
 */
import { openSerial, type SerialConnection, type SerialOptions } from "../../runtime/serial/mod.ts";
import { SerialError } from "../../runtime/serial/mod.ts";

const RATES = [1200, 9600, 19200, 57600, 115200, 230400, 460800, 921600];
const FRAMINGS: Omit<SerialOptions, "baudRate">[] = [
  { dataBits: 8, parity: "none", stopBits: 1 },
  { dataBits: 7, parity: "even", stopBits: 1 },
  { dataBits: 8, parity: "odd", stopBits: 2 },
];

/** Bits on the wire per character: start + data + parity + stop. */
function bitsPerChar(f: Omit<SerialOptions, "baudRate">): number {
  return 1 + (f.dataBits ?? 8) + (f.parity && f.parity !== "none" ? 1 : 0) + (f.stopBits ?? 1);
}

async function readExactly(port: SerialConnection, n: number, ms: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  const until = performance.now() + ms;
  while (got < n) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const left = Math.max(1, until - performance.now());
    const chunk = await Promise.race([
      port.read(),
      new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
    ]);
    clearTimeout(timer);
    if (chunk === "timeout") throw new Error(`only ${got} of ${n} bytes came back in ${ms} ms`);
    if (chunk === null) throw new Error("the port closed");
    out.set(chunk.subarray(0, n - got), got);
    got += Math.min(chunk.length, n - got);
  }
  return out;
}

async function loopback(path: string, baudRate: number, f: Omit<SerialOptions, "baudRate">) {
  const port = await openSerial(path, { baudRate, ...f });
  try {
    await port.flush();
    const back = port.attributes();
    if (back.baudRate !== baudRate || back.dataBits !== (f.dataBits ?? 8)) {
      throw new Error(`the driver holds ${JSON.stringify(back)}`);
    }
    const mask = (1 << (f.dataBits ?? 8)) - 1;
    const bits = bitsPerChar(f);
    const n = Math.max(64, Math.floor((baudRate / bits) * 0.5)); // about half a second of data
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = (i * 31 + 7) & mask;
    const wireMs = (n * bits * 1000) / baudRate;
    const t0 = performance.now();
    const reading = readExactly(port, n, wireMs * 3 + 2000);
    await port.write(data);
    await port.drain();
    const drainMs = performance.now() - t0;
    const got = await reading;
    const bad = got.findIndex((b, i) => b !== data[i]);
    if (bad >= 0) throw new Error(`byte ${bad}: sent ${data[bad]}, got ${got[bad]}`);
    // drain() waits for the wire: too early means the speed did not take (or drain is broken).
    if (drainMs < wireMs * 0.8) {
      throw new Error(
        `drain() after ${drainMs.toFixed(0)} ms, the wire needs ${wireMs.toFixed(0)} ms`,
      );
    }
    return `${n} bytes, wire ${wireMs.toFixed(0)} ms, drain ${drainMs.toFixed(0)} ms`;
  } finally {
    await port.close();
  }
}

async function main(args: string[]): Promise<number> {
  const path = args.find((a) => !a.startsWith("--"));
  if (!path) {
    console.error(
      "usage: deno run -A hw-tests/board/serial_usb_check.ts /dev/ttyUSB0 [--rtscts] [--unplug]\n" +
        "with the adapter's TX wired to its RX (and RTS to CTS for --rtscts)",
    );
    return 2;
  }
  let failed = 0;
  const check = async (name: string, fn: () => Promise<string>) => {
    try {
      console.log(`ok   ${name}: ${await fn()}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${(e as Error).message}`);
    }
  };
  for (const f of FRAMINGS) {
    const name = `${f.dataBits}${(f.parity ?? "none")[0]!.toUpperCase()}${f.stopBits}`;
    for (const rate of RATES) await check(`${name} at ${rate}`, () => loopback(path, rate, f));
  }
  if (args.includes("--rtscts")) {
    await check("RTS/CTS at 115200", () => loopback(path, 115200, { rtscts: true }));
  }
  await check("second open is refused as busy", async () => {
    const first = await openSerial(path, { baudRate: 9600 });
    try {
      await openSerial(path, { baudRate: 9600 }).then((p) => p.close(), (e) => {
        if (!(e instanceof SerialError) || e.kind !== "busy") throw e;
      });
      return "busy";
    } finally {
      await first.close();
    }
  });
  if (args.includes("--unplug")) {
    await check("unplug while reading", async () => {
      const port = await openSerial(path, { baudRate: 9600 });
      console.log("     unplug the adapter now (60 s)...");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const err = await Promise.race([
        port.closed,
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), 60_000)),
      ]);
      clearTimeout(timer);
      await port.close();
      if (err === "timeout") throw new Error("no hang-up within 60 s");
      if (err?.kind !== "hangup") throw new Error(`closed with ${err}`);
      return err.message;
    });
  }
  console.log(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
