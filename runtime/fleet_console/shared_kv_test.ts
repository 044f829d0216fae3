import { assert, assertEquals } from "../testing/assert.ts";
import { prefixedKv } from "./shared_kv.ts";
import { DurableQueue } from "../fleet/queue.ts";
import { anonymousInstallId } from "../fleet/analytics.ts";
import { createLogger } from "../lib/log.ts";

const log = createLogger({ level: "error", sink: () => {} });

Deno.test("shared KV: two boxes' views never see each other's keys", async () => {
  using kv = await Deno.openKv(":memory:");
  const a = prefixedKv(kv, ["sim", "a"]);
  const b = prefixedKv(kv, ["sim", "b"]);
  await a.set(["q", "next"], 5);
  await b.set(["q", "next"], 9);
  assertEquals((await a.get<number>(["q", "next"])).value, 5);
  assertEquals((await a.get<number>(["q", "next"])).key, ["q", "next"]);
  assertEquals((await b.get<number>(["q", "next"])).value, 9);
  await a.atomic().set(["q", "m", 1], "a1").set(["q", "m", 2], "a2").commit();
  await b.atomic().set(["q", "m", 1], "b1").commit();
  const listed = [];
  for await (const e of a.list({ prefix: ["q", "m"] })) listed.push([e.key, e.value]);
  assertEquals(listed, [[["q", "m", 1], "a1"], [["q", "m", 2], "a2"]]);
  const range = [];
  for await (const e of b.list({ start: ["q", "m", 0], end: ["q", "m", 9] })) range.push(e.key);
  assertEquals(range, [["q", "m", 1]]);
  await a.atomic().delete(["q", "m", 1]).commit();
  assertEquals((await a.get(["q", "m", 1])).value, null);
  assertEquals((await b.get(["q", "m", 1])).value, "b1");
  // A check is made against the box's own key.
  const taken = await b.atomic().check({ key: ["q", "next"], versionstamp: null }).set(["x"], 1)
    .commit();
  assert(!taken.ok, "b's ['q','next'] exists, so a check for its absence fails");
});

Deno.test("shared KV: the fleet link's queue and salt work on a view, as in a store of their own", async () => {
  using kv = await Deno.openKv(":memory:");
  const view = prefixedKv(kv, ["sim", "box-1"]);
  const queue = await DurableQueue.open(view, { maxMessages: 10, log });
  for (const n of [1, 2, 3]) {
    await queue.enqueue(
      { topic: `t/${n}`, retain: false, cls: "keep" },
      () => new Uint8Array(70_000).fill(n),
    );
  }
  await queue.close();
  // Another box's queue in the same store starts empty; this box's reopens with its 3.
  const other = await DurableQueue.open(prefixedKv(kv, ["sim", "box-2"]), { maxMessages: 10, log });
  assertEquals(other.stats().messages, 0);
  await other.close();
  const again = await DurableQueue.open(view, { maxMessages: 10, log });
  assertEquals(again.stats().messages, 3);
  assertEquals(again.stats().nextSeq, 3);
  // Read back from the store (two 64,000-byte chunks each, listed by a key range).
  const read = await again.read(-1, 10);
  assertEquals(read.map((m) => [m.topic, m.payload.byteLength, m.payload[69_999]]), [
    ["t/1", 70_000, 1],
    ["t/2", 70_000, 2],
    ["t/3", 70_000, 3],
  ]);
  await again.close();
  const id = await anonymousInstallId(view, "box-1");
  assertEquals(await anonymousInstallId(view, "box-1"), id);
});
