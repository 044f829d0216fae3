/**
 * Recording only around events (cameras[].record.mode "events") through the whole daemon: the
 * virtual camera's ONVIF motion → app/camera_events.ts → app/event_triggers.ts → the recorder
 * process's `trigger` line (recorder/workers/) → a segment on disk and in the index; a plugin's
 * alarm for the camera does the same; a burst of triggers costs about a line a second and its
 * last state holds; live viewers and snapshots get pictures while nothing is written.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { type Harness, startHarness } from "../testing/daemon_harness.ts";
import { daemonHttps } from "../testing/https_client.ts";
import { readFrames, signIn, upgrade } from "../testing/live_ws_client.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { installFromFolder } from "../plugins/install.ts";
import { pluginCode, writePlugin } from "../plugins/plugin_fixture.ts";
import { WorkerPool } from "../recorder/workers/worker_pool.ts";
import { incomingDir, type SegmentRecord } from "../storage/mod.ts";

const PRE_S = 2;
const POST_S = 2;
/** The virtual camera's GOP (a keyframe a second). */
const GOP_MS = 1_000;
/** Arrival jitter of pictures and of the trigger line under load (a loaded 2-core machine). */
const SLACK_MS = 800;
const NO_EVENT = "no event (cameras[].record.mode events)";

async function until<T>(what: string, get: () => T | undefined | null | false, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits `ms` while checking that `never` stays false (what is tested is that nothing happens). */
async function holds(ms: number, never: () => boolean, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    assert(!never(), what);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert(!never(), what);
}

function eventsCamera(url: string, extra: Record<string, unknown> = {}) {
  return {
    id: "door",
    url,
    codec: "h264",
    record: { mode: "events", preRollSeconds: PRE_S, postRollSeconds: POST_S },
    ...extra,
  };
}

/** One segment per event in these tests: cuts every 60 s, not the harness's 2 s. */
const STORAGE = { segmentSeconds: 60 };

function segments(h: Harness): SegmentRecord[] {
  return h.index().range("door", 0, Date.now() + 3_600_000);
}

function filesOpen(h: Harness): number {
  try {
    return [...Deno.readDirSync(incomingDir(`${h.dir}/data`, "door"))].length;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
}

/** The camera streams into the pre-roll and health says it waits; nothing is written. */
async function waitingAndNothingWritten(h: Harness, ms: number): Promise<void> {
  await h.until(
    "door",
    (s) =>
      s.state === "recording" && s.stats.framesIn > 3 * 15 &&
      s.record?.now === "waiting for an event",
    "the stream flowing into the pre-roll (3 s of pictures), waiting for an event",
    60_000,
  );
  assertEquals(h.camera("door").record, { mode: "events", now: "waiting for an event" });
  await holds(
    ms,
    () => segments(h).length > 0 || filesOpen(h) > 0,
    "nothing written without an event",
  );
}

/** A segment that starts at least the pre-roll before `onMs` and ends about the post-roll after `offMs`. */
function assertAroundEvent(s: SegmentRecord, onMs: number, offMs: number): void {
  const before = onMs - s.startMs;
  assert(
    before >= PRE_S * 1000 - SLACK_MS && before <= PRE_S * 1000 + GOP_MS + SLACK_MS,
    `starts ${before} ms before the event: the pre-roll (${PRE_S} s), from a keyframe`,
  );
  const after = s.endMs - offMs;
  assert(
    after >= POST_S * 1000 - SLACK_MS && after <= POST_S * 1000 + GOP_MS + 2 * SLACK_MS,
    `ends ${after} ms after the event's end: the post-roll (${POST_S} s), to the next keyframe`,
  );
}

Deno.test("events mode e2e: ONVIF motion records one segment from the pre-roll before to the post-roll after off; health says so; the time between is a 'no event' gap on the timeline", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
  await using h = await startHarness({
    storage: STORAGE,
    cameras: [eventsCamera(cam.rtspUrl, { onvif: { url: cam.onvifUrl } })],
  }, { cameraEvents: { pullTimeoutSec: 1, retryMs: [200, 500] } });
  assert(h.daemon.recorders instanceof WorkerPool, "recorded in a recorder process");
  await until("ONVIF events subscribed", () => {
    return h.daemon.cameraEvents().get("door")?.state === "subscribed";
  });
  await waitingAndNothingWritten(h, 4_000);

  /** Raises motion on or off and returns when the daemon took it (its index time). */
  const motion = async (active: boolean): Promise<number> => {
    const from = Date.now() - 1;
    await cam.raiseEvent("motion", active);
    const e = await until(
      `motion ${active} in the index`,
      () =>
        h.index().events(from, Date.now() + 1_000, "door").find((e) =>
          e.kind === "camera-event" && e.detail.type === "motion" && e.detail.active === active
        ),
    );
    return e.tsMs;
  };

  const on1 = await motion(true);
  await h.until("door", (s) => s.record?.now === "recording (event)", "recording (event)");
  await until("the segment's file opened", () => filesOpen(h) > 0);
  // Motion stays on longer than the post-roll: the recording holds until "off".
  await holds(POST_S * 1000 + 1_500, () => segments(h).length > 0, "held while motion is on");
  assertEquals(h.camera("door").record?.now, "recording (event)");
  const off1 = await motion(false);
  const [first] = await until("the segment closed after the post-roll", () => {
    const s = segments(h);
    return s.length > 0 && s;
  });
  await h.until("door", (s) => s.record?.now === "waiting for an event", "waiting again");
  assertAroundEvent(first!, on1, off1);
  const file = await Deno.stat(`${h.dir}/data/${first!.path}`);
  assertEquals(file.size, first!.bytes, "the file on disk is the one indexed");

  // Nothing more without an event, then a second event: a second segment, a gap between (the
  // next pre-roll starts where the first segment ended; a gap under 1.5 s is not indexed).
  await holds(6_000, () => segments(h).length > 1 || filesOpen(h) > 0, "one segment per event");
  const on2 = await motion(true);
  await h.until("door", (s) => s.record?.now === "recording (event)", "recording (event) again");
  await new Promise((r) => setTimeout(r, 1_200)); // "off" after the trigger's second
  const off2 = await motion(false);
  const second = await until("the second segment", () => segments(h)[1]);
  assertAroundEvent(second, on2, off2);
  assert(second.startMs >= first!.endMs, "the segments do not overlap");

  // The timeline API: the gap between them, for the reason "no event"; no recording-gap event.
  const cookie = await signIn(h);
  using https = daemonHttps(h.daemon);
  const res = await https.fetch(
    `/api/recordings?camera=door&from=${first!.startMs - 1000}&to=${Date.now() + 1000}`,
    { headers: { cookie } },
  );
  assertEquals(res.status, 200);
  const body = await res.json() as {
    segments: { startMs: number }[];
    gaps: { startMs: number; endMs: number; reason: string }[];
  };
  assertEquals(body.segments.length, 2);
  assertEquals(
    body.gaps.map(({ startMs, endMs, reason }) => ({ startMs, endMs, reason })),
    [{ startMs: first!.endMs, endMs: second.startMs, reason: NO_EVENT }],
  );
  const events = h.index().events(0, Date.now() + 1000, "door");
  assertEquals(events.filter((e) => e.kind === "recording-gap"), [], "no gap is an outage");
  const health = await (await https.fetch("/api/health", { headers: { cookie } })).json() as {
    cameras: { id: string; record?: unknown }[];
  };
  assertEquals(health.cameras.find((c) => c.id === "door")?.record, {
    mode: "events",
    now: "waiting for an event",
  });
});

/** A door contact on a GPIO: an alarm when its value file goes from 0 to 1. */
const CONTACT = {
  id: "door-contact",
  name: "Door contact",
  version: "1.0.0",
  permissions: { read: ["/sys/class/gpio/gpio17"] },
};
const CONTACT_CODE = pluginCode(`
  const file = ctx.sysRoot + "/class/gpio/gpio17/value";
  let was = "0";
  while (!ctx.signal.aborted) {
    const now = (await Deno.readTextFile(file)).trim();
    if (now === "1" && was !== "1") {
      ctx.event("sensor-alarm", { sensor: "door", reason: "door opened", value: true });
    }
    was = now;
    await new Promise((r) => setTimeout(r, 100));
  }`);

Deno.test("events mode e2e: a plugin's alarm for the camera records around it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-events-e2e-" });
  const gpio = `${dir}/sys/class/gpio/gpio17`;
  await Deno.mkdir(gpio, { recursive: true });
  await Deno.writeTextFile(`${gpio}/value`, "0\n");
  await Deno.mkdir(`${dir}/data/plugins`, { recursive: true });
  await installFromFolder(await writePlugin(dir, CONTACT, CONTACT_CODE), `${dir}/data/plugins`);
  try {
    await using cam = await startVirtualCamera({
      codec: "h264",
      width: 320,
      height: 240,
      fps: 15,
    });
    await using h = await startHarness({
      storage: STORAGE,
      cameras: [eventsCamera(cam.rtspUrl)],
      plugins: { "door-contact": { enabled: true, cameras: ["door"] } },
    }, { dir, plugins: { sysRoot: `${dir}/sys` } });
    const pool = h.daemon.recorders;
    assert(pool instanceof WorkerPool, "recorded in a recorder process");
    await until(
      "the plugin running",
      () => h.daemon.plugins.statuses().find((p) => p.id === "door-contact")?.state === "running",
      60_000,
    );
    await waitingAndNothingWritten(h, 3_000);

    // The door opens: one alarm, a moment; the segment runs from the pre-roll before it to the
    // post-roll after it.
    const from = Date.now() - 1;
    await Deno.writeTextFile(`${gpio}/value`, "1\n");
    const alarm = await until(
      "the sensor-alarm indexed",
      () =>
        h.index().events(from, Date.now() + 1000).find((e) =>
          e.kind === "sensor-alarm" && e.detail.plugin === "door-contact"
        ),
    );
    await h.until("door", (s) => s.record?.now === "recording (event)", "recording (event)");
    const [segment] = await until("the segment closed after the post-roll", () => {
      const s = segments(h);
      return s.length > 0 && s;
    });
    assertAroundEvent(segment!, alarm.tsMs, alarm.tsMs);
    await h.until("door", (s) => s.record?.now === "waiting for an event", "waiting again");
    assertEquals(pool.triggerLines()["door"], 1, "one alarm, one trigger line");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("attack: events flipping on and off flood a recorder process — about one trigger line a second, the last state kept", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
  await using h = await startHarness({ storage: STORAGE, cameras: [eventsCamera(cam.rtspUrl)] });
  const pool = h.daemon.recorders;
  assert(pool instanceof WorkerPool, "recorded in a recorder process");
  await waitingAndNothingWritten(h, 1_000);
  // A burst: 2 000 triggers in about 2 s flipping on and off, the last one "on". About one
  // line a second reaches the recorder process, and the last state is the one it keeps.
  const burstStart = Date.now();
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 100; i++) pool.trigger("door", i % 2 === 1);
    await new Promise((r) => setTimeout(r, 100));
  }
  const burstMs = Date.now() - burstStart;
  await h.until("door", (s) => s.record?.now === "recording (event)", "recording (burst)");
  // Held on: past the post-roll it still records (a lost last "on" would end it).
  await holds(
    POST_S * 1000 + 2_000,
    () => h.camera("door").record?.now !== "recording (event)",
    "the burst's last state (on) holds the recording",
  );
  const lines = pool.triggerLines()["door"] ?? 0;
  assert(
    lines >= 1 && lines <= Math.ceil(burstMs / 1000) + 2,
    `${lines} trigger lines for 2 000 triggers in ${burstMs} ms: about one a second`,
  );
  // "Off", seconds after the last line: sent at once, the segment ends the post-roll after it.
  const off = Date.now();
  pool.trigger("door", false);
  const segment = await until("the burst's segment closed", () => segments(h)[0], 20_000);
  const after = segment.endMs - off;
  assert(
    after >= POST_S * 1000 - SLACK_MS && after <= POST_S * 1000 + GOP_MS + 2 * SLACK_MS,
    `ends ${after} ms after "off": the post-roll (${POST_S} s), to the next keyframe`,
  );
  assertEquals(segments(h).length, 1, "one segment for the whole burst");
});

Deno.test("events mode e2e: live viewers get pictures and snapshots answer while nothing is written", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
  await using h = await startHarness({ storage: STORAGE, cameras: [eventsCamera(cam.rtspUrl)] });
  await waitingAndNothingWritten(h, 1_000);
  const cookie = await signIn(h);
  const origin = `https://127.0.0.1:${h.daemon.listen.port}`;
  const { conn, head, rest } = await upgrade(h, "door", { Cookie: cookie, Origin: origin });
  try {
    assertMatch(head, /^HTTP\/1\.1 101/);
    const seen = await readFrames(conn, rest, 40_000, 20_000);
    assert(!seen.closed, "the viewer stays connected");
    assert(seen.binary >= 40_000, `${seen.binary} bytes of pictures`);
    const init = JSON.parse(seen.texts[0] ?? "{}");
    assertEquals([init.type, init.source], ["init", "main"]);
  } finally {
    conn.close();
  }
  using https = daemonHttps(h.daemon);
  const snap = await https.fetch("/api/cameras/door/snapshot", { headers: { cookie } });
  assertEquals(snap.status, 200);
  assertEquals(snap.headers.get("content-type"), "image/jpeg");
  const jpeg = new Uint8Array(await snap.arrayBuffer());
  assertEquals([jpeg[0], jpeg[1]], [0xff, 0xd8], "a JPEG");
  assert(jpeg.length > 1000, `${jpeg.length} bytes of JPEG`);
  assertEquals(segments(h).length + filesOpen(h), 0, "and still nothing written");
});
