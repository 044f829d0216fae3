/**
 * The PullPoint client and its keeper against the virtual camera's ONVIF service (in this process,
 * on 127.0.0.1): events arrive, the subscription is renewed, it is made again after the camera
 * restarts, a camera without events says so; and hostile answers are bounded and refused.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../testing/assert.ts";
import { startOnvifService } from "../../hw-tests/sim/onvif_service.ts";
import { LINE_TOPIC, lineCrossingEvent, motionEvent } from "../../hw-tests/sim/onvif_events.ts";
import { type CameraEvent, classify, type EventsStatus, watchEvents } from "./event_watch.ts";
import { createPullPoint, eventsServiceUrl, pullMessages } from "./pullpoint.ts";
import { OnvifError } from "./soap_client.ts";

const DEVICE = {
  manufacturer: "NVR Sim",
  model: "SimCam-1",
  firmwareVersion: "1.0.0",
  serialNumber: "SIM-EV-1",
  hardwareId: "HW",
};
const CREDS = { user: "admin", password: "s3cret pass" };

function camera(port = 0, events = true) {
  return startOnvifService({
    port,
    device: DEVICE,
    name: "cam1",
    profiles: [],
    credentials: CREDS,
    snapshot: () => Promise.resolve(new Uint8Array()),
    ...(events ? { events: {} } : {}),
  });
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Watch {
  events: CameraEvent[];
  statuses: EventsStatus[];
  last(): EventsStatus | undefined;
  stop(): Promise<void>;
}

function watch(deviceUrl: string, extra: Partial<Parameters<typeof watchEvents>[0]> = {}): Watch {
  const events: CameraEvent[] = [];
  const statuses: EventsStatus[] = [];
  const ac = new AbortController();
  const done = watchEvents({
    deviceUrl,
    username: CREDS.user,
    password: CREDS.password,
    onEvent: (e) => events.push(e),
    onStatus: (s) => statuses.push(s),
    pullTimeoutSec: 1,
    retryMs: [100, 200],
    ...extra,
  }, ac.signal);
  return {
    events,
    statuses,
    last: () => statuses[statuses.length - 1],
    stop: () => (ac.abort(), done),
  };
}

const motionOn = (w: Watch) => () =>
  w.events.some((e) => e.type === "motion" && e.active === true && e.property === "Changed");

Deno.test("PullPoint: motion raised in the camera arrives, with WS-Security", async () => {
  await using cam = camera();
  const w = watch(cam.deviceUrl);
  try {
    await until("subscribed", () => w.last()?.state === "subscribed");
    // The state when subscribing comes first, as "Initialized" and not active.
    await until("the initial state", () => w.events.some((e) => e.property === "Initialized"));
    assert(w.events.every((e) => e.active === false));
    cam.raiseEvent(motionEvent(true));
    await until("motion on", motionOn(w));
    const e = w.events.find((x) => x.active === true)!;
    assertEquals(e.topic, "tns1:RuleEngine/CellMotionDetector/Motion");
    assertEquals(e.source.VideoSourceConfigurationToken, "VideoSourceConfig_1");
    assert(e.timeMs !== null && Math.abs(e.timeMs - Date.now()) < 60_000);
  } finally {
    await w.stop();
  }
});

Deno.test("PullPoint: a subscription living 2 s is renewed and keeps delivering", async () => {
  await using cam = camera();
  const w = watch(cam.deviceUrl, { terminationSec: 2 });
  try {
    await until("subscribed", () => w.last()?.state === "subscribed");
    // Three lives of the subscription without renewal would have lost it.
    const end = Date.now() + 6000;
    await until("6 s", () => Date.now() > end, 10_000);
    cam.raiseEvent(motionEvent(true));
    await until("motion on", motionOn(w));
    assertEquals(w.last()?.subscriptions, 1, JSON.stringify(w.statuses));
    assert(!w.statuses.some((s) => s.state === "lost"), JSON.stringify(w.statuses));
  } finally {
    await w.stop();
  }
});

Deno.test("PullPoint: after the camera restarts, the subscription is made again", async () => {
  let cam = camera();
  const port = cam.port;
  const w = watch(cam.deviceUrl);
  try {
    await until("subscribed", () => w.last()?.state === "subscribed");
    await cam.shutdown();
    await until("lost", () => w.last()?.state === "lost");
    assertMatch(w.last()?.error ?? "", /subscribing again/);
    cam = camera(port); // same address, subscriptions forgotten
    await until(
      "subscribed again",
      () => (w.last()?.subscriptions ?? 0) >= 2 && w.last()?.state === "subscribed",
    );
    cam.raiseEvent(motionEvent(true));
    await until("motion after the restart", motionOn(w));
  } finally {
    await w.stop();
    await cam.shutdown();
  }
});

Deno.test("PullPoint: a camera without an events service is reported unsupported", async () => {
  await using cam = camera(0, false);
  assertEquals(
    await eventsServiceUrl(cam.deviceUrl, { username: CREDS.user, password: CREDS.password }),
    null,
  );
  const w = watch(cam.deviceUrl);
  try {
    await until("unsupported", () => w.last()?.state === "unsupported");
    assertMatch(w.last()?.error ?? "", /no ONVIF events service/);
  } finally {
    await w.stop();
  }
});

Deno.test("PullPoint: wrong credentials are a fault naming NotAuthorized", async () => {
  await using cam = camera();
  const err = await assertRejects(
    () => eventsServiceUrl(cam.deviceUrl, { username: "admin", password: "wrong" }),
    OnvifError,
  );
  assertEquals(err.kind, "fault");
  assertMatch(err.message, /NotAuthorized/);
});

// ---- hostile cameras: a device and events service that behave, a PullMessages answer that does not

const GOOD_CAPS = (base: string) =>
  `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetCapabilitiesResponse>` +
  `<Capabilities><Events><XAddr>${base}/events</XAddr></Events></Capabilities></GetCapabilitiesResponse></s:Body></s:Envelope>`;
const GOOD_SUB = (base: string) =>
  `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><CreatePullPointSubscriptionResponse>` +
  `<SubscriptionReference><Address>${base}/sub</Address></SubscriptionReference></CreatePullPointSubscriptionResponse></s:Body></s:Envelope>`;

function hostile(pull: (signal: AbortSignal) => Response) {
  // Port 0: the kernel's own free port, bound at once (a port chosen first and bound later can
  // be taken in between by a test running beside this one: AddrInUse, seen in a suite run).
  let base = "";
  let pulls = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.text();
    if (body.includes("GetCapabilities")) return new Response(GOOD_CAPS(base));
    if (body.includes("CreatePullPointSubscription")) return new Response(GOOD_SUB(base));
    if (body.includes("PullMessages")) {
      pulls++;
      return pull(req.signal);
    }
    return new Response(
      `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>`,
    );
  });
  base = `http://127.0.0.1:${server.addr.port}`;
  return {
    deviceUrl: `${base}/onvif/device_service`,
    base,
    get pulls() {
      return pulls;
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

async function pullOnce(deviceUrl: string, o: { maxBytes?: number; graceMs?: number } = {}) {
  const creds = { username: null, password: null, ...o };
  const url = await eventsServiceUrl(deviceUrl, creds);
  const sub = await createPullPoint(url!, 60, creds);
  return pullMessages(sub, 1, creds);
}

/** An endless body: 64 KiB chunks until the reader cancels (or 10 000 chunks, a bound of its own). */
function endless(chunk: string, signal: AbortSignal, delayMs = 0): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(chunk);
  let n = 0;
  return new ReadableStream({
    async pull(ctl) {
      if (signal.aborted || n++ > 10_000) return ctl.close();
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      ctl.enqueue(bytes);
    },
  });
}

Deno.test("attack: camera answers PullMessages with a huge body — cut off at 256 KiB, refused", async () => {
  const filler = "<x>" + "A".repeat(64 * 1024) + "</x>";
  await using cam = hostile((signal) =>
    new Response(endless(filler, signal), { headers: { "content-type": "application/soap+xml" } })
  );
  const err = await assertRejects(() => pullOnce(cam.deviceUrl), OnvifError);
  assertEquals(err.kind, "too-large");
  assertMatch(err.message, /more than 262144 bytes/);
});

Deno.test("attack: camera announces a 2 GB SOAP answer — refused unread", async () => {
  // A raw socket: Deno.serve would correct a lying Content-Length.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      const buf = new Uint8Array(64 * 1024);
      await conn.read(buf);
      await conn.write(
        new TextEncoder().encode(
          "HTTP/1.1 200 OK\r\ncontent-type: application/soap+xml\r\n" +
            `content-length: ${2 ** 31}\r\n\r\n<s:Envelope>`,
        ),
      );
    }
  })();
  try {
    const url = `http://127.0.0.1:${listener.addr.port}/onvif/device_service`;
    const err = await assertRejects(
      () => eventsServiceUrl(url, { username: null, password: null }),
      OnvifError,
    );
    assertEquals(err.kind, "too-large");
    assertMatch(err.message, /announced an answer of 2147483648 bytes/);
  } finally {
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed by the client */ }
    }
    await serving.catch(() => {});
  }
});

Deno.test("attack: camera answers PullMessages with malformed XML — refused, no events", async () => {
  for (
    const bad of [
      "<s:Envelope><s:Body><PullMessagesResponse></s:Body></s:Envelope>",
      "not xml at all",
      "<s:Envelope><s:Body><PullMessagesResponse><NotificationMessage a=1/></PullMessagesResponse></s:Body></s:Envelope>",
      "<s:Envelope><s:Body></s:Body></s:Envelope><second/>",
      "<" + "a>".repeat(100) + "</a>".repeat(100),
    ]
  ) {
    await using cam = hostile(() => new Response(bad));
    const err = await assertRejects(() => pullOnce(cam.deviceUrl), OnvifError);
    assertEquals(err.kind, "malformed", bad.slice(0, 60));
    assertMatch(err.message, /refused|without a SOAP/);
  }
});

Deno.test("attack: camera answers PullMessages with a DOCTYPE entity bomb — refused unexpanded", async () => {
  const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
    `<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>` +
    `<s:Envelope><s:Body><PullMessagesResponse>&lol2;</PullMessagesResponse></s:Body></s:Envelope>`;
  await using cam = hostile(() => new Response(bomb));
  const err = await assertRejects(() => pullOnce(cam.deviceUrl), OnvifError);
  assertEquals(err.kind, "malformed");
  assertMatch(err.message, /DOCTYPE/);
});

Deno.test("attack: camera keeps a PullMessages answer open forever, a byte at a time — cut off at the deadline", async () => {
  await using cam = hostile((signal) => new Response(endless(" ", signal, 50)));
  const t0 = Date.now();
  const err = await assertRejects(() => pullOnce(cam.deviceUrl, { graceMs: 500 }), OnvifError);
  const took = Date.now() - t0;
  assertEquals(err.kind, "timeout");
  assertMatch(err.message, /did not finish its answer within 1500 ms/);
  assert(took < 10_000, `took ${took} ms`);
});

Deno.test("attack: camera floods events — capped per minute, the rest counted as dropped", async () => {
  const many = Array.from(
    { length: 64 },
    () =>
      `<NotificationMessage><Topic>tns1:RuleEngine/CellMotionDetector/Motion</Topic><Message>` +
      `<Message UtcTime="2026-12-07T07:00:00Z" PropertyOperation="Changed"><Data>` +
      `<SimpleItem Name="IsMotion" Value="true"/></Data></Message></Message></NotificationMessage>`,
  ).join("");
  await using cam = hostile(() =>
    new Response(
      `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><PullMessagesResponse>${many}` +
        `</PullMessagesResponse></s:Body></s:Envelope>`,
    )
  );
  const w = watch(cam.deviceUrl, { username: null, password: null, maxEventsPerMinute: 100 });
  try {
    await until("drops", () => (w.last()?.dropped ?? 0) > 100);
    assertEquals(w.events.length, 100);
  } finally {
    await w.stop();
  }
});

Deno.test("attack: hostile answers make the keeper subscribe again after a pause, not spin", async () => {
  await using cam = hostile(() => new Response("garbage"));
  const w = watch(cam.deviceUrl, { username: null, password: null, retryMs: [300] });
  try {
    await until("lost twice", () => w.statuses.filter((s) => s.state === "lost").length >= 2);
    const t0 = Date.now();
    const before = cam.pulls;
    await until("1.5 s", () => Date.now() - t0 > 1500);
    // One pull per 300 ms pause at most (plus one in flight), never a tight loop.
    assert(cam.pulls - before <= 7, `${cam.pulls - before} pulls in 1.5 s`);
    assertEquals(w.events.length, 0);
  } finally {
    await w.stop();
  }
});

Deno.test("attack: camera ignores the PullMessages timeout, answering at once with nothing — pulled about once a second, not in a loop", async () => {
  await using cam = hostile(() =>
    new Response(
      `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` +
        `<PullMessagesResponse/></s:Body></s:Envelope>`,
    )
  );
  const w = watch(cam.deviceUrl, { username: null, password: null, pullTimeoutSec: 5 });
  try {
    await until("subscribed", () => w.last()?.state === "subscribed");
    await until("a first pull", () => cam.pulls >= 1);
    const t0 = Date.now();
    const before = cam.pulls;
    await until("2 s", () => Date.now() - t0 > 2000);
    // One pull a second (plus one in flight); without the pause it would be thousands.
    assert(cam.pulls - before <= 4, `${cam.pulls - before} pulls in 2 s`);
    assert(!w.statuses.some((s) => s.state === "lost"), JSON.stringify(w.statuses));
  } finally {
    await w.stop();
  }
});

Deno.test("classify: motion by either topic, inputs, tampering, line crossing, and their states", () => {
  const n = (topic: string, data: Record<string, string>) => ({
    topic,
    timeMs: null,
    property: "Changed",
    source: {},
    data,
  });
  const got = (topic: string, data: Record<string, string>) => {
    const e = classify(n(topic, data));
    return e && [e.type, e.active];
  };
  assertEquals(got("tns1:RuleEngine/CellMotionDetector/Motion", { IsMotion: "true" }), [
    "motion",
    true,
  ]);
  assertEquals(got("tns1:VideoSource/MotionAlarm", { State: "false" }), ["motion", false]);
  assertEquals(got("tns1:Device/Trigger/DigitalInput", { LogicalState: "true" }), [
    "digital-input",
    true,
  ]);
  assertEquals(got("tns1:RuleEngine/TamperDetector/Tamper", { IsTamper: "true" }), [
    "tampering",
    true,
  ]);
  assertEquals(got("tns1:RuleEngine/LineDetector/Crossed", { ObjectId: "7" }), [
    "line-crossing",
    null,
  ]);
  assertEquals(got("tns1:Monitoring/ProcessorUsage", { Value: "maybe" }), ["other", null]);
  assertEquals(classify(n("", { IsMotion: "true" })), null);
});

Deno.test("PullPoint: the virtual camera's scheduled motion (every 300 ms) arrives on and off", async () => {
  await using cam = startOnvifService({
    port: 0,
    device: DEVICE,
    name: "cam1",
    profiles: [],
    credentials: CREDS,
    snapshot: () => Promise.resolve(new Uint8Array()),
    events: { motionEveryMs: 300 },
  });
  const w = watch(cam.deviceUrl);
  try {
    await until("motion on", motionOn(w));
    await until(
      "motion off",
      () => w.events.some((e) => e.active === false && e.property === "Changed"),
    );
  } finally {
    await w.stop();
  }
});

Deno.test("PullPoint: a line crossing from the virtual camera arrives as line-crossing, without state, with its rule", async () => {
  await using cam = camera();
  const w = watch(cam.deviceUrl);
  try {
    await until("subscribed", () => w.last()?.state === "subscribed");
    cam.raiseEvent(lineCrossingEvent(7, "Driveway"));
    await until("line crossing", () => w.events.some((e) => e.type === "line-crossing"));
    const e = w.events.find((e) => e.type === "line-crossing")!;
    assertEquals(e.topic, LINE_TOPIC);
    // IsProperty="false" in ONVIF: a moment, not a state; neither "Initialized" nor "Changed".
    assertEquals(e.active, null);
    assertEquals(e.property, "");
    assertEquals(e.source.Rule, "Driveway");
    assert(e.timeMs !== null, "the camera's UtcTime is read");
  } finally {
    await w.stop();
  }
});
