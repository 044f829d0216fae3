/**
 * The fleet link against a real Mosquitto: birth and Last Will, retained fingerprint, health
 * cadence and significant change, events, analytics consent.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { startFleetLink } from "./link.ts";
import { ANALYTICS_TOPIC, deviceTopics, type HealthData } from "./schema.ts";
import { CloudClient, removeDir, TcpProxy, testLink, waitUntil } from "../testing/fleet_kit.ts";

const topics = deviceTopics("nvr-test-0001");

Deno.test("birth on every connect; an abrupt disconnect makes the broker publish the Last Will", async () => {
  await using broker = await Mosquitto.start();
  using proxy = new TcpProxy(broker.port);
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [topics.state]);
  const { deps } = testLink(proxy.url, dir);
  const link = await startFleetLink(deps);
  try {
    const birth = await cloud.waitFor("birth", (m) => m.find((x) => x.json?.state === "online"));
    assertEquals(birth.json?.version, "0.0.0-test");
    assertMatch(String(birth.json?.bootId), /^[0-9a-f-]{36}$/);
    assertEquals(typeof birth.json?.ts, "number");

    proxy.cut(); // no DISCONNECT: the broker sees the socket die
    const will = await cloud.waitFor(
      "last will",
      (m) => m.find((x) => x.json?.state === "offline"),
    );
    assertEquals(will.json, { state: "offline", bootId: birth.json?.bootId, bdSeq: 1 });

    // The link reconnects by itself and says it is online again, same bootId.
    const again = await cloud.waitFor(
      "second birth",
      (m) => m.filter((x) => x.json?.state === "online")[1],
    );
    assertEquals(again.json?.bootId, birth.json?.bootId);
    assertEquals(birth.json?.bdSeq, 1);
    // The second "online" can be the first birth resent at reconnect (QoS 1, its PUBACK lost in
    // the cut), seen before the link counts the connect: wait for the count, do not race it.
    await waitUntil("the reconnect counted", () => link.status().connects >= 2);

    // A late subscriber sees the retained state.
    await using late = await CloudClient.connect(broker.url, [topics.state]);
    const retained = await late.waitFor("retained state", (m) => m[0]);
    assertEquals([retained.retain, retained.json?.state], [true, "online"]);
  } finally {
    await link.stop();
  }
  // A clean stop says why it went.
  const stopped = await cloud.waitFor(
    "stopped",
    (m) => m.find((x) => x.json?.reason === "stopped"),
  );
  assertEquals(stopped.json?.state, "offline");
  await proxy.close();
  await removeDir(dir);
});

Deno.test("kill(): the socket is dropped as in a crash, so the broker publishes the Will; no reconnect", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [topics.state]);
  const { deps } = testLink(broker.url, dir);
  const link = await startFleetLink(deps);
  const birth = await cloud.waitFor("birth", (m) => m.find((x) => x.json?.state === "online"));
  await link.kill();
  assertEquals(link.status().connected, false);
  // The Will (no reason), not the clean stop's offline message (reason "stopped").
  const will = await cloud.waitFor("last will", (m) => m.find((x) => x.json?.state === "offline"));
  assertEquals(will.json, { state: "offline", bootId: birth.json?.bootId, bdSeq: 1 });
  await link.stop(); // a no-op after kill()
  assertEquals(link.status().connects, 1);
  assertEquals(cloud.messages.filter((x) => x.json?.reason === "stopped").length, 0);
  await removeDir(dir);
});

Deno.test("fingerprint is retained, published on boot and again only when it changes", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  const { deps, hooks } = testLink(broker.url, dir);
  const link = await startFleetLink(deps);
  try {
    // Subscribe only after the broker has it: what arrives then is the retained copy.
    await waitUntil("boot messages delivered", () => link.status().sent >= 2);
    await using first = await CloudClient.connect(broker.url, [topics.fingerprint]);
    const boot = await first.waitFor("fingerprint on boot", (m) => m[0]);
    assertEquals(boot.retain, true, "a late subscriber gets it as a retained message");
    assertEquals(boot.json?.fingerprint, hooks.fingerprint);
    assertEquals(typeof boot.json?.seq, "number");

    await link.publishFingerprintNow(); // unchanged: nothing new
    hooks.fingerprint = { board: { serial: "10000000abcdef01" }, disks: [{ serial: "S3Z9" }] };
    await link.publishFingerprintNow();
    const changed = await first.waitFor("changed fingerprint", (m) => m[1]);
    assertEquals(changed.json?.fingerprint, hooks.fingerprint);
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(first.messages.length, 2, "the unchanged fingerprint was not sent again");

    await using late = await CloudClient.connect(broker.url, [topics.fingerprint]);
    const retained = await late.waitFor("retained fingerprint", (m) => m[0]);
    assertEquals([retained.retain, retained.json?.fingerprint], [true, hooks.fingerprint]);
  } finally {
    await link.stop();
    await removeDir(dir);
  }
});

Deno.test("health: periodic at the configured interval, and at once on a significant change", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [topics.health]);
  const { deps, hooks } = testLink(broker.url, dir, { mqtt: { healthIntervalSeconds: 1 } }, {
    significantChange: (a, b) =>
      Math.abs(Number((a as { cpu: number }).cpu) - Number((b as { cpu: number }).cpu)) >= 50,
  });
  const link = await startFleetLink({
    ...deps,
    timing: { ...deps.timing, changeCheckMs: 100 },
  });
  try {
    const periodic = await cloud.waitFor(
      "4 health messages",
      (m) => m.length >= 4 ? m.slice(0, 4) : undefined,
      8_000,
    );
    for (const h of periodic) {
      assertEquals(h.retain, false);
      assertEquals(h.json?.reason, "periodic");
      assertEquals(h.json?.health, { cpu: 10 });
      assertEquals(h.json?.licence, { state: "valid" });
    }
    // One on boot, then one a second: gaps of about 1000 ms.
    const gaps = periodic.slice(2).map((h, i) =>
      Number(h.json?.ts) - Number(periodic[i + 1]?.json?.ts)
    );
    for (const gap of gaps) assert(gap > 700 && gap < 1400, `gap ${gap} ms, expected ~1000`);

    hooks.health = { cpu: 95 };
    const started = Date.now();
    const change = await cloud.waitFor("change", (m) => m.find((h) => h.json?.reason === "change"));
    assertEquals(change.json?.health, { cpu: 95 });
    assert(change.at - started < 900, `the change went out after ${change.at - started} ms`);

    await link.publishHealthNow();
    await cloud.waitFor("requested", (m) => m.find((h) => h.json?.reason === "request"));
  } finally {
    await link.stop();
    await removeDir(dir);
  }
});

Deno.test("health: a sample slower than the change-check period never starves the periodic one", async () => {
  // A slow box (QEMU TCG in the image test, a loaded Pi, smartctl waking a disk): taking one
  // sample takes longer than the change-check period, so the checks run back to back. Before,
  // a periodic tick that found a check running was skipped, and almost none went out.
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [topics.health]);
  const { deps, hooks } = testLink(broker.url, dir, { mqtt: { healthIntervalSeconds: 1 } }, {
    significantChange: () => false,
  });
  const link = await startFleetLink({
    ...deps,
    health: async () => {
      hooks.healthCalls++;
      await new Promise((r) => setTimeout(r, 300));
      return structuredClone(hooks.health) as HealthData;
    },
    // A check every 10 ms: one starts at most 10 ms after the last ended (busy ~97 % of the time).
    timing: { ...deps.timing, changeCheckMs: 10 },
  });
  try {
    // The boot sample and one about every 1.3 s after it (the period, then the sample running
    // ends): 6 take about 7 s; 20 s is about three times that. Before: one every 4-30 s.
    const periodic = await cloud.waitFor(
      "6 periodic health messages",
      (m) => {
        const p = m.filter((h) => h.json?.reason === "periodic");
        return p.length >= 6 ? p : undefined;
      },
      20_000,
    );
    assertEquals(cloud.messages.filter((h) => h.json?.reason !== "periodic"), []);
    assert(hooks.healthCalls > periodic.length, "change checks ran in between");
  } finally {
    await link.stop();
    await removeDir(dir);
  }
});

Deno.test("events are published in order with their kind and detail", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [topics.events]);
  const { deps } = testLink(broker.url, dir);
  const link = await startFleetLink(deps);
  try {
    await link.publishEvent("camera-down", { camera: "door", reason: "connection refused" });
    await link.publishEvent("recording-gap", {
      camera: "door",
      fromMs: 1000,
      toMs: 5000,
      reason: "camera unreachable",
    });
    await link.publishEvent("disk-fault", { disk: "sda", reason: "SMART: reallocated sectors" });
    await link.publishEvent("suspicious-login", {
      user: "admin",
      address: "192.0.2.7",
      reason: "10 failed passwords in 1 minute",
    });
    await link.publishEvent("licence-change", { from: "valid", to: "grace", reason: "expired" });
    await link.publishEvent("sensor-alarm", { sensor: "door-contact", reason: "open", value: 1 });
    await link.publishEvent("camera-up", { camera: "door" });
    const events = await cloud.waitFor("7 events", (m) => m.length >= 7 ? m : undefined);
    assertEquals(events.map((e) => e.json?.kind), [
      "camera-down",
      "recording-gap",
      "disk-fault",
      "suspicious-login",
      "licence-change",
      "sensor-alarm",
      "camera-up",
    ]);
    const seqs = events.map((e) => Number(e.json?.seq));
    assertEquals(seqs, [...seqs].sort((a, b) => a - b));
    assertEquals(events[0]?.json?.detail, { camera: "door", reason: "connection refused" });
    const bad = await link.publishEvent("nonsense" as "camera-up", { camera: "x" }).then(
      () => null,
      (err: Error) => err,
    );
    assertMatch(String(bad), /unknown event kind 'nonsense'/);
  } finally {
    await link.stop();
    await removeDir(dir);
  }
});

Deno.test("analytics: nothing leaves the box by default; when enabled, counts without the deviceId", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [
    `${ANALYTICS_TOPIC}/#`,
    ANALYTICS_TOPIC,
  ]);
  try {
    const off = testLink(broker.url, `${dir}/off`);
    const quiet = await startFleetLink({
      ...off.deps,
      timing: { ...off.deps.timing, analyticsMs: 100 },
    });
    await new Promise((r) => setTimeout(r, 800));
    await quiet.publishEvent("camera-up", { camera: "door" });
    await quiet.stop();
    assertEquals(quiet.status().analytics, false);
    assertEquals(cloud.messages.length, 0, "analytics were published although disabled");

    const on = testLink(broker.url, `${dir}/on`, { analytics: { enabled: true } });
    const link = await startFleetLink({
      ...on.deps,
      timing: { ...on.deps.timing, analyticsMs: 300 },
    });
    try {
      await link.publishEvent("camera-down", { camera: "door", reason: "gone" });
      const reports = await cloud.waitFor("2 reports", (m) => m.length >= 2 ? m : undefined);
      const first = reports[0];
      assertEquals(first?.topic, ANALYTICS_TOPIC);
      const text = new TextDecoder().decode(first?.payload);
      for (const secret of ["nvr-test-0001", "door", "yard", "10.0.0", "secret"]) {
        assert(!text.includes(secret), `analytics carry ${secret}: ${text}`);
      }
      assertMatch(String(first?.json?.install), /^[0-9a-f]{64}$/);
      assertEquals(reports[1]?.json?.install, first?.json?.install, "stable install id");
      assertEquals(first?.json?.cameras, {
        total: 2,
        enabled: 2,
        rtsp: 2,
        usb: 0,
        h265: 1,
        h264: 1,
      });
      assertEquals(first?.json?.events, { "camera-down": 1 });
      assertMatch(String(first?.json?.day), /^\d{4}-\d{2}-\d{2}$/);
    } finally {
      await link.stop();
    }
  } finally {
    await removeDir(dir);
  }
});

Deno.test("a licence published on `licence` is handed to the licence module, then health reports it", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [topics.health]);
  const installed: unknown[] = [];
  let status = "none";
  const { deps } = testLink(broker.url, dir, {}, {
    installLicence: (licence) => {
      installed.push(licence);
      status = "valid";
      return Promise.resolve();
    },
    licenceStatus: () => ({ state: status }),
  });
  const link = await startFleetLink(deps);
  try {
    await waitUntil("subscribed", () => link.status().subscribed);
    await cloud.publish(topics.licence, JSON.stringify({ payload: "p", signature: "s" }), true);
    const health = await cloud.waitFor(
      "health after the licence",
      (m) => m.find((h) => h.json?.reason === "change"),
    );
    assertEquals(installed, [{ payload: "p", signature: "s" }]);
    assertEquals(health.json?.licence, { state: "valid" });
  } finally {
    await cloud.publish(topics.licence, "", true);
    await link.stop();
    await removeDir(dir);
  }
});
