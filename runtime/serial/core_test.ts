// The promise-based core against socat pseudo-terminals: settings that took (checked with stty),
// bytes both ways, large writes with drain, unplug, errors that say what to do, an event loop
// that keeps running while a read waits. Run: deno test -A --trace-leaks runtime/serial/core_test.ts
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startPtyPair, sttyAll } from "../testing/pty_pair.ts";
import { openSerial, type SerialOptions } from "./core.ts";
import { SerialError } from "./errors.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

/** Reads until `n` bytes came or the deadline passes. */
async function readBytes(
  port: { read(): Promise<Uint8Array | null> },
  n: number,
  ms = 10_000,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const until = performance.now() + ms;
  while (total < n) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const chunk = await Promise.race([
      port.read(),
      new Promise<"timeout">((r) =>
        timer = setTimeout(() => r("timeout"), until - performance.now())
      ),
    ]);
    clearTimeout(timer);
    if (chunk === "timeout") throw new Error(`read ${total} of ${n} bytes within ${ms} ms`);
    if (chunk === null) break;
    chunks.push(chunk);
    total += chunk.length;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

// Linux ptys force CS8 and no parity (the kernel's pty_set_termios): there stty shows cs8 -parenb
// whatever was asked. That data bits and parity are encoded right is checked on the termios buffer
// in termios_test.ts, and on the wire by hw-tests/board/serial_usb_check.ts.
const FRAMINGS: { opts: SerialOptions; stty: RegExp[] }[] = [
  {
    opts: { baudRate: 1200, dataBits: 7, parity: "even", stopBits: 1 },
    stty: [/speed 1200 baud/, /-cstopb/, /-crtscts/],
  },
  {
    opts: { baudRate: 9600 },
    stty: [/speed 9600 baud/, /(^|\s)cs8/, /-parenb/, /-cstopb/, /-crtscts/, /-ixon/, /-ixoff/],
  },
  {
    opts: { baudRate: 19200, dataBits: 8, parity: "odd", stopBits: 2 },
    stty: [/speed 19200 baud/, /(^|\s)cstopb/],
  },
  {
    opts: { baudRate: 57600, dataBits: 5, rtscts: true },
    stty: [/speed 57600 baud/, /(^|\s)crtscts/],
  },
  {
    opts: { baudRate: 115200, xon: true, xoff: true },
    stty: [/speed 115200 baud/, /(^|\s)ixon/, /(^|\s)ixoff/, /-crtscts/],
  },
  {
    opts: { baudRate: 230400, dataBits: 6, stopBits: 2 },
    stty: [/speed 230400 baud/, /(^|\s)cstopb/],
  },
  { opts: { baudRate: 921600 }, stty: [/speed 921600 baud/, /(^|\s)cs8/] },
];

Deno.test("baud rates and framings take (stty agrees), and bytes pass both ways at each", async () => {
  await using pair = await startPtyPair();
  let sent = 0;
  for (const { opts, stty } of FRAMINGS) {
    const port = await openSerial(pair.port, opts);
    try {
      const seen = await sttyAll(pair.port);
      for (const re of stty) assertMatch(seen, re, `${JSON.stringify(opts)}: ${seen}`);
      // raw: no echo, no line editing, no CR/NL translation
      for (
        const re of [/-icanon/, /-echo(\s|$)/, /-icrnl/, /-opost/, /(^|\s)cread/, /(^|\s)clocal/]
      ) {
        assertMatch(seen, re, `${JSON.stringify(opts)}: raw mode: ${seen}`);
      }
      const back = port.attributes();
      assertEquals(back.baudRate, opts.baudRate);
      assertEquals(back.stopBits, opts.stopBits ?? 1);
      assertEquals(back.rtscts, opts.rtscts ?? false);
      assertEquals(back.xon, opts.xon ?? false);

      const msg = `hello at ${opts.baudRate}\r\n`;
      await port.write(msg);
      sent += msg.length;
      const got = await pair.waitReceived(sent);
      assert(text(got).endsWith(msg), text(got));
      await pair.send(`reply ${opts.baudRate}\n\x00\xff`);
      assertEquals(
        text(await readBytes(port, `reply ${opts.baudRate}\n\x00\xff`.length)),
        `reply ${opts.baudRate}\n\x00\xff`,
      );
    } finally {
      await port.close();
    }
  }
});

Deno.test("update() changes the baud rate of an open port", async () => {
  await using pair = await startPtyPair();
  await using port = await openSerial(pair.port, { baudRate: 9600 });
  await port.update({ baudRate: 38400 });
  assertMatch(await sttyAll(pair.port), /speed 38400 baud/);
  assertEquals(port.settings.baudRate, 38400);
  const bad = await rejects(port.update({ baudRate: 12345 }));
  assert(bad instanceof RangeError);
  assertMatch(bad.message, /baudRate 12345 is not a standard rate; use one of .*9600/);
});

Deno.test("a large write goes out whole and in order; drain() resolves after it", async () => {
  await using pair = await startPtyPair();
  await using port = await openSerial(pair.port, { baudRate: 115200 });
  const data = new Uint8Array(1 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
  const w1 = port.write(data);
  const w2 = port.write("tail");
  await port.drain();
  await w1;
  await w2;
  const got = await pair.waitReceived(data.length + 4, 30_000);
  assertEquals(got.length, data.length + 4);
  for (let i = 0; i < data.length; i++) {
    if (got[i] !== data[i]) throw new Error(`byte ${i}: got ${got[i]}, sent ${data[i]}`);
  }
  assertEquals(text(got.subarray(data.length)), "tail");
});

Deno.test("attack: serial device sends faster than the reader reads — bounded buffer, nothing lost", async () => {
  await using pair = await startPtyPair();
  const cap = 128 * 1024;
  await using port = await openSerial(pair.port, { baudRate: 115200, maxBufferedBytes: cap });
  const flood = new Uint8Array(4 << 20);
  for (let i = 0; i < flood.length; i++) flood[i] = (i ^ (i >> 9)) & 0xff;
  let sent = false;
  const sending = pair.send(flood).then(() => sent = true, (e) => e as Error);
  const until = performance.now() + 20_000;
  while (port.bufferedBytes < cap) {
    assert(performance.now() < until, `only ${port.bufferedBytes} bytes buffered in 20 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  // The port stopped reading: the rest waits in the kernel and socat, the device is held back.
  assert(port.bufferedBytes <= cap + 64 * 1024, `holds ${port.bufferedBytes} bytes`);
  assert(!sent, "the device could not push 4 MiB past a reader that does not read");
  const got = await readBytes(port, flood.length, 30_000);
  assertEquals(await sending, true);
  assertEquals(got.length, flood.length);
  for (let i = 0; i < flood.length; i++) {
    if (got[i] !== flood[i]) throw new Error(`byte ${i}: got ${got[i]}, sent ${flood[i]}`);
  }
});

Deno.test("the event loop keeps running while a read waits", async () => {
  await using pair = await startPtyPair();
  await using port = await openSerial(pair.port, { baudRate: 9600 });
  let settled = false;
  const read = port.read().finally(() => settled = true);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    const until = performance.now() + 10_000;
    while (ticks < 20) {
      assert(performance.now() < until, `only ${ticks} timer ticks in 10 s while a read waited`);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert(!settled, "the read is still waiting: nothing was sent");
  } finally {
    clearInterval(timer);
  }
  await pair.send("x");
  assertEquals(text((await read)!), "x");
});

Deno.test("unplug in the middle of a read: bytes before it, then a hang-up error", async () => {
  await using pair = await startPtyPair();
  const port = await openSerial(pair.port, { baudRate: 115200 });
  try {
    await pair.send("before");
    assertEquals(text(await readBytes(port, 6)), "before");
    const pending = rejects(port.read()); // handled from now on: the rejection may come first
    await pair.unplug();
    const err = await pending;
    assert(err instanceof SerialError, String(err));
    assertEquals(err.kind, "hangup");
    assertEquals(err.disconnected, true);
    assertMatch(err.message, new RegExp(`serial port ${pair.port}: the device went away`));
    assertMatch(err.message, /Plug it back in/);
    assertEquals(await port.closed, err);
    assertEquals(port.isOpen, false);
    const w = await rejects(port.write("after"));
    assert(w instanceof SerialError && w.kind === "hangup");
  } finally {
    await port.close();
  }
});

Deno.test("close() ends a pending read with null, rejects later writes, and is idempotent", async () => {
  await using pair = await startPtyPair();
  const port = await openSerial(pair.port, { baudRate: 9600 });
  const pending = port.read();
  await port.close();
  assertEquals(await pending, null);
  assertEquals(await port.closed, undefined);
  const w = await rejects(port.write("x"));
  assert(w instanceof SerialError && w.kind === "closed", String(w));
  assertMatch((w as Error).message, /write: the port is closed/);
  await port.close();
  // and the path can be opened again
  const again = await openSerial(pair.port, { baudRate: 9600 });
  await again.close();
});

Deno.test("no file descriptor left behind: open/close, hang-up and failed opens (/proc/self/fd)", async () => {
  // FFI file descriptors are not Deno resources, so --trace-leaks can't see them: look at
  // /proc/self/fd. Test modules run in parallel inside this same process, so count only
  // descriptors on the files this test opens: the pty's device and /dev/null.
  await using pair = await startPtyPair();
  const device = await Deno.realPath(pair.port);
  const onFile = async (path: string) => {
    let n = 0;
    for await (const e of Deno.readDir("/proc/self/fd")) {
      const to = await Deno.readLink(`/proc/self/fd/${e.name}`).catch(() => "?");
      // The device's node turns "(deleted)" when the pty goes away.
      if (to.replace(/ \(deleted\)$/, "") === path) n++;
    }
    return n;
  };
  const rounds = 50;
  const devBefore = await onFile(device);
  const nullBefore = await onFile("/dev/null");
  for (let i = 0; i < rounds; i++) {
    const port = await openSerial(pair.port, { baudRate: 9600 });
    await port.write("x");
    await port.close();
    await rejects(openSerial("/dev/null", { baudRate: 9600 }));
    await rejects(openSerial("/dev/ttyNOSUCH0", { baudRate: 9600 }));
  }
  assertEquals(await onFile(device), devBefore, "open/close leaves no descriptor on the device");
  // Another module may hold /dev/null for a moment (a child's stdin); a leak would be one a round.
  const nullAfter = await onFile("/dev/null");
  assert(
    nullAfter - nullBefore < rounds,
    `a refused open of /dev/null leaks its descriptor: ${nullBefore} -> ${nullAfter}`,
  );
  const port = await openSerial(pair.port, { baudRate: 9600 });
  assertEquals(await onFile(device), devBefore + 1);
  await pair.unplug();
  assert((await port.closed)?.kind === "hangup");
  assertEquals(await onFile(device), devBefore, "a hang-up closes the port's descriptors too");
});

Deno.test("open errors name the path and say what to do", async (t) => {
  await t.step("no such device", async () => {
    const e = await rejects(openSerial("/dev/ttyNOSUCH0", { baudRate: 9600 }));
    assert(e instanceof SerialError);
    assertEquals(e.kind, "not-found");
    assertMatch(
      e.message,
      /serial port \/dev\/ttyNOSUCH0: no such device \(ENOENT\): it is not plugged in/,
    );
  });
  await t.step("not a tty", async () => {
    const e = await rejects(openSerial("/dev/null", { baudRate: 9600 }));
    assert(e instanceof SerialError);
    assertEquals(e.kind, "not-a-tty");
    assertMatch(e.message, /\/dev\/null: not a serial port \(ENOTTY\)/);
  });
  await t.step("busy: another opener holds it", async () => {
    await using pair = await startPtyPair();
    await using first = await openSerial(pair.port, { baudRate: 9600 });
    const e = await rejects(openSerial(pair.port, { baudRate: 9600 }));
    assert(e instanceof SerialError, String(e));
    assertEquals(e.kind, "busy");
    assertMatch(
      e.message,
      /busy \(EAGAIN\): this process \(a port of its own not closed\) holds it/,
    );
    assert(first.isOpen);
  });
  await t.step(
    "busy: the message names the process that holds the lock (/proc/locks)",
    async () => {
      await using pair = await startPtyPair();
      const holder = new Deno.Command("flock", {
        args: ["-x", pair.port, "sleep", "30"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        const deadline = Date.now() + 10_000;
        let e: unknown;
        for (;;) {
          e = await openSerial(pair.port, { baudRate: 9600 }).then(async (p) => {
            await p.close(); // flock(1) has not taken it yet
            return null;
          }, (err) => err);
          if (e || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert(e instanceof SerialError, `flock(1) never held the port: ${e}`);
        assertMatch(
          e.message,
          new RegExp(`busy \\(EAGAIN\\): process ${holder.pid} \\(flock\\) holds it`),
        );
      } finally {
        holder.kill();
        await holder.status;
      }
    },
  );
  await t.step("permission denied → group dialout", async () => {
    // As root the kernel lets every open through; a file with mode 000 shows it only for others.
    if (Deno.uid() === 0) {
      const { openError } = await import("./errors.ts");
      assertMatch(
        openError("/dev/ttyUSB0", 13).message,
        /permission denied \(EACCES\): add the daemon's user to group dialout/,
      );
      return;
    }
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/tty`, "");
      await Deno.chmod(`${dir}/tty`, 0);
      const e = await rejects(openSerial(`${dir}/tty`, { baudRate: 9600 }));
      assert(e instanceof SerialError && e.kind === "permission", String(e));
      assertMatch(e.message, /group dialout/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("bad options: RangeError naming the option", async () => {
    for (
      const [opts, re] of [
        [{ baudRate: 9601 }, /baudRate 9601 is not a standard rate/],
        [{ baudRate: 9600, dataBits: 9 }, /dataBits 9 is not 5, 6, 7 or 8/],
        [{ baudRate: 9600, parity: "mark" }, /parity "mark" is not "none", "even" or "odd"/],
        [{ baudRate: 9600, stopBits: 1.5 }, /stopBits 1.5 is not 1 or 2/],
      ] as const
    ) {
      const e = await rejects(openSerial("/dev/null", opts as unknown as SerialOptions));
      assert(e instanceof RangeError, String(e));
      assertMatch(e.message, re);
    }
  });
});
