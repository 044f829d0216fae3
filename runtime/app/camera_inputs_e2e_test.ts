/**
 * The real daemon, a real Mosquitto and the virtual camera (its own process): the camera's digital
 * input (a door contact wired to it), tampering (a hand over the lens) and a line crossing (its
 * line detector: a moment, no state) raised in the camera come through PullPoint into the index
 * beside the segments, on the API's event stream, in the timeline's marks and on MQTT as
 * `camera-event`s, each with its type and state.
 * Motion and the re-subscription after a restart are in camera_events_e2e_test.ts.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient } from "../testing/fleet_kit.ts";
import { daemonHttps } from "../testing/https_client.ts";
import { signIn } from "../testing/live_ws_client.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { INPUT_TOPIC, LINE_TOPIC, TAMPER_TOPIC } from "../../hw-tests/sim/onvif_events.ts";
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

const is = (type: string, active: boolean | null) => (e: EventRecord) =>
  e.camera === "gate" && e.kind === "camera-event" && e.detail.type === type &&
  e.detail.active === active && e.detail.initial === undefined;

Deno.test("camera events: a digital input, tampering and a line crossing from the camera in the index, SSE, timeline and MQTT", async () => {
  await using broker = await Mosquitto.start();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  await using cloud = await CloudClient.connect(url, ["nvr/v1/+/events"]);
  await using cam = await startVirtualCamera({
    codec: "h264",
    width: 160,
    height: 120,
    user: "admin",
    password: "s3cret",
  });
  await using h = await startHarness({
    mqtt: { url },
    cameras: [{
      id: "gate",
      url: cam.rtspUrl,
      username: "admin",
      password: "s3cret",
      onvif: { url: cam.onvifUrl },
    }],
  }, { cameraEvents: { pullTimeoutSec: 1, retryMs: [200, 500] } });
  await until("subscribed", () => h.daemon.cameraEvents().get("gate")?.state === "subscribed");

  const cookie = await signIn(h);
  using https = daemonHttps(h.daemon);
  // Closed in `finally`: an open stream would hold the daemon's stop (and the test) forever.
  const closeStream = new AbortController();
  const sse = await https.fetch("/api/events", { headers: { cookie }, signal: closeStream.signal });
  try {
    assertEquals(sse.status, 200);
    let streamed = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of sse.body!) streamed += decoder.decode(chunk, { stream: true });
    })().catch(() => {});
    await until("the stream's ready", () => streamed.includes("event: ready"));

    const t0 = Date.now();
    const indexed = (type: string, active: boolean | null) =>
      until(
        `${type} ${active === null ? "" : active ? "on" : "off"} in the index`,
        () => h.index().events(t0 - 1000, Date.now() + 1000, "gate").find(is(type, active)),
      );
    const link = h.daemon.fleet;
    assert(link, "the fleet link started");

    // Input and tampering have a state (on, then off); a line crossing is a moment: ONVIF's
    // LineDetector/Crossed is no property, it carries only the id of what crossed.
    for (
      const [simType, type, topic] of [
        ["input", "digital-input", INPUT_TOPIC],
        ["tampering", "tampering", TAMPER_TOPIC],
        ["line-crossing", "line-crossing", LINE_TOPIC],
      ] as const
    ) {
      const stateful = type !== "line-crossing";
      await cam.raiseEvent(simType, true);
      const on = await indexed(type, stateful ? true : null);
      assertEquals(on.detail.topic, topic);
      if (stateful) {
        await cam.raiseEvent(simType, false);
        await indexed(type, false);
      } else {
        assertEquals(
          (on.detail.source as Record<string, string>).Rule,
          "MyLineDetectorRule",
          "the rule that fired is kept",
        );
      }

      await until(
        `${type} on the event stream`,
        () =>
          streamed.split("\n").some((l) =>
            l.startsWith("data: ") && l.includes(`"id":${on.id},`) && l.includes('"camera-event"')
          ),
      );
      const marks = await https.fetch(
        `/api/cameras/gate/events?from=${t0 - 1000}&to=${Date.now() + 1000}`,
        { headers: { cookie } },
      );
      const body = await marks.json() as { events: EventRecord[] };
      assert(
        body.events.some(is(type, stateful ? true : null)),
        `${type} on the timeline: ${JSON.stringify(body)}`,
      );
      if (stateful) assert(body.events.some(is(type, false)), `${type} off on the timeline`);

      const onMqtt = await cloud.waitFor(
        `${type} on MQTT`,
        (m) =>
          m.find((x) =>
            x.topic === `nvr/v1/${link.deviceId}/events` && x.json?.kind === "camera-event" &&
            (x.json.detail as { type?: string }).type === type
          ),
        20_000,
      );
      assertEquals(onMqtt.json?.detail, {
        camera: "gate",
        type,
        active: stateful ? true : null,
        topic,
      });
    }

    closeStream.abort();
    await reading;
  } finally {
    closeStream.abort();
    await sse.body?.cancel().catch(() => {});
  }
});
