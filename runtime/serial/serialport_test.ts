// SerialPort with serialport's shape against the virtual sensor (hw-tests/sim/serial_sensor.ts)
// and socat ptys: code written for npm serialport, run as is.
// Run: deno test -A --trace-leaks runtime/serial/serialport_test.ts
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startPtyPair } from "../testing/pty_pair.ts";
import { startSerialSensor } from "../../hw-tests/sim/serial_sensor.ts";
import { isParseError, parseReadingLine } from "../../hw-tests/sim/sensor_protocol.ts";
import { SerialPort } from "./serialport.ts";
import { ReadlineParser } from "./readline.ts";
import { SerialError } from "./errors.ts";

/** Resolves once `pred()` holds; rejects after `ms` naming `what`. */
async function until(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function once<T extends unknown[]>(port: SerialPort, event: string): Promise<T> {
  return new Promise((resolve) => port.once(event, (...args: unknown[]) => resolve(args as T)));
}

const cb = () => {
  let resolve!: (e: Error | null) => void;
  const p = new Promise<Error | null>((r) => resolve = r);
  return { fn: (e: Error | null) => resolve(e), p };
};

Deno.test("serialport code ports over: readings from the virtual sensor through a ReadlineParser", async () => {
  await using sensor = await startSerialSensor({ intervalMs: 20, firstSeq: 100 });
  // As written for npm serialport:
  const port = new SerialPort({ path: sensor.devicePath, baudRate: 9600 });
  const parser = port.pipe(new ReadlineParser({ delimiter: "\r\n" }));
  const lines: string[] = [];
  parser.on("data", (line: string) => lines.push(line));
  const opened = once(port, "open");
  await opened;
  assert(port.isOpen);
  assertEquals(port.baudRate, 9600);
  await until("5 lines", () => lines.length >= 5);
  for (const [i, line] of lines.slice(0, 5).entries()) {
    const r = parseReadingLine(`${line}\r\n`);
    assert(!isParseError(r), `${line}: ${isParseError(r) ? r.message : ""}`);
    assertEquals(r.seq, 100 + i, "in order, none lost");
  }
  const w = cb();
  port.write("CAL,1\r\n", w.fn);
  assertEquals(await w.p, null);
  const d = cb();
  port.drain(d.fn);
  assertEquals(await d.p, null);
  await until(
    "the sensor got our line",
    () => new TextDecoder().decode(sensor.received()) === "CAL,1\r\n",
  );
  const closed = once<[Error | null]>(port, "close");
  const c = cb();
  port.close(c.fn);
  assertEquals(await c.p, null);
  assertEquals((await closed)[0], null, "close() → 'close' with null");
  assert(!port.isOpen);
});

Deno.test("writes made before 'open' wait for it; write(data, encoding, cb); update(); flush()", async () => {
  await using pair = await startPtyPair();
  const port = new SerialPort({ path: pair.port, baudRate: 115200 });
  const w = cb();
  port.write("deadbeef", "hex", w.fn); // queued while opening
  port.write([0x0d, 0x0a]);
  assertEquals(await w.p, null);
  assertEquals([...await pair.waitReceived(6)], [0xde, 0xad, 0xbe, 0xef, 0x0d, 0x0a]);
  const u = cb();
  port.update({ baudRate: 57600 }, u.fn);
  assertEquals(await u.p, null);
  assertEquals(port.baudRate, 57600);
  const f = cb();
  port.flush(f.fn);
  assertEquals(await f.p, null);
  const closed = once(port, "close");
  port.close();
  await closed;
});

Deno.test("modem lines on a pty: the error says the device has none", async () => {
  await using pair = await startPtyPair();
  const port = new SerialPort({ path: pair.port, baudRate: 9600 });
  await once(port, "open");
  const s = cb();
  port.set({ dtr: false }, s.fn);
  const err = await s.p;
  assert(err instanceof SerialError, String(err));
  assertMatch(
    err.message,
    /cannot set the modem lines \((ENOTTY|EINVAL)\): this device does not support it/,
  );
  assert(port.isOpen, "a refused ioctl does not close the port");
  const closed = once(port, "close");
  port.close();
  await closed;
});

Deno.test("unplug while reading: 'close' with a disconnected error; reopen after replug fails clearly", async () => {
  const pair = await startPtyPair();
  const port = new SerialPort({ path: pair.port, baudRate: 9600 });
  const errors: Error[] = [];
  port.on("error", (e: Error) => errors.push(e));
  try {
    await once(port, "open");
    const got: string[] = [];
    port.on("data", (b: Uint8Array) => got.push(new TextDecoder().decode(b)));
    await pair.send("abc");
    await until("data", () => got.join("") === "abc");
    const closed = once<[SerialError]>(port, "close");
    await pair.unplug(); // mid-read: the port's poll is waiting
    const [err] = await closed;
    assert(err instanceof SerialError, String(err));
    assertEquals(err.disconnected, true);
    assertEquals(err.kind, "hangup");
    assertMatch(err.message, /the device went away/);
    assert(!port.isOpen);
    assertEquals(errors, [], "an unplug is a 'close', not an 'error' (as in serialport)");
    // The links are gone with socat: opening again says so.
    const again = cb();
    port.open(again.fn);
    const e2 = await again.p;
    assert(e2 instanceof SerialError, String(e2));
    assertEquals(e2.kind, "not-found");
    assertMatch(e2.message, /it is not plugged in/);
  } finally {
    await pair.stop();
  }
});

Deno.test("errors without a callback go to 'error'; a throwing 'data' listener does not stop the port", async () => {
  await using pair = await startPtyPair();
  const errors: Error[] = [];
  const port = new SerialPort({ path: "/dev/ttyNOSUCH9", baudRate: 9600 });
  port.on("error", (e: Error) => errors.push(e));
  await until("the open error", () => errors.length === 1);
  assertMatch(errors[0]!.message, /\/dev\/ttyNOSUCH9: no such device/);
  port.write("x"); // not open: reported, not thrown
  await until("the write error", () => errors.length === 2);
  assertMatch(errors[1]!.message, /write: the port is not open/);

  const p2 = new SerialPort({ path: pair.port, baudRate: 9600 });
  const errs2: Error[] = [];
  p2.on("error", (e: Error) => errs2.push(e));
  let calls = 0;
  p2.on("data", () => {
    calls++;
    throw new Error("listener bug");
  });
  await once(p2, "open");
  await pair.send("1");
  await until("the listener's error", () => errs2.length === 1);
  await pair.send("2");
  await until("a second data event", () => calls === 2);
  assertMatch(errs2[0]!.message, /listener bug/);
  const closed = once(p2, "close");
  p2.close();
  await closed;
});

Deno.test("bad options throw at once, naming the option", () => {
  try {
    new SerialPort({
      path: "/dev/ttyUSB0",
      baudRate: 9600,
      parity: "space" as "none",
      autoOpen: false,
    });
    throw new Error("expected a RangeError");
  } catch (e) {
    assert(e instanceof RangeError, String(e));
    assertMatch(
      e.message,
      /serial port \/dev\/ttyUSB0: parity "space" is not "none", "even" or "odd"/,
    );
  }
});

Deno.test("attack: serial device floods a line with no delimiter — the port and parser stay bounded", async () => {
  await using pair = await startPtyPair();
  const port = new SerialPort({ path: pair.port, baudRate: 115200 });
  const parser = port.pipe(new ReadlineParser({ delimiter: "\r\n", maxLength: 4096 }));
  const lines: string[] = [];
  const errors: Error[] = [];
  let most = 0;
  parser.on("data", (l: string) => lines.push(l));
  parser.on("error", (e: Error) => errors.push(e));
  port.on("data", () => most = Math.max(most, parser.bufferedBytes));
  await once(port, "open");
  const flood = new Uint8Array(2 << 20).fill(0x5a); // 2 MiB, no delimiter
  await pair.send(flood);
  await pair.send("\r\n$TH,1,20.0,40.0*00\r\n");
  await until("the line after the flood", () => lines.length === 1, 30_000);
  assertEquals(lines, ["$TH,1,20.0,40.0*00"]);
  assertEquals(parser.droppedBytes, flood.length);
  assertEquals(errors.length, 1);
  assert(most <= 4096 + 2, `parser held ${most} bytes at most`);
  const closed = once(port, "close");
  port.close();
  await closed;
});
