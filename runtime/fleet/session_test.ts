/**
 * Sessions at fleet scale (issue 19): bdSeq in state and Will so a late Will never wins, the
 * desired configuration read from its exact retained topic on every connect, and reconnect
 * backoff with full jitter that keeps a fleet-wide reconnect storm under 500 connects/s.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient, removeDir, TcpProxy, testLink, waitUntil } from "../testing/fleet_kit.ts";
import { prng } from "../lib/prng.ts";
import { backoffDelay } from "./connection.ts";
import { DEFAULT_TIMING, startFleetLink } from "./link.ts";
import { deviceTopics, type StateMessage, stateSupersedes } from "./schema.ts";

const topics = deviceTopics("nvr-test-0001");

Deno.test("bdSeq: a late Will of an older session never overwrites the newer online state", async () => {
  await using broker = await Mosquitto.start();
  using proxy = new TcpProxy(broker.port);
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-bdseq-" });
  await using cloud = await CloudClient.connect(broker.url, [topics.state]);
  const { deps } = testLink(proxy.url, dir);
  const link = await startFleetLink(deps);
  // What a consumer believes, folding every state message through stateSupersedes.
  let view: StateMessage | undefined;
  const fold = () => {
    view = undefined;
    for (const m of cloud.messages) {
      const s = m.json as StateMessage | undefined;
      if (s && stateSupersedes(view, s)) view = s;
    }
    return view;
  };
  try {
    const first = await cloud.waitFor("birth 1", (m) => m.find((x) => x.json?.bdSeq === 1));
    // Killed and back at once: the Will of session 1, then the birth of session 2.
    proxy.cut();
    await cloud.waitFor(
      "birth 2",
      (m) => m.find((x) => x.json?.state === "online" && x.json?.bdSeq === 2),
    );
    const will1 = cloud.messages.find((x) => x.json?.state === "offline");
    assertEquals(will1?.json, { state: "offline", bootId: first.json?.bootId, bdSeq: 1 });

    // A clustered broker noticing session 1's death late: its Will arrives after birth 2.
    await cloud.publish(topics.state, JSON.stringify(will1?.json), true);
    assertEquals(fold()?.state, "online", "consumers keep the newer online state");
    assertEquals((view as { bdSeq?: number }).bdSeq, 2);
    // The box saw the stale offline and published its birth again: the retained copy is right.
    const repaired = await cloud.waitFor("birth again", (m) => {
      const late = m.findIndex((x) => x.json?.state === "offline" && m.indexOf(x) > 1);
      return late >= 0 && m.slice(late + 1).find((x) => x.json?.state === "online");
    });
    assertEquals(repaired.json?.bdSeq, 2);
    await using fresh = await CloudClient.connect(broker.url, [topics.state]);
    const retained = await fresh.waitFor("retained state", (m) => m[0]);
    assertEquals([retained.json?.state, retained.json?.bdSeq], ["online", 2]);
  } finally {
    await link.stop();
    await proxy.close();
    await removeDir(dir);
  }
  // The clean stop ends session 2 itself: it wins over the online state.
  await cloud.waitFor("stopped", (m) => m.find((x) => x.json?.reason === "stopped"));
  assertEquals([fold()?.state, (view as { bdSeq?: number }).bdSeq], ["offline", 2]);
});

Deno.test("stateSupersedes: newer session wins, a Will ends only its own session", () => {
  const on = (bootId: string, bdSeq: number, ts = 1): StateMessage => ({
    state: "online",
    version: "1.0.0",
    bootId,
    bdSeq,
    ts,
  });
  const off = (bootId: string, bdSeq: number): StateMessage => ({
    state: "offline",
    bootId,
    bdSeq,
  });
  assert(stateSupersedes(undefined, off("a", 1)));
  assert(stateSupersedes(on("a", 1), off("a", 1)), "the Will of this session");
  assert(!stateSupersedes(on("a", 2), off("a", 1)), "a late Will of session 1");
  assert(!stateSupersedes(off("a", 2), on("a", 2)), "a resent birth does not revive its session");
  assert(stateSupersedes(off("a", 1), on("a", 2)));
  assert(!stateSupersedes(on("b", 1, 5), off("a", 7)), "another boot's Will");
  assert(stateSupersedes(on("a", 9, 5), on("b", 1, 6)), "a new boot");
  assert(!stateSupersedes(on("b", 1, 6), on("a", 9, 5)), "an old boot's birth, late");
  assert(stateSupersedes(on("a", 3), { state: "offline" }), "a bare Will (older firmware)");
});

Deno.test("config/desired: read from its exact retained topic on connect; not above the applied version ignored; a rejected one not retried", async () => {
  await using broker = await Mosquitto.start();
  using proxy = new TcpProxy(broker.port);
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-desired-" });
  await using cloud = await CloudClient.connect(broker.url, [topics.configReported]);
  // Published (retained) while the box is not connected.
  await cloud.publish(
    topics.configDesired,
    JSON.stringify({ version: 3, config: { device: { name: "three" } } }),
    true,
  );
  const { deps, hooks } = testLink(proxy.url, dir);
  const link = await startFleetLink(deps);
  try {
    const applied = await cloud.waitFor("v3 reported", (m) => m.find((x) => x.json?.version === 3));
    assertEquals(
      [applied.json?.status, applied.json?.appliedVersion, applied.json?.error],
      ["applied", 3, undefined],
    );
    // Not above the applied one: nothing happens, nothing is reported.
    await cloud.publish(
      topics.configDesired,
      JSON.stringify({ version: 2, config: { device: { name: "two" } } }),
      true,
    );
    // Invalid: rejected once, with the error.
    await cloud.publish(
      topics.configDesired,
      JSON.stringify({ version: 4, config: { http: { listen: "nowhere" } } }),
      true,
    );
    const rejected = await cloud.waitFor(
      "v4 rejected",
      (m) => m.find((x) => x.json?.version === 4),
    );
    assertEquals([rejected.json?.status, rejected.json?.appliedVersion], ["rejected", 3]);
    assert(String(rejected.json?.error).includes("http.listen"), String(rejected.json?.error));
    assertEquals(hooks.applied.length, 1);

    // Reconnect: the retained v4 comes again and is not tried or reported again.
    const reports = cloud.messages.length;
    proxy.cut();
    await waitUntil("reconnected", () => link.status().connects >= 2 && link.status().subscribed);
    await cloud.publish(
      topics.configDesired,
      JSON.stringify({ version: 5, config: { device: { name: "five" } } }),
      true,
    );
    const five = await cloud.waitFor("v5", (m) => m.find((x) => x.json?.version === 5));
    assertEquals(five.json?.status, "applied");
    assertEquals(
      // (QoS 1 may repeat the very same report, same seq, after the cut: that is not a new one.)
      cloud.messages.slice(reports).filter((x) =>
        (x.json?.version === 4 && x.json?.seq !== rejected.json?.seq) || x.json?.version === 2
      ),
      [],
      "v4 (rejected) and v2 (older) are not reported again",
    );
    assertEquals(link.status().configVersion, 5);
  } finally {
    await link.stop();
    await proxy.close();
    await removeDir(dir);
  }
});

Deno.test("backoff: full jitter; 10,000 boxes dropped at once reconnect at under 500/s", () => {
  const backoff = { minMs: DEFAULT_TIMING.reconnectMinMs, maxMs: DEFAULT_TIMING.reconnectMaxMs };
  const random = prng(19);
  // Each delay lies in [0, cap) and spreads over the whole range.
  for (const attempt of [0, 1, 2, 3, 10, 40]) {
    const cap = Math.min(backoff.maxMs, backoff.minMs * 2 ** attempt);
    const delays = Array.from({ length: 2000 }, () => backoffDelay(backoff, attempt, random));
    assert(delays.every((d) => d >= 0 && d < cap), `attempt ${attempt} within [0, ${cap})`);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    assert(Math.abs(mean - cap / 2) < cap * 0.05, `attempt ${attempt}: mean ${mean}, cap ${cap}`);
    assert(Math.min(...delays) < cap * 0.02 && Math.max(...delays) > cap * 0.98);
  }
  // A broker restart drops 10,000 boxes at t=0. Case 1: it is back at once. Case 2: it is down
  // for 90 s, so attempts fail and back off until then. Connects per second, busiest second.
  for (const downMs of [0, 90_000]) {
    const perSecond = new Map<number, number>();
    for (let box = 0; box < 10_000; box++) {
      let t = 0;
      for (let attempt = 0;; attempt++) {
        t += backoffDelay(backoff, attempt, random);
        if (t >= downMs) break;
      }
      const s = Math.floor(t / 1000);
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    }
    const busiest = Math.max(...perSecond.values());
    assert(busiest <= 500, `down ${downMs} ms: ${busiest} connects in the busiest second`);
  }
});
