/**
 * The daemon's camera-event keepers without the daemon: against the virtual camera's ONVIF service
 * in this process and a real index file. Events land as `camera-event` rows; the state at
 * subscribing is stored only when something is going on; keepers follow the configuration; the
 * fleet gets a `camera-event` with only the fields it documents.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startOnvifService } from "../../hw-tests/sim/onvif_service.ts";
import { motionEvent } from "../../hw-tests/sim/onvif_events.ts";
import { memoryLogger } from "../lib/log.ts";
import { CAMERA_EVENT_KIND, SegmentIndex } from "../storage/mod.ts";
import { validateConfig } from "../config/mod.ts";
import { CameraEvents } from "./camera_events.ts";
import { fleetEvent } from "./fleet_wiring.ts";

async function until<T>(what: string, get: () => T | undefined | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("camera events: keepers follow the config; events stored as camera-event, the initial quiet state not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-camera-events-" });
  const index = SegmentIndex.open(`${dir}/index.sqlite`);
  await using cam = startOnvifService({
    port: 0,
    device: {
      manufacturer: "NVR Sim",
      model: "SimCam",
      firmwareVersion: "1",
      serialNumber: "SN-1",
      hardwareId: "HW",
    },
    name: "door",
    profiles: [],
    credentials: { user: "admin", password: "pw" },
    snapshot: () => Promise.resolve(new Uint8Array()),
    events: {},
  });
  const events = new CameraEvents({
    index: () => index,
    log: memoryLogger("debug"),
    now: Date.now,
    timing: { pullTimeoutSec: 1, retryMs: [100] },
  });
  try {
    const config = (onvif: boolean, enabled = true) =>
      validateConfig({
        cameras: [
          {
            id: "door",
            url: "rtsp://127.0.0.1:9/main",
            enabled,
            username: "admin",
            password: "pw",
            ...(onvif ? { onvif: { url: cam.deviceUrl } } : {}),
          },
          { id: "lane", url: "rtsp://127.0.0.1:9/lane" },
        ],
      }).cameras;
    events.apply(config(true));
    await until("subscribed", () => events.statuses().get("door")?.state === "subscribed");
    assertEquals([...events.statuses().keys()], ["door"], "no keeper without an ONVIF address");
    cam.raiseEvent(motionEvent(true));
    const row = await until(
      "motion in the index",
      () => index.events(0, Date.now() + 1000, "door").find((e) => e.detail.active === true),
    );
    assertEquals(row.kind, CAMERA_EVENT_KIND);
    assertEquals(row.detail.type, "motion");
    assertEquals(row.detail.topic, "tns1:RuleEngine/CellMotionDetector/Motion");
    // The "Initialized" motion=false and input=false sent on subscribing are not stored.
    assertEquals(index.events(0, Date.now() + 1000, "door").filter((e) => e.detail.initial), []);

    // The same config again keeps the subscription; a disabled camera's keeper stops.
    events.apply(config(true));
    assertEquals(events.statuses().get("door")?.subscriptions, 1);
    events.apply(config(true, false));
    assertEquals(events.statuses().size, 0);
    // Motion already on when subscribing again: that state is stored (it is going on).
    events.apply(config(true));
    await until("subscribed again", () => events.statuses().get("door")?.state === "subscribed");
    await until(
      "the initial motion state",
      () => index.events(0, Date.now() + 1000, "door").find((e) => e.detail.initial === true),
    );
  } finally {
    await events.close();
    index.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("camera events to the fleet: camera, type, active and topic only; odd values made safe", () => {
  assertEquals(
    fleetEvent("camera-event", "door", {
      type: "motion",
      active: true,
      topic: "tns1:RuleEngine/CellMotionDetector/Motion",
      source: { Rule: "r" },
      cameraTimeMs: 1,
    }),
    {
      kind: "camera-event",
      detail: {
        camera: "door",
        type: "motion",
        active: true,
        topic: "tns1:RuleEngine/CellMotionDetector/Motion",
      },
    },
  );
  const odd = fleetEvent("camera-event", "door", { type: 5, active: "yes" });
  assertEquals(odd?.detail, { camera: "door", type: "", active: null, topic: "" });
  assert(fleetEvent("camera-event", null, { type: "motion" }) === null, "no camera: not sent");
});

Deno.test("camera events: an ONVIF URL with user:password@ keeps the password out of health", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-camera-events-" });
  const index = SegmentIndex.open(`${dir}/index.sqlite`);
  const events = new CameraEvents({
    index: () => index,
    log: memoryLogger("debug"),
    now: Date.now,
    timing: { retryMs: [60_000] },
  });
  try {
    // Nothing listens on port 9 (discard) here: the request fails and names the URL.
    events.apply(
      validateConfig({
        cameras: [{
          id: "door",
          url: "rtsp://127.0.0.1:9/main",
          onvif: { url: "http://admin:hunter2secret@127.0.0.1:9/onvif/device_service" },
        }],
      }).cameras,
    );
    const s = await until("lost", () => {
      const st = events.statuses().get("door");
      return st?.state === "lost" ? st : undefined;
    });
    assert(!/hunter2secret/.test(s.error ?? ""), s.error ?? "");
    assert(/\/\/\*\*\*@127\.0\.0\.1:9/.test(s.error ?? ""), s.error ?? "");
  } finally {
    await events.close();
    index.close();
    await Deno.remove(dir, { recursive: true });
  }
});
