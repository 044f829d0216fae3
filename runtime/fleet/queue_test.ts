/** The durable offline queue on a real Deno KV file. */
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { memoryLogger } from "../lib/log.ts";
import { DurableQueue, MAX_PAYLOAD, type MessageClass, QueueError } from "./queue.ts";
import { removeDir } from "../testing/fleet_kit.ts";

const text = (s: string) => () => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

async function withQueue(
  maxMessages: number,
  run: (open: () => Promise<{ queue: DurableQueue; kv: Deno.Kv }>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-queue-" });
  const opened: { queue: DurableQueue; kv: Deno.Kv }[] = [];
  try {
    await run(async () => {
      const kv = await Deno.openKv(`${dir}/fleet.kv`);
      const queue = await DurableQueue.open(kv, { maxMessages, log: memoryLogger() });
      opened.push({ queue, kv });
      return { queue, kv };
    });
  } finally {
    for (const { queue, kv } of opened) {
      await queue.close();
      try {
        kv.close();
      } catch { /* the test closed it */ }
    }
    await removeDir(dir);
  }
}

const put = (q: DurableQueue, topic: string, cls: MessageClass, body: string) =>
  q.enqueue({ topic, retain: cls === "latest", cls }, text(body));

Deno.test("messages are read in order, removed only when acknowledged, and survive a reopen", async () => {
  await withQueue(100, async (open) => {
    const { queue, kv } = await open();
    const seqs = await Promise.all([
      put(queue, "t/events", "keep", "e0"),
      put(queue, "t/health", "sample", "h1"),
      put(queue, "t/events", "keep", "e2"),
    ]);
    assertEquals(seqs, [0, 1, 2]);
    assertEquals(queue.committedSeq, 2);
    const all = await queue.read(-1, 10);
    assertEquals(all.map((m) => [m.seq, m.topic, decode(m.payload)]), [
      [0, "t/events", "e0"],
      [1, "t/health", "h1"],
      [2, "t/events", "e2"],
    ]);
    assertEquals((await queue.read(0, 1)).map((m) => m.seq), [1]);
    queue.ack(0);
    await queue.close();
    kv.close();

    const again = await open();
    const left = await again.queue.read(-1, 10);
    assertEquals(
      left.map((m) => decode(m.payload)),
      ["h1", "e2"],
      "acked e0 is gone, the rest stays",
    );
    assertEquals(await put(again.queue, "t/events", "keep", "e3"), 3, "seq keeps counting");
  });
});

Deno.test("a full queue drops the oldest health samples first and keeps events", async () => {
  await withQueue(5, async (open) => {
    const { queue } = await open();
    for (
      const [cls, body] of [
        ["keep", "e0"],
        ["sample", "h1"],
        ["sample", "h2"],
        ["keep", "e3"],
        ["sample", "h4"],
        ["keep", "e5"],
        ["keep", "e6"],
      ] as const
    ) {
      await put(queue, cls === "keep" ? "t/events" : "t/health", cls, body);
    }
    const left = (await queue.read(-1, 10)).map((m) => decode(m.payload));
    assertEquals(left, ["e0", "e3", "h4", "e5", "e6"]);
    assertEquals(queue.stats().dropped, 2);
    // With no sample left, the oldest message of any kind goes.
    await put(queue, "t/events", "keep", "e7");
    await put(queue, "t/events", "keep", "e8");
    assertEquals((await queue.read(-1, 10)).map((m) => decode(m.payload)), [
      "e3",
      "e5",
      "e6",
      "e7",
      "e8",
    ]);
  });
});

Deno.test("a newer 'latest' message replaces the queued one of its topic", async () => {
  await withQueue(100, async (open) => {
    const { queue } = await open();
    await put(queue, "t/fingerprint", "latest", "fp1");
    await put(queue, "t/events", "keep", "e");
    await put(queue, "t/fingerprint", "latest", "fp2");
    await put(queue, "t/config/reported", "latest", "r1");
    const left = await queue.read(-1, 10);
    assertEquals(left.map((m) => decode(m.payload)), ["e", "fp2", "r1"]);
    assertEquals(left.map((m) => m.retain), [false, true, true]);
    assertEquals(queue.stats().superseded, 1);
  });
});

Deno.test("large payloads are split over KV values and put together again; too large is refused", async () => {
  await withQueue(100, async (open) => {
    const { queue, kv } = await open();
    const big = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31 + (i >> 9)) & 0xff);
    await queue.enqueue({ topic: "t/snapshot/1", retain: false, cls: "keep" }, () => big);
    const empty = await queue.enqueue(
      { topic: "t/empty", retain: false, cls: "keep" },
      () => new Uint8Array(),
    );
    await queue.close();
    kv.close();
    const again = await open();
    const [read, zero] = await again.queue.read(-1, 10);
    assertEquals(read?.payload, big);
    assertEquals([zero?.seq, zero?.payload.byteLength], [empty, 0]);
    const err = await assertRejects(
      () =>
        again.queue.enqueue(
          { topic: "t/x", retain: false, cls: "keep" },
          () => new Uint8Array(MAX_PAYLOAD + 1),
        ),
      QueueError,
    );
    assert(err.message.includes(`at most ${MAX_PAYLOAD} bytes`), err.message);
  });
});

Deno.test("10,000 messages: one batched write, read back in order after a reopen", async () => {
  await withQueue(10_000, async (open) => {
    const { queue, kv } = await open();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => put(queue, "t/events", "keep", `event ${i}`)),
    );
    const writeMs = performance.now() - t0;
    // Batched: 2 mutations a message, at most 900 in one commit, so 23 commits; one a message
    // would be 10,000. Wall time only as a sanity bound: a loaded CI box took 11 s once.
    const commits = queue.stats().commits;
    assert(commits <= 30, `10,000 messages took ${commits} commits`);
    await queue.close();
    kv.close();
    const t1 = performance.now();
    const again = await open();
    const openMs = performance.now() - t1;
    let after = -1;
    let n = 0;
    for (;;) {
      const batch = await again.queue.read(after, 500);
      if (batch.length === 0) break;
      for (const m of batch) {
        assertEquals(decode(m.payload), `event ${n++}`);
        again.queue.ack(m.seq);
      }
      after = batch.at(-1)?.seq ?? after;
    }
    assertEquals(n, 10_000);
    await again.queue.flush();
    assertEquals(again.queue.stats().messages, 0);
    assert(writeMs < 60_000 && openMs < 60_000, `write ${writeMs} ms, reopen ${openMs} ms`);
  });
});
