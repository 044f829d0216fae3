/**
 * The console's less travelled paths on a real Mosquitto with simulated boxes (the daemon's real
 * fleet link): a command some boxes never answer, the registry's slot and lastSeen, a late Will
 * that must not win over a newer online state, tags from an inventory and the `prefix*` selector.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { waitUntil } from "../testing/fleet_kit.ts";
// @ts-types="../fleet/mqtt_types.d.ts"
import mqtt from "npm:mqtt@5.16.0";
import { deviceTopics } from "../fleet/schema.ts";
import { parseSelector, RegistryError } from "./registry.ts";
import { runRollout } from "./rollout.ts";
import { startFleetFixture } from "./fleet_fixture.ts";

const BUNDLE = {
  url: "https://updates.example.com/nvr-1.1.0.raucb",
  sha256: "b".repeat(64),
  size: 1000,
  version: "1.1.0",
};

Deno.test("console: a command to boxes that never answer ends at its timeout, counted as no answer", async () => {
  await using s = await startFleetFixture({ devices: 4, installMs: 100, rebootMs: 50 });
  await s.fleet.boxes[1]!.link.stop(); // gone for good
  s.registry.add("ghost-1"); // known from an inventory, never connected
  const ids = [...s.fleet.boxes.map((b) => b.id), "ghost-1"];
  const started = Date.now();
  const summary = await s.console.command(ids, { cmd: "ping" }, 1_500);
  const took = Date.now() - started;
  assertEquals([summary.requested, summary.ok, summary.failed, summary.timedOut], [5, 3, 0, 2]);
  assertEquals(
    summary.outcomes.filter((o) => o.status === "timeout").map((o) => o.id).sort(),
    ["ghost-1", s.fleet.boxes[1]!.id],
  );
  assert(took >= 1_500 && took < 20_000, `waited its timeout, not forever: ${took} ms`);
});

Deno.test("console: devices shows the slot a box updated into and when it was last seen", async () => {
  await using s = await startFleetFixture({ devices: 2, installMs: 100, rebootMs: 50 });
  const before = Date.now();
  const first = s.registry.get(s.fleet.boxes[0]!.id)!;
  assertEquals(first.slot, null, "no update yet: no slot");
  assert(typeof first.lastSeen === "number" && first.lastSeen <= Date.now(), `${first.lastSeen}`);
  const report = await runRollout(s.console, s.fleet.boxes.map((b) => b.id), {
    id: "r-slot",
    ...BUNDLE,
    waves: [100],
    boxTimeoutMs: 15_000,
    seed: 1,
  });
  assertEquals(report.counts.good, 2);
  await waitUntil(
    "the registry shows the new slot",
    () =>
      s.registry.list().every((r) =>
        r.slot === "rootfs.1" && r.updateState === "good" && r.version === "1.1.0"
      ),
  );
  for (const row of s.registry.list()) {
    assert(row.lastSeen !== null && row.lastSeen >= before, `${row.id} seen since the update`);
  }
});

Deno.test("console: a late Will (older session, or an older boot) never overwrites a newer online state", async () => {
  await using s = await startFleetFixture({ devices: 1 });
  const id = s.fleet.boxes[0]!.id;
  // Every state change of the registry, in order, by a trigger on the real SQLite table.
  s.registry.db.exec(`
    CREATE TEMP TABLE history (id TEXT, state TEXT, bdSeq INTEGER);
    CREATE TEMP TRIGGER track AFTER UPDATE OF state ON devices
      BEGIN INSERT INTO history VALUES (new.id, new.state, new.bdSeq); END;`);
  const online = s.registry.get(id)!;
  assertEquals(online.state, "online");
  const { bootId, bdSeq } = online;
  assert(bootId !== null && bdSeq !== null && bdSeq >= 1);

  const wills = [
    { state: "offline", bootId, bdSeq: bdSeq - 1 }, // the Will of this boot's previous session
    { state: "offline", bootId: "an-older-boot", bdSeq: bdSeq + 5 }, // another boot's Will
  ];
  const seen: string[] = [];
  const stop = s.console.listen((topic, payload) => {
    if (topic === deviceTopics(id).state) seen.push(new TextDecoder().decode(payload));
  });
  const late = await mqtt.connectAsync(s.broker.url, { protocolVersion: 5 });
  try {
    for (const will of wills) {
      // As a broker publishes a Will: retained, QoS 1, on the box's state topic.
      await late.publishAsync(deviceTopics(id).state, JSON.stringify(will), {
        qos: 1,
        retain: true,
      });
    }
    await waitUntil(
      "the console got both Wills",
      () => wills.every((w) => seen.includes(JSON.stringify(w))),
      20_000,
    );
    await s.console.settled();
  } finally {
    stop();
    await late.endAsync();
  }
  const history = s.registry.db.prepare("SELECT state, bdSeq FROM history").all() as {
    state: string;
    bdSeq: number;
  }[];
  assertEquals(history.filter((h) => h.state !== "online"), [], "never shown offline");
  const now = s.registry.get(id)!;
  assertEquals([now.state, now.bootId, now.bdSeq], ["online", bootId, bdSeq]);
});

Deno.test("tags: an inventory's labels select boxes (tag=…), `prefix*` selects by id, changes are kept", async () => {
  await using s = await startFleetFixture({ devices: 4, prefix: "shop" });
  const ids = s.registry.addInventory(
    "# site labels\nshop-0 north,lab\nshop-1 north\nshop-2   # untagged\n",
    "labels.txt",
  );
  assertEquals(ids, ["shop-0", "shop-1", "shop-2"]);
  const north = s.registry.select(parseSelector("tag=north")).map((r) => r.id);
  assertEquals(north, ["shop-0", "shop-1"]);
  assertEquals(s.registry.select(parseSelector("all", ["tag=lab"])).map((r) => r.id), ["shop-0"]);
  // Tag and another key together: both must hold.
  assertEquals(s.registry.select(parseSelector("tag=north,version=9")).length, 0);
  // A command to the tagged boxes reaches exactly them.
  const summary = await s.console.command(north, { cmd: "ping" }, 20_000);
  assertEquals(summary.outcomes.map((o) => [o.id, o.status]), [["shop-0", "ok"], ["shop-1", "ok"]]);

  s.registry.changeTags(["shop-1", "shop-3"], ["south"], ["north"]);
  assertEquals(s.registry.select(parseSelector("tag=north")).map((r) => r.id), ["shop-0"]);
  assertEquals(s.registry.select(parseSelector("tag=south")).map((r) => r.id), [
    "shop-1",
    "shop-3",
  ]);
  // Live traffic does not touch them: a box's state or health leaves its tags alone.
  await s.fleet.boxes[1]!.link.publishHealthNow();
  await waitUntil("health taken", () => s.console.received > 0);
  await s.console.settled();
  assertEquals(s.registry.get("shop-1")?.tags, "south");

  assertEquals(s.registry.select(parseSelector("shop-1*,shop-3")).map((r) => r.id), [
    "shop-1",
    "shop-3",
  ]);
  assertEquals(s.registry.select(parseSelector("shop-*")).length, 4);
  for (
    const [text, want] of [
      ["shop-0 a b", "labels.txt line 1"],
      ["shop-0 bad=tag", "tag 'bad=tag'"],
      ["not a/device", "labels.txt line 1"],
    ] as const
  ) {
    let message = "";
    try {
      s.registry.addInventory(text, "labels.txt");
    } catch (err) {
      assert(err instanceof RegistryError);
      message = err.message;
    }
    assert(message.includes(want), `${text}: ${message}`);
  }
});
