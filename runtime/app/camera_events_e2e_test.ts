/**
 * The real daemon, a real Mosquitto and the virtual camera (its own process, with credentials):
 * motion raised in the camera lands in the index beside the segments, on the API's event stream,
 * in the timeline's marks and on MQTT as a `camera-event`; the subscription is made again after the
 * camera restarts; and a camera without an events service is marked as such in health.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient } from "../testing/fleet_kit.ts";
import { daemonHttps } from "../testing/https_client.ts";
import { signIn } from "../testing/live_ws_client.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startOnvifService } from "../../hw-tests/sim/onvif_service.ts";
import type { EventRecord } from "../storage/mod.ts";

async function until<T>(what: string, get: () => T | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const isMotion = (active: boolean) => (e: EventRecord) =>
  e.camera === "door" && e.kind === "camera-event" && e.detail.type === "motion" &&
  e.detail.active === active;

Deno.test("camera events: motion in the index, SSE, timeline and MQTT; re-subscribed after a camera restart; a camera without events marked", async () => {
  await using broker = await Mosquitto.start();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  await using cloud = await CloudClient.connect(url, ["nvr/v1/#"]);
  await using cam = await startVirtualCamera({
    codec: "h264",
    width: 160,
    height: 120,
    user: "admin",
    password: "s3cret",
  });
  // The same ONVIF service without events: a camera that has none.
  await using bare = startOnvifService({
    port: 0,
    device: {
      manufacturer: "NVR Sim",
      model: "NoEvents",
      firmwareVersion: "1",
      serialNumber: "SN-NE",
      hardwareId: "HW",
    },
    name: "yard",
    profiles: [],
    credentials: { user: "admin", password: "yard pw" },
    snapshot: () => Promise.resolve(new Uint8Array()),
  });
  await using h = await startHarness({
    mqtt: { url },
    cameras: [
      {
        id: "door",
        url: cam.rtspUrl,
        username: "admin",
        password: "s3cret",
        onvif: { url: cam.onvifUrl },
      },
      {
        id: "yard",
        url: "rtsp://127.0.0.1:9/none",
        onvif: { url: bare.deviceUrl, username: "admin", password: "yard pw" },
      },
    ],
  }, { cameraEvents: { pullTimeoutSec: 1, retryMs: [200, 500] } });
  const events = () => h.daemon.cameraEvents();
  await until("door subscribed", () => events().get("door")?.state === "subscribed");
  await until("yard unsupported", () => events().get("yard")?.state === "unsupported");
  assert(/no ONVIF events service/.test(events().get("yard")?.error ?? ""));

  // The API's event stream, open before the motion.
  const cookie = await signIn(h);
  using https = daemonHttps(h.daemon);
  // Closed in `finally`: an open stream would hold the daemon's stop (and the test) forever.
  const closeStream = new AbortController();
  const sse = await https.fetch("/api/events", { headers: { cookie }, signal: closeStream.signal });
  try {
    await checks();
  } finally {
    closeStream.abort();
    await sse.body?.cancel().catch(() => {});
  }

  async function checks() {
    assertEquals(sse.status, 200);
    let streamed = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of sse.body!) {
        streamed += decoder.decode(chunk, { stream: true });
      }
    })().catch(() => {});
    await until("the stream's ready", () => streamed.includes("event: ready"));

    const t0 = Date.now();
    await cam.raiseEvent("motion", true);
    const on = await until(
      "motion on in the index",
      () => h.index().events(t0 - 1000, Date.now() + 1000, "door").find(isMotion(true)),
    );
    assertEquals(on.detail.topic, "tns1:RuleEngine/CellMotionDetector/Motion");
    assert(Math.abs(on.tsMs - Date.now()) < 60_000, "stamped with the box's clock");
    await cam.raiseEvent("motion", false);
    await until(
      "motion off in the index",
      () => h.index().events(t0 - 1000, Date.now() + 1000, "door").find(isMotion(false)),
    );
    await until("motion on the event stream", () => {
      const lines = streamed.split("\n").filter((l) => l.startsWith("data: "));
      return lines.some((l) => l.includes(`"id":${on.id},`) && l.includes('"camera-event"'));
    });

    // The timeline's marks for the camera.
    const marks = await https.fetch(
      `/api/cameras/door/events?from=${t0 - 1000}&to=${Date.now() + 1000}`,
      { headers: { cookie } },
    );
    const body = await marks.json() as { events: EventRecord[] };
    assert(body.events.some(isMotion(true)), JSON.stringify(body));

    // The fleet, as a camera-event.
    const link = h.daemon.fleet;
    assert(link, "the fleet link started");
    const onMqtt = await cloud.waitFor(
      "camera-event on MQTT",
      (m) =>
        m.find((x) =>
          x.topic === `nvr/v1/${link.deviceId}/events` && x.json?.kind === "camera-event"
        ),
      20_000,
    );
    assertEquals(onMqtt.json?.detail, {
      camera: "door",
      type: "motion",
      active: true,
      topic: "tns1:RuleEngine/CellMotionDetector/Motion",
    });

    // Health on the API marks the camera without events.
    const health = await (await https.fetch("/api/health", { headers: { cookie } })).json() as {
      cameras: { id: string; events?: { state: string } }[];
    };
    assertEquals(health.cameras.find((c) => c.id === "yard")?.events?.state, "unsupported");
    assertEquals(health.cameras.find((c) => c.id === "door")?.events?.state, "subscribed");

    // The camera reboots: it forgets the subscription; the daemon subscribes again.
    const before = events().get("door")!.subscriptions;
    await cam.drop();
    await until("lost", () => events().get("door")?.state === "lost");
    await cam.restore();
    await until(
      "subscribed again",
      () =>
        events().get("door")?.state === "subscribed" &&
        events().get("door")!.subscriptions > before,
    );
    const t1 = Date.now();
    await cam.raiseEvent("motion", true);
    await until(
      "motion after the restart",
      () => h.index().events(t1 - 1, Date.now() + 1000, "door").find(isMotion(true)),
    );

    closeStream.abort();
    await reading;
  }
});
