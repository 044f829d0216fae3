/**
 * The whole daemon against a real Mosquitto and a virtual camera, seen from the cloud's side:
 * birth, fingerprint, health with the camera's stats, events, and commands that reach the
 * recorders (restart, snapshot, apply-config, a rejected config).
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient } from "../testing/fleet_kit.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";

const small = { codec: "h265", width: 320, height: 240, fps: 15 } as const;

Deno.test("the fleet sees the box as it is and steers its recorders", async () => {
  await using broker = await Mosquitto.start();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  await using cloud = await CloudClient.connect(url, ["nvr/v1/#"]);
  await using cam = await startVirtualCamera(small);
  await using h = await startHarness({
    mqtt: { url, healthIntervalSeconds: 2 },
    cameras: [{ id: "door", url: cam.rtspUrl }, { id: "yard", url: cam.rtspUrl }],
  });
  const link = h.daemon.fleet;
  assert(link, "the fleet link started");
  const base = `nvr/v1/${link.deviceId}`;

  const birth = await cloud.waitFor("birth", (m) => m.find((x) => x.topic === `${base}/state`));
  assertEquals(birth.json?.state, "online");
  const fingerprint = await cloud.waitFor(
    "fingerprint",
    (m) => m.find((x) => x.topic === `${base}/fingerprint`),
  );
  assertMatch(JSON.stringify(fingerprint.json), /"door"/);

  await h.until("door", (s) => s.segments >= 1, "door records");
  const health = await cloud.waitFor(
    "health with door's stats",
    (m) =>
      m.find((x) =>
        x.topic === `${base}/health` && /"door"[^}]*"recording"/.test(JSON.stringify(x.json))
      ),
    15_000,
  );
  assert(health.json, "health is JSON");
  await cloud.waitFor(
    "camera-up event",
    (m) => m.find((x) => x.topic === `${base}/events` && x.json?.kind === "camera-up"),
  );

  const answer = async (id: string, command: unknown) => {
    await cloud.publish(`${base}/cmd/${id}`, JSON.stringify(command));
    return (await cloud.waitFor(
      `result of ${id}`,
      (m) => m.find((x) => x.topic === `${base}/cmd-result/${id}`),
      15_000,
    )).json ?? {};
  };

  const restarts = h.camera("door").restarts;
  assertEquals((await answer("r1", { cmd: "restart-camera", camera: "door" })).ok, true);
  await h.until("door", (s) => s.restarts > restarts, "door restarted");

  const snap = await answer("s1", { cmd: "snapshot", camera: "door" });
  assertEquals(snap.ok, true, JSON.stringify(snap));

  const bad = await answer("c1", {
    cmd: "apply-config",
    config: { cameras: [{ id: "door", url: cam.rtspUrl, transport: "carrier-pigeon" }] },
  });
  assertEquals(bad.ok, false);
  assertMatch(JSON.stringify(bad), /cameras\[0\]\.transport/);
  assertEquals(h.daemon.cameras().map((c) => c.id), ["door", "yard"], "the running config stays");

  const good = await answer("c2", {
    cmd: "apply-config",
    config: { cameras: [{ id: "door", url: cam.rtspUrl }] },
  });
  assertEquals(good.ok, true, JSON.stringify(good));
  assertEquals(h.daemon.cameras().map((c) => c.id), ["door"]);
  await h.until("door", (s) => s.state === "recording", "door records after the new config");
});

Deno.test("a plugin's sensor-alarm in the index goes to the fleet as sensor-alarm, named plugin/sensor", async () => {
  const { fleetEvent } = await import("./fleet_wiring.ts");
  const mapped = fleetEvent("sensor-alarm", null, {
    plugin: "w1-temperature",
    sensor: "28-00000a1b2c3d",
    reason: "above 50 °C",
    value: 71,
  });
  if (
    JSON.stringify(mapped) !== JSON.stringify({
      kind: "sensor-alarm",
      detail: { sensor: "w1-temperature/28-00000a1b2c3d", reason: "above 50 °C", value: 71 },
    })
  ) throw new Error(`mapped as ${JSON.stringify(mapped)}`);
});
