// Real tests of the virtual serial sensor: socat, ptys, Deno.open; no mocks.
// Run with: deno test -A --trace-leaks hw-tests/sim/serial_sensor_test.ts
import assert from "node:assert/strict";
import { startSerialSensor } from "./serial_sensor.ts";
import type { SerialSensor, SerialSensorOptions } from "./serial_sensor.ts";
import {
  checksum,
  formatReadingLine,
  isParseError,
  LineSplitter,
  parseReadingLine,
} from "./sensor_protocol.ts";
import type { ParseError, Reading } from "./sensor_protocol.ts";

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reads the device end like a plugin would, splitting lines as they come. */
class DeviceReader {
  readonly lines: string[] = [];
  error: unknown;
  readonly #file: Deno.FsFile;
  readonly #done: Promise<void>;
  #closed = false;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
    this.#done = this.#pump();
  }

  static async open(path: string): Promise<DeviceReader> {
    return new DeviceReader(await Deno.open(path, { read: true }));
  }

  async #pump(): Promise<void> {
    const splitter = new LineSplitter();
    const buf = new Uint8Array(1024);
    try {
      for (;;) {
        const n = await this.#file.read(buf);
        if (n === null) return;
        this.lines.push(...splitter.push(buf.subarray(0, n)));
      }
    } catch (e) {
      this.error = e; // EIO once socat is gone
    }
  }

  parsed(): (Reading | ParseError)[] {
    return this.lines.map(parseReadingLine);
  }

  readings(): Reading[] {
    return this.parsed().filter((r): r is Reading => !isParseError(r));
  }

  // 10 s: the lines cross a socat pty pair (another process); 3 s was tight on a loaded box and
  // a generous deadline costs nothing when the lines come early.
  async waitFor(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!pred()) {
      if (performance.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; lines so far: ${JSON.stringify(this.lines)}`,
        );
      }
      await delay(10);
    }
  }

  /** Call after the sensor stopped: the pending read then ends with EIO. Idempotent. */
  async close(): Promise<void> {
    await this.#done;
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}

/** Runs `body` with a sensor and a reader on its device end; always cleans up, in order. */
async function withSensor(
  opts: SerialSensorOptions,
  body: (sensor: SerialSensor, reader: DeviceReader) => Promise<void>,
): Promise<void> {
  const sensor = await startSerialSensor(opts);
  let reader: DeviceReader | undefined;
  try {
    reader = await DeviceReader.open(sensor.devicePath);
    await body(sensor, reader);
  } finally {
    await sensor.stop(); // kills socat first, so the reader's pending read ends
    await reader?.close();
  }
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Processes whose command line mentions `needle`. */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).replaceAll("\0", " ");
      if (cmd.includes(needle)) pids.push(Number(e.name));
    } catch { /* process ended meanwhile */ }
  }
  return pids;
}

Deno.test("readings arrive in order, complete, with valid checksums", async () => {
  await withSensor({ intervalMs: 50, firstSeq: 7, seed: 3 }, async (sensor, reader) => {
    assert.equal(sensor.intervalMs, 50);
    assert.equal(
      await Deno.realPath(sensor.devicePath).then((p) => p.startsWith("/dev/pts/")),
      true,
    );
    await reader.waitFor("6 lines", () => reader.lines.length >= 6);
    const parsed = reader.parsed();
    for (const [i, line] of reader.lines.entries()) {
      assert.ok(line.endsWith("\r\n"), `line ${i} ends with CRLF: ${JSON.stringify(line)}`);
      const p = parsed[i]!;
      assert.ok(
        !isParseError(p),
        `line ${i} parses: ${JSON.stringify(line)} ${isParseError(p) ? p.message : ""}`,
      );
      // independent checksum check
      const m = /^\$(.*)\*([0-9A-F]{2})\r\n$/.exec(line);
      assert.ok(m, line);
      assert.equal(parseInt(m[2]!, 16), checksum(m[1]!));
      assert.equal(p.seq, 7 + i, "consecutive sequence numbers from firstSeq");
      assert.ok(
        p.temperatureC > 15 && p.temperatureC < 28,
        `temperature near 21.5: ${p.temperatureC}`,
      );
      assert.ok(p.humidity > 30 && p.humidity < 60, `humidity near 45: ${p.humidity}`);
    }
    // smooth drift: small steps between consecutive readings
    const rs = reader.readings();
    for (let i = 1; i < rs.length; i++) {
      assert.ok(Math.abs(rs[i]!.temperatureC - rs[i - 1]!.temperatureC) < 0.5);
      assert.ok(Math.abs(rs[i]!.humidity - rs[i - 1]!.humidity) < 2);
    }
    assert.ok(sensor.readingsSent >= 6);
    assert.equal(sensor.readingsSkipped, 0);
  });
});

Deno.test("setValues sets the next readings; values() reports them", async () => {
  await withSensor(
    { intervalMs: 40, drift: false, initial: { temperatureC: 20, humidity: 40 } },
    async (s, r) => {
      await r.waitFor("a first reading", () => r.readings().length >= 1);
      assert.deepEqual(r.readings()[0], { seq: 0, temperatureC: 20, humidity: 40 });
      s.setValues({ temperatureC: -12.5 });
      s.setValues({ humidity: 80.4 });
      assert.deepEqual(s.values(), { temperatureC: -12.5, humidity: 80.4 });
      const isNew = (x: Reading) => x.temperatureC === -12.5 && x.humidity === 80.4;
      await r.waitFor(
        "2 readings with the new values",
        () => r.readings().filter(isNew).length >= 2,
      );
      const rs = r.readings();
      const first = rs.findIndex(isNew);
      assert.ok(
        rs.slice(0, first).every((x) => x.temperatureC === 20 && x.humidity === 40),
      );
      assert.ok(rs.slice(first).every(isNew), "no drift when drift: false");
      // clamped to the protocol's range
      s.setValues({ temperatureC: 500, humidity: -3 });
      assert.deepEqual(s.values(), { temperatureC: 125, humidity: 0 });
      assert.throws(() => s.setValues({ temperatureC: NaN }), RangeError);
    },
  );
});

Deno.test("injected garbage reads as garbage; the stream recovers", async () => {
  await withSensor({ intervalMs: 50 }, async (sensor, reader) => {
    await reader.waitFor("2 readings", () => reader.readings().length >= 2);
    sensor.pause();
    const before = reader.lines.length; // more may still be in flight; counted below
    const wrongChecksum = formatReadingLine({ seq: 1000, temperatureC: 20, humidity: 50 }).replace(
      /\*([0-9A-F]{2})/,
      (_m, cs: string) =>
        `*${(parseInt(cs, 16) ^ 0x01).toString(16).toUpperCase().padStart(2, "0")}`,
    );
    await sensor.sendRaw("hello world\r\n");
    await sensor.sendRaw(wrongChecksum);
    await sensor.sendRaw(Uint8Array.of(0x00, 0xff, 0x80, 0x1b, 0x7f, 0x0d, 0x0a));
    await sensor.sendRaw("$TH," + "9".repeat(1000) + "*00\r\n"); // over-long
    await sensor.sendRaw("$TH,12,2"); // partial: glued to the next reading
    sensor.resume();
    await reader.waitFor("2 readings after the garbage", () => {
      const rs = reader.parsed();
      return rs.length > before && rs.slice(before).filter((x) => !isParseError(x)).length >= 2;
    });

    const parsed = reader.parsed();
    const errors = parsed.filter(isParseError);
    assert.deepEqual(
      errors.map((e) => e.error).slice(0, 4),
      ["no-start", "checksum-mismatch", "non-ascii", "too-long"],
      JSON.stringify(reader.lines),
    );
    assert.equal(errors.length, 5, JSON.stringify(reader.lines));
    assert.ok(errors[4]!.line.startsWith("$TH,12,2$TH,"), errors[4]!.line);
    assert.ok(
      errors[3]!.line.length > 82 && errors[3]!.line.length < 1000,
      "over-long line cut by the splitter",
    );
    // the reading swallowed by the partial line is the only gap in the sequence
    const seqs = parsed.filter((x): x is Reading => !isParseError(x)).map((x) => x.seq);
    const gaps = seqs.slice(1).map((s, i) => s - seqs[i]!);
    assert.deepEqual(gaps.filter((g) => g !== 1), [2], `sequence ${seqs}`);
  });
});

Deno.test("pause makes the sensor silent; resume continues the sequence", async () => {
  await withSensor({ intervalMs: 50 }, async (sensor, reader) => {
    await reader.waitFor("2 readings", () => reader.readings().length >= 2);
    sensor.pause();
    assert.equal(sensor.paused, true);
    await delay(60); // let a write already in flight land
    const heard = reader.lines.length;
    const sent = sensor.readingsSent;
    await delay(400); // 8 intervals
    assert.equal(reader.lines.length, heard, "no line while paused");
    assert.equal(sensor.readingsSent, sent);
    sensor.resume();
    assert.equal(sensor.paused, false);
    await reader.waitFor("a reading after resume", () => reader.lines.length > heard);
    // Contiguous from the first one heard: the sensor starts before the reader opens the device,
    // so on a loaded machine its reading 0 can go out before anyone listens (seen once: 1, 2, 3).
    const seqs = reader.readings().map((r) => r.seq);
    const first = seqs[0] ?? 0;
    assert.deepEqual(seqs, seqs.map((_, i) => first + i), "no seq lost or repeated across pause");
  });
});

Deno.test("bytes written to the device end are received by the sensor", async () => {
  await withSensor({ intervalMs: 1000 }, async (sensor) => {
    const w = await Deno.open(sensor.devicePath, { write: true });
    try {
      await w.write(new TextEncoder().encode("PING\r\n"));
    } finally {
      w.close();
    }
    const deadline = performance.now() + 2000;
    while (new TextDecoder().decode(sensor.received()) !== "PING\r\n") {
      assert.ok(performance.now() < deadline, "sensor received PING");
      await delay(10);
    }
  });
});

Deno.test("stop kills socat and removes the temp dir; idempotent; await using", async () => {
  let dir = "";
  let pid = 0;
  let reader: DeviceReader | undefined;
  try {
    {
      await using sensor = await startSerialSensor({ intervalMs: 1000 });
      dir = sensor.dir;
      pid = sensor.pid;
      assert.equal(sensor.devicePath, `${dir}/device`);
      assert.equal(sensor.sensorPath, `${dir}/sensor`);
      assert.ok(await pathExists(sensor.devicePath));
      assert.ok(await pathExists(sensor.sensorPath));
      assert.deepEqual(await processesMentioning(dir), [pid], "socat runs");
      assert.ok(sensor.running);
      const r = reader = await DeviceReader.open(sensor.devicePath);
      await r.waitFor("the power-up reading", () => r.readings().length === 1);
      await sensor.stop();
      await sensor.stop(); // idempotent, and `await using` calls it a third time
      assert.equal(sensor.running, false);
      await assert.rejects(sensor.sendRaw("x"), /stopped/);
    }
    await reader.close();
    assert.ok(reader.error instanceof Error, "the device end hung up");
    assert.equal(await pathExists(dir), false, "temp dir removed");
    assert.deepEqual(await processesMentioning(dir), [], "no socat left");
    assert.equal(await pathExists(`/proc/${pid}`), false, "socat reaped");
  } finally {
    await reader?.close(); // no-op when already closed
  }
});

Deno.test("a given dir is kept; only the links are removed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-serial-sensor-test-" });
  try {
    const sensor = await startSerialSensor({ dir, intervalMs: 1000 });
    assert.equal(sensor.devicePath, `${dir}/device`);
    await sensor.stop();
    assert.ok(await pathExists(dir));
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("start fails with a clear error including socat's stderr", async (t) => {
  await t.step("socat exits early (link dir missing)", async () => {
    const dir = "/nonexistent-nvr-serial-sensor-dir";
    await assert.rejects(startSerialSensor({ dir }), (e: Error) => {
      assert.match(e.message, /socat exited with code \d+ before creating the ptys/);
      assert.match(e.message, /No such file or directory/, "socat's stderr is included");
      return true;
    });
  });
  await t.step("socat missing", async () => {
    await assert.rejects(
      startSerialSensor({ socatPath: "/nonexistent/socat" }),
      /cannot start '\/nonexistent\/socat'/,
    );
  });
  await t.step("socat never creates the links: timeout, child killed", async () => {
    const tmp = await Deno.makeTempDir({ prefix: "nvr-fake-socat-" });
    try {
      const fake = `${tmp}/fake-socat`;
      await Deno.writeTextFile(
        fake,
        "#!/bin/sh\necho 'fake socat: not creating anything' >&2\nexec sleep 29.4321\n",
      );
      await Deno.chmod(fake, 0o755);
      const t0 = performance.now();
      await assert.rejects(
        startSerialSensor({ socatPath: fake, startTimeoutMs: 300 }),
        (e: Error) => {
          assert.match(e.message, /timed out after 300 ms waiting for socat/);
          assert.match(e.message, /fake socat: not creating anything/);
          return true;
        },
      );
      assert.ok(performance.now() - t0 < 2500, "gave up promptly");
      assert.deepEqual(await processesMentioning("sleep 29.4321"), [], "fake socat killed");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
  await t.step("bad options", async () => {
    await assert.rejects(startSerialSensor({ intervalMs: 0 }), RangeError);
    await assert.rejects(startSerialSensor({ firstSeq: -1 }), RangeError);
  });
});
