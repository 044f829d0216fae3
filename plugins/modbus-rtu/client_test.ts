/**
 * The RTU master against the virtual slave (hw-tests/sim/modbus_slave.ts) on a socat pty, opened
 * with runtime/serial over FFI: line settings, t3.5 before each request, timeouts, retries, damaged
 * and late answers, exceptions, the slave unplugged mid-transaction, and garbage on the line.
 *
 * A pty has no wire: the kernel forces 8N1 on it whatever is asked (runtime/serial/core_test.ts),
 * so parity and stop bits count here only in the timing both ends compute from them.
 */
import { assert, assertEquals, assertRejects } from "../../runtime/testing/assert.ts";
import { openSerial } from "../../runtime/serial/mod.ts";
import { type ModbusSlaveOptions, startModbusSlave } from "../../hw-tests/sim/modbus_slave.ts";
import { type ClientOptions, ModbusRtuClient } from "./client.ts";
import { encodeAnswer, type Framing, MAX_ADU, ModbusError, type ReadRequest } from "./frame.ts";

type Options = Omit<ClientOptions, keyof Framing>;

async function session(
  framing: Framing,
  slaveOptions: ModbusSlaveOptions,
  clientOptions: Options,
  body: (
    client: ModbusRtuClient,
    slave: Awaited<ReturnType<typeof startModbusSlave>>,
  ) => Promise<void>,
): Promise<void> {
  await using slave = await startModbusSlave({ ...framing, ...slaveOptions });
  const port = await openSerial(slave.devicePath, framing);
  const client = new ModbusRtuClient(port, { ...framing, ...clientOptions });
  try {
    await body(client, slave);
  } finally {
    await port.close();
    await client.done;
  }
}

/** Bounded wait for a condition (generous: a loaded 2-core machine). */
async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const TH: ReadRequest = { slave: 1, fn: 4, address: 1, count: 2 };
const REGISTERS = { input: { 1: 215, 2: 452 }, holding: { 0x6b: 555, 0x6c: 0, 0x6d: 100 } };

for (
  const framing of [
    { baudRate: 9600, parity: "none", stopBits: 1 },
    { baudRate: 9600, parity: "even", stopBits: 1 },
    { baudRate: 19200, parity: "none", stopBits: 1 },
    { baudRate: 19200, parity: "even", stopBits: 1 },
  ] as const
) {
  const name = `${framing.baudRate} 8${framing.parity[0]!.toUpperCase()}${framing.stopBits}`;
  Deno.test(`client at ${name}: input and holding registers; t3.5 of silence before every request`, async () => {
    await session(framing, REGISTERS, { timeoutMs: 2000, retries: 0 }, async (client, slave) => {
      for (let i = 0; i < 5; i++) {
        slave.setInput(1, 200 + i);
        assertEquals([...await client.read(TH)], [200 + i, 452]);
        assertEquals([...await client.read({ slave: 1, fn: 3, address: 0x6b, count: 3 })], [
          555,
          0,
          100,
        ]);
      }
      const requests = slave.requests();
      const answers = slave.answers();
      assertEquals(requests.length, 10);
      assertEquals(answers.length, 10);
      // One clock (one process): a request arrives no sooner than t3.5 after the answer before it
      // was written (the master measures from when it received it, which is later still).
      for (let i = 1; i < requests.length; i++) {
        const gap = requests[i]!.at - answers[i - 1]!.at;
        assert(gap >= slave.silenceMs, `request ${i} came ${gap.toFixed(2)} ms after an answer`);
      }
      assertEquals(client.stats.failures, 0);
    });
  });
}

Deno.test("client: a silent slave times out after timeoutMs, and is asked 1 + retries times", async () => {
  const framing = { baudRate: 19200, parity: "even", stopBits: 1 } as const;
  await session(framing, REGISTERS, { timeoutMs: 150, retries: 2 }, async (client, slave) => {
    slave.setMode("silent");
    const started = performance.now();
    const err = await assertRejects(() => client.read(TH), ModbusError);
    assertEquals(err.kind, "timeout");
    assertEquals(err.message, "no answer from slave 1 within 150 ms");
    assert(performance.now() - started >= 3 * 150, "three full timeouts");
    assertEquals(slave.requests().length, 3);
    assertEquals(client.stats.retries, 2);
    slave.setMode("normal");
    assertEquals([...await client.read(TH)], [215, 452]);
  });
});

Deno.test("client: answers with a bad CRC, from another slave or of the wrong length are refused and retried", async () => {
  const framing = { baudRate: 9600, parity: "none", stopBits: 1 } as const;
  await session(framing, REGISTERS, { timeoutMs: 500, retries: 1 }, async (client, slave) => {
    for (
      const [mode, kind] of [
        ["bad-crc", "crc"],
        ["wrong-slave", "wrong-slave"],
        ["wrong-length", "wrong-length"],
      ] as const
    ) {
      slave.setMode(mode);
      const before = slave.requests().length;
      const err = await assertRejects(() => client.read(TH), ModbusError);
      assertEquals(err.kind, kind, err.message);
      assertEquals(slave.requests().length - before, 2, `${mode}: asked twice`);
    }
    slave.setMode("normal");
    assertEquals([...await client.read(TH)], [215, 452]);
  });
});

Deno.test("client: an exception answer is reported with its code and not retried", async () => {
  const framing = { baudRate: 9600, parity: "none", stopBits: 1 } as const;
  await session(framing, REGISTERS, { timeoutMs: 500, retries: 2 }, async (client, slave) => {
    const err = await assertRejects(
      () => client.read({ slave: 1, fn: 4, address: 40, count: 2 }),
      ModbusError,
    );
    assertEquals([err.kind, err.exceptionCode], ["exception", 2]);
    assertEquals(
      err.message,
      "slave 1 answered exception 2 (illegal data address) to function 4, registers 40…41",
    );
    assertEquals(slave.requests().length, 1);
  });
});

Deno.test("client: a late answer is dropped, never taken for the next request's", async () => {
  const framing = { baudRate: 9600, parity: "none", stopBits: 1 } as const;
  await session(framing, REGISTERS, { timeoutMs: 100, retries: 0 }, async (client, slave) => {
    slave.setMode("late", { lateMs: 400 });
    const err = await assertRejects(() => client.read(TH), ModbusError);
    assertEquals(err.kind, "timeout");
    slave.setMode("normal");
    slave.setInput(1, 999);
    // The late answer (215) reaches the master between transactions: discarded as noise.
    await until("the late answer sent", () => slave.answers().length === 1);
    await until("the late answer discarded", () => client.stats.discardedBytes >= 9);
    assertEquals([...await client.read(TH)], [999, 452]);
  });
});

Deno.test("client: the slave unplugged mid-transaction ends it at once as closed, not as a timeout", async () => {
  const framing = { baudRate: 9600, parity: "none", stopBits: 1 } as const;
  await session(framing, REGISTERS, { timeoutMs: 60_000, retries: 3 }, async (client, slave) => {
    assertEquals([...await client.read(TH)], [215, 452]);
    slave.setMode("silent");
    const started = performance.now();
    const pending = assertRejects(() => client.read(TH), ModbusError);
    await until("the request at the slave", () => slave.requests().length === 2);
    await slave.unplug();
    const err = await pending;
    assertEquals(err.kind, "closed", err.message);
    assert(performance.now() - started < 30_000, "ended by the hang-up, not the 60 s timeout");
    assert(client.closed !== null);
    assertEquals(slave.requests().length, 2, "a closed port is not retried");
  });
});

Deno.test("client: garbage on the line fails the transaction as noise; the buffer stays one frame", async () => {
  const framing = { baudRate: 19200, parity: "none", stopBits: 1 } as const;
  await session(framing, REGISTERS, { timeoutMs: 300, retries: 1 }, async (client, slave) => {
    // 64 KiB at once, mid-transaction, then a flood at the line's rate.
    slave.setMode("silent");
    const pending = client.read(TH).then(() => null, (e: ModbusError) => e);
    await until("the request at the slave", () => slave.requests().length === 1);
    await slave.sendRaw(new Uint8Array(64 * 1024).fill(0x01));
    const flood = slave.flood(1500);
    const err = await pending;
    assert(err instanceof ModbusError);
    assert(["noise", "wrong-length", "crc", "timeout"].includes(err.kind), err.message);
    await flood;
    // Everything that came is accounted for, none of it held: at most one frame is buffered.
    await until("the garbage read", () => client.stats.discardedBytes >= 64 * 1024 - MAX_ADU);
    slave.setMode("normal");
    assertEquals([...await client.read(TH)], [215, 452]);
  });
});

Deno.test("attack: oversized register count — refused before it is sent, and in a slave's answer", async () => {
  const framing = { baudRate: 9600, parity: "none", stopBits: 1 } as const;
  await session(framing, REGISTERS, { timeoutMs: 2000, retries: 0 }, async (client, slave) => {
    // Asking for more than 125 registers never reaches the line.
    await assertRejects(
      () => client.read({ ...TH, count: 126 }),
      RangeError,
      "count 126 is not a whole number in 1–125",
    );
    await assertRejects(() => client.read({ ...TH, count: 0xffff }), RangeError, "count 65535");
    assertEquals(slave.requests().length, 0);
    slave.setMode("silent");
    const answerWith = async (frame: Uint8Array) => {
      const asked = slave.requests().length;
      const pending = client.read(TH).then(() => null, (e: unknown) => e);
      await until("the request", () => slave.requests().length > asked);
      await slave.sendRaw(frame);
      return await pending;
    };
    // A byte count of 255 claims a 260-byte frame: refused at its third byte, nothing buffered.
    const started = performance.now();
    const huge = await answerWith(Uint8Array.of(1, 4, 255, ...new Array(40).fill(0xaa)));
    assert(huge instanceof ModbusError);
    assertEquals(huge.kind, "wrong-length");
    assertEquals(
      huge.message,
      "answer claims 260 bytes, more than an RTU frame (256); asked 2 registers",
    );
    assert(performance.now() - started < 2000, "refused before the timeout");
    // 125 registers with a good CRC in answer to a read of 2: refused, not read past.
    const regs = Array.from({ length: 125 }, (_, i) => i);
    const many = await answerWith(encodeAnswer(1, 4, regs));
    assert(many instanceof ModbusError);
    assertEquals(many.kind, "wrong-length");
    assertEquals(
      many.message,
      "answer carries 250 bytes in a 255-byte frame; asked 2 registers (4 bytes)",
    );
    slave.setMode("normal");
    assertEquals([...await client.read(TH)], [215, 452]);
  });
});
