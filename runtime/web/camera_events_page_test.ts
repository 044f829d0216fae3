/**
 * Camera events in Debian's Chromium against the real daemon: motion raised in the virtual
 * camera's ONVIF service shows on the events page and as a mark on the camera's timeline
 * ("motion on"); a camera without an events service is named on the events page and the health
 * page, not left silently empty. A line crossing (a moment, no state) whose rule name is markup is
 * shown as its text, on the events page and as a "line-crossing" mark on the timeline.
 */
import { assert } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin } from "../testing/chromium.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startOnvifService } from "../../hw-tests/sim/onvif_service.ts";
import { lineCrossingEvent, motionEvent } from "../../hw-tests/sim/onvif_events.ts";

const device = (serial: string) => ({
  manufacturer: "NVR Sim",
  model: "SimCam",
  firmwareVersion: "1",
  serialNumber: serial,
  hardwareId: "HW",
});

Deno.test({
  name: "events page and timeline in Chromium: camera motion shown, a camera without events named",
  ignore: !hasChromium,
  fn: async () => {
    // The virtual camera's ONVIF service, in this process (no video needed for events).
    await using door = startOnvifService({
      port: 0,
      device: device("SN-D"),
      name: "door",
      profiles: [],
      snapshot: () => Promise.resolve(new Uint8Array()),
      events: {},
    });
    await using yard = startOnvifService({
      port: 0,
      device: device("SN-Y"),
      name: "yard",
      profiles: [],
      snapshot: () => Promise.resolve(new Uint8Array()),
    });
    await using h = await startHarness({
      cameras: [
        { id: "door", url: "rtsp://127.0.0.1:9/door", onvif: { url: door.deviceUrl } },
        { id: "yard", url: "rtsp://127.0.0.1:9/yard", onvif: { url: yard.deviceUrl } },
      ],
    }, { cameraEvents: { pullTimeoutSec: 1, retryMs: [200] } });
    const deadline = Date.now() + 30_000;
    while (h.daemon.cameraEvents().get("door")?.state !== "subscribed") {
      if (Date.now() > deadline) throw new Error("door's events never subscribed");
      await new Promise((r) => setTimeout(r, 50));
    }
    door.raiseEvent(motionEvent(true));

    await using session = await openAsNewAdmin(h);
    const { page, errors } = session;
    await page.click('[data-nav="events"]');
    await page.waitForSelector('#event-list li.event[data-kind="camera-event"]');
    const text = (await page.textContent('#event-list li.event[data-kind="camera-event"]')) ?? "";
    assert(/door/.test(text) && /type: motion/.test(text) && /active: true/.test(text), text);
    await page.waitForSelector('#events-missing li[data-camera="yard"][data-events="unsupported"]');
    const missing = (await page.textContent("#events-missing")) ?? "";
    assert(/yard/.test(missing) && /no ONVIF events service/.test(missing), missing);
    assert(!/door/.test(missing), `door has events: ${missing}`);

    await page.click('[data-nav="health"]');
    await page.waitForSelector('.camera-health[data-camera="yard"] [data-events="unsupported"]');

    await page.goto(`${session.base}#/timeline/door`);
    const mark = '.tl-bar[data-camera="door"] .tl-camera-event';
    await page.waitForSelector(mark, { state: "attached" });
    const title = (await page.getAttribute(mark, "title")) ?? "";
    assert(/motion on$/.test(title), title);
    assert(errors.length === 0, `page errors: ${errors.join("; ")}`);
  },
});

Deno.test({
  name:
    "attack: camera sends a line crossing whose rule name is markup — the events page and the timeline show it as text, nothing runs",
  ignore: !hasChromium,
  fn: async () => {
    await using gate = startOnvifService({
      port: 0,
      device: device("SN-G"),
      name: "gate",
      profiles: [],
      snapshot: () => Promise.resolve(new Uint8Array()),
      events: {},
    });
    await using h = await startHarness({
      cameras: [{ id: "gate", url: "rtsp://127.0.0.1:9/gate", onvif: { url: gate.deviceUrl } }],
    }, { cameraEvents: { pullTimeoutSec: 1, retryMs: [200] } });
    const deadline = Date.now() + 30_000;
    while (h.daemon.cameraEvents().get("gate")?.state !== "subscribed") {
      if (Date.now() > deadline) throw new Error("gate's events never subscribed");
      await new Promise((r) => setTimeout(r, 50));
    }
    const rule = `<img src=x onerror="document.body.dataset.pwned='1'">Drive`;
    gate.raiseEvent(lineCrossingEvent(42, rule));

    await using session = await openAsNewAdmin(h);
    const { page, errors } = session;
    await page.click('[data-nav="events"]');
    const item = '#event-list li.event[data-kind="camera-event"]';
    await page.waitForSelector(item);
    const text = (await page.textContent(item)) ?? "";
    assert(/gate/.test(text) && /type: line-crossing/.test(text), text);
    assert(!/active:/.test(text), `a line crossing has no state to show: ${text}`);
    assert(text.includes(rule.replaceAll('"', '\\"')), `the rule name as text: ${text}`);
    assert((await page.locator("#event-list img").count()) === 0, "no element made from it");

    await page.goto(`${session.base}#/timeline/gate`);
    const mark = '.tl-bar[data-camera="gate"] .tl-camera-event';
    await page.waitForSelector(mark, { state: "attached" });
    const title = (await page.getAttribute(mark, "title")) ?? "";
    assert(/ line-crossing$/.test(title), title);
    assert((await page.getAttribute("body", "data-pwned")) === null, "the markup never ran");
    assert(errors.length === 0, `page errors: ${errors.join("; ")}`);
  },
});
