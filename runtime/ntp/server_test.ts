/**
 * The SNTP server on 127.0.0.1 (a port the kernel picks): a real client (ntpdig, ntpsec's SNTP
 * client) in a network namespace of the test's own, where the server can take port 123, and a
 * hand-made client for what no real client sends (monlist, short, long and bad-version packets,
 * floods). Every wait is bounded.
 */
import { runInOwnNetns } from "../testing/netns.ts";
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { memoryLogger } from "../lib/log.ts";
import { LEAP_UNSYNCHRONISED, NTP_PACKET_BYTES, readTimestamp } from "./packet.ts";
import { type SntpTime, startSntpServer } from "./server.ts";

const TRUSTED: SntpTime = {
  trusted: true,
  stratum: 3,
  refId: "LOCL",
  referenceMs: Date.now() - 60_000,
  rootDispersionMs: 20,
};

/** A client request: version, mode and a transmit timestamp we can find again in the answer. */
function request(version = 4, mode = 3, length = NTP_PACKET_BYTES): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = (version << 3) | mode;
  p[2] = 6; // poll 64 s
  crypto.getRandomValues(p.subarray(40, 48));
  return p;
}

/** An ntpdc-style mode 7 MON_GETLIST_1 request (the monlist amplification probe). */
function monlist(): Uint8Array {
  const p = new Uint8Array(NTP_PACKET_BYTES);
  p.set([0x17, 0x00, 0x03, 0x2a]); // version 2, mode 7; implementation XNTPD, request MON_GETLIST_1
  return p;
}

/** A UDP client socket: sends, and waits a bounded time for an answer (null: none came). */
function client(hostname = "127.0.0.1") {
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  return {
    conn,
    send: (data: Uint8Array, to: Deno.NetAddr) => conn.send(data, to),
    async answer(ms: number): Promise<Uint8Array | null> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), ms));
      const got = conn.receive().then(([d]) => d, () => null);
      try {
        return await Promise.race([got, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    [Symbol.dispose]: () => conn.close(),
  };
}

/**
 * Sends `data` and waits for a known-good probe sent after it to be answered: datagrams on
 * loopback arrive in order, so if the probe's answer comes first nothing answered `data`.
 */
async function answersTo(c: ReturnType<typeof client>, data: Uint8Array, to: Deno.NetAddr) {
  await c.send(data, to);
  const probe = request();
  await c.send(probe, to);
  const got: Uint8Array[] = [];
  for (;;) {
    const a = await c.answer(10_000);
    if (a === null) throw new Error("the probe sent after it was not answered within 10 s");
    if (a.length === NTP_PACKET_BYTES && sameBytes(a.subarray(24, 32), probe.subarray(40, 48))) {
      return got;
    }
    got.push(a);
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function serve(time: () => SntpTime, mono?: () => number) {
  const log = memoryLogger();
  const server = startSntpServer({
    listen: [{ hostname: "127.0.0.1", port: 0 }],
    time,
    log,
    ...(mono ? { mono } : {}),
  });
  return Object.assign(server, { to: server.addrs[0]!, [Symbol.asyncDispose]: server.close });
}

Deno.test("SNTP: a client request gets a 48-byte mode 4 answer from the box's clock, origin = its transmit", async () => {
  await using server = serve(() => TRUSTED);
  using c = client();
  const req = request(3);
  const before = Date.now();
  await c.send(req, server.to);
  const a = await c.answer(10_000);
  const after = Date.now();
  assert(a !== null, "answered");
  assertEquals(a.length, NTP_PACKET_BYTES);
  const view = new DataView(a.buffer, a.byteOffset);
  assertEquals([a[0]! >> 6, (a[0]! >> 3) & 7, a[0]! & 7], [0, 3, 4], "leap 0, version 3, mode 4");
  assertEquals([a[1], a[2]], [3, 6], "stratum 3, the client's poll");
  assertEquals(new TextDecoder().decode(a.subarray(12, 16)), "LOCL");
  assertEquals([...a.subarray(24, 32)], [...req.subarray(40, 48)], "origin");
  const rx = readTimestamp(view, 32);
  const tx = readTimestamp(view, 40);
  assert(rx >= before - 1 && tx <= after + 1 && rx <= tx, `receive ${rx} transmit ${tx}`);
  assert(Math.abs(readTimestamp(view, 16) - TRUSTED.referenceMs) < 1, "reference timestamp");
  assertEquals(view.getUint32(8), Math.round(0.02 * 65536), "root dispersion 20 ms");
});

Deno.test("SNTP: while the box's clock is not believed, the answer is leap 3, stratum 0, INIT, and carries no time", async () => {
  let time: SntpTime = { trusted: false };
  await using server = serve(() => time);
  using c = client();
  const req = request();
  await c.send(req, server.to);
  const a = await c.answer(10_000);
  assert(a !== null, "answered, so the camera keeps polling and syncs soon after the box");
  assertEquals([a[0]! >> 6, a[0]! & 7, a[1]], [LEAP_UNSYNCHRONISED, 4, 0]);
  assertEquals(new TextDecoder().decode(a.subarray(12, 16)), "INIT");
  assertEquals([...a.subarray(32, 48)], new Array(16).fill(0), "receive and transmit are zero");
  assertEquals([...a.subarray(16, 24)], new Array(8).fill(0), "no reference time");
  assertEquals(server.stats.unsynced, 1);
  // The clock becomes believed: the next answer has the time.
  time = TRUSTED;
  await c.send(request(), server.to);
  const b = await c.answer(10_000);
  assertEquals(b && [b[0]! >> 6, b[1]], [0, 3]);
});

Deno.test("attack: NTP amplification — mode 7 monlist request gets no answer", async () => {
  await using server = serve(() => TRUSTED);
  using c = client();
  assertEquals(await answersTo(c, monlist(), server.to), [], "monlist (mode 7)");
  assertEquals(await answersTo(c, request(2, 6), server.to), [], "a mode 6 control request");
  assertEquals(await answersTo(c, request(4, 4), server.to), [], "a server-mode packet");
  assertEquals(await answersTo(c, request(4, 1), server.to), [], "symmetric active");
  assertEquals(server.stats.dropped.mode + server.stats.dropped.version, 4);
  assertEquals(server.stats.answered, 4, "only the probes");
});

Deno.test("attack: malformed NTP packet (short, long, bad version) — dropped, server keeps serving", async () => {
  // Ten seconds pass between reads (a token back for each probe): the limit is not tested here.
  let mono = 0;
  await using server = serve(() => TRUSTED, () => mono += 10_000);
  using c = client();
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["1 byte", new Uint8Array([0x23])],
    ["47 bytes", request(4, 3, 47)],
    ["49 bytes", request(4, 3, 49)],
    ["with a MAC (68 bytes)", request(4, 3, 68)],
    ["1400 bytes", request(4, 3, 1400)],
    ["version 0", request(0)],
    ["version 1", request(1)],
    ["version 2", request(2)],
    ["version 5", request(5)],
    ["version 7", request(7)],
    ["all ones", new Uint8Array(NTP_PACKET_BYTES).fill(0xff)],
  ];
  for (const [what, data] of cases) {
    assertEquals(await answersTo(c, data, server.to), [], what);
  }
  assertEquals(server.stats.dropped, { length: 6, version: 6, mode: 0 });
  assertEquals(server.stats.answered, cases.length, "every probe after them was answered");
});

Deno.test("attack: NTP flood from one source — rate limited, others still answered", async () => {
  // A frozen monotonic clock: no token comes back during the test, so the count is exact.
  await using server = serve(() => TRUSTED, () => 1_000);
  const to = server.to;
  using flooder = client();
  const FLOOD = 100;
  for (let i = 0; i < FLOOD; i++) await flooder.send(request(), to);
  // Another source (127.0.0.2: the same loopback, another address) is answered at once.
  {
    using other = client("127.0.0.2");
    await other.send(request(), to);
    assertEquals((await other.answer(10_000))?.length, NTP_PACKET_BYTES, "the other is answered");
  }
  // The server reads one queue in order: the other's answer means the flood before it was read.
  assertEquals(server.stats.answered, 8 + 1, "the flood's burst of 8, and the other's one");
  assert(server.stats.rateLimited > 0, "the rest of the flood was limited");
  assert(server.stats.rateLimited <= FLOOD - 8, "(fewer only if the kernel dropped some)");
  let answers = 0;
  while (await flooder.answer(200) !== null) answers++;
  assert(answers <= 8, `the flooder got ${answers} answers`);
});

Deno.test("SNTP: a port already taken is named with the setting to change", () => {
  using taken = client();
  const port = (taken.conn.addr as Deno.NetAddr).port;
  let message = "";
  try {
    startSntpServer({
      listen: [{ hostname: "127.0.0.1", port }],
      time: () => TRUSTED,
      log: memoryLogger(),
    });
  } catch (err) {
    message = (err as Error).message;
  }
  assertMatch(message, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(ntp\\.listen\\)`));
});

Deno.test("SNTP: a real client (ntpdig) on port 123 takes the box's time, and refuses it while the box's clock is not believed", async () => {
  type Run = { code: number; stdout: string; stderr: string };
  const r = await runInOwnNetns<{ trusted: Run; unsynced: Run; stats: { answered: number } }>(
    new URL("./_netns_ntpdig.ts", import.meta.url),
    { hint: "ntpdig comes with Debian's ntpsec-ntpdig, which make deps installs" },
  );
  assertEquals(r.trusted.code, 0, `ntpdig took the time: ${JSON.stringify(r.trusted)}`);
  const sample = JSON.parse(r.trusted.stdout) as { offset: number; stratum: number; host: string };
  assertEquals([sample.host, sample.stratum], ["127.0.0.1", 3]);
  assert(Math.abs(sample.offset) < 0.5, `offset ${sample.offset} s against the same clock`);
  assert(
    r.unsynced.code !== 0,
    `ntpdig took no time while unsynced: ${JSON.stringify(r.unsynced)}`,
  );
  assertMatch(r.unsynced.stderr, /stratum 0|leap not in sync|KOD/);
  assertEquals(r.stats.answered, 2, "both were answered: the second said not synchronised");
});
