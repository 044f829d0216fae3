/**
 * A plugin's alarms that concern cameras, against a real index file: marked on those cameras'
 * timelines only, and with keepMinutes their recordings kept from that long before the alarm to
 * as long after it (also segments recorded after the alarm, also across a restart), so a
 * retention pass under a tight budget leaves them.
 */
import { assert, assertEquals, assertMatch, assertThrows } from "../testing/assert.ts";
import { SegmentIndex } from "../storage/segment_index.ts";
import { planDeletions } from "../storage/retention_plan.ts";
import { createLogger } from "../lib/log.ts";
import { ConfigError, validateConfig } from "../config/validate.ts";
import { AlarmKeeper } from "./alarm_keep.ts";
import { retentionPolicy, sweepRetention } from "../storage/retention.ts";
import { dataFolder, DAY, KiB, NOW, policy, roomy } from "../storage/retention_fixture.ts";

const MIN = 60_000;
const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);
const seg = (camera: string, startMs: number) => ({
  camera,
  startMs,
  endMs: startMs + MIN,
  bytes: 1000,
  codec: "h265",
  path: `recordings/${camera}/${startMs}.mp4`,
});

async function withIndex(fn: (index: SegmentIndex) => void | Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "nvr-alarm-keep-" });
  const index = SegmentIndex.open(`${dir}/index.sqlite`);
  try {
    await fn(index);
  } finally {
    index.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const plugin = (cameras: string[], keepMinutes: number) => ({
  enabled: true,
  settings: {},
  cameras,
  keepMinutes,
});

Deno.test("sensor alarm with keepMinutes: its cameras' recordings around it are kept, also those recorded after it and after a restart", async () => {
  await withIndex((index) => {
    let now = T0 + 10 * MIN + 30_000; // the alarm: 12:10:30
    const keeper = () =>
      new AlarmKeeper({
        index: () => index,
        now: () => now,
        log: createLogger({ sink: () => {} }),
        maxSegmentMs: MIN,
      });
    for (let m = 0; m < 10; m++) {
      index.add(seg("door", T0 + m * MIN));
      index.add(seg("yard", T0 + m * MIN));
    }
    const first = keeper();
    first.alarm("serial-sensor", { sensor: "door", reason: "door opened" }, plugin(["door"], 2));
    const lockedMinutes = (camera: string) =>
      index.range(camera, 0, T0 + 60 * MIN).filter((s) => s.locked).map((s) =>
        (s.startMs - T0) / MIN
      );
    // 12:08:30–12:12:30: of what is on disk, the segments of 12:08 and 12:09; not the yard's.
    assertEquals(lockedMinutes("door"), [8, 9]);
    assertEquals(lockedMinutes("yard"), []);

    // Recorded after the alarm: locked as each closes, until the window has passed.
    for (const m of [10, 11, 12, 13]) {
      now = T0 + (m + 1) * MIN;
      index.add(seg("door", T0 + m * MIN));
      first.segmentClosed();
    }
    assertEquals(lockedMinutes("door"), [8, 9, 10, 11, 12]);

    // A restart in the middle of a window: the new daemon re-arms it from the index.
    const second = keeper();
    now = T0 + 11 * MIN;
    index.add(seg("yard", T0 + 10 * MIN));
    second.rearm();
    assertEquals(second.armed, 1);
    index.setLockedRange("door", T0 + 12 * MIN, T0 + 13 * MIN, false); // as if closed while down
    now = T0 + 13 * MIN;
    second.segmentClosed();
    assertEquals(lockedMinutes("door"), [8, 9, 10, 11, 12]);
    now = T0 + 20 * MIN;
    second.segmentClosed();
    assertEquals(second.armed, 0, "a window ends once no segment can overlap it");

    // A retention pass that must free almost everything leaves the kept ones.
    const segments = [...index.range("door", 0, now), ...index.range("yard", 0, now)];
    const deletions = planDeletions(
      { segments, usedBytes: segments.length * 1000, disk: null },
      {
        maxBytes: 1000,
        minFreeBytes: 0,
        minFreePercent: 0,
        retentionDays: null,
        cameraRetentionDays: {},
      },
      now,
    );
    const deleted = new Set(deletions.map((d) => d.segment.id));
    const survivors = segments.filter((s) => !deleted.has(s.id));
    assertEquals(
      survivors.map((s) => `${s.camera} ${(s.startMs - T0) / MIN}`).sort(),
      ["door 10", "door 11", "door 12", "door 8", "door 9"],
    );
  });
});

Deno.test("sensor alarm marks: on the plugin's cameras only; without cameras on every camera", async () => {
  await withIndex((index) => {
    const keeper = new AlarmKeeper({
      index: () => index,
      now: () => T0,
      log: createLogger({ sink: () => {} }),
      maxSegmentMs: MIN,
    });
    keeper.alarm("serial-sensor", { sensor: "door", reason: "door opened" }, plugin(["door"], 0));
    keeper.alarm("modbus-rtu", { sensor: "temperature", reason: "high" }, undefined);
    const marks = (camera: string) =>
      index.cameraMarks(T0 - MIN, T0 + MIN, camera).map((e) => e.detail.plugin);
    assertEquals(marks("door"), ["serial-sensor", "modbus-rtu"]);
    assertEquals(marks("yard"), ["modbus-rtu"]);
    assertEquals(keeper.armed, 0, "keepMinutes 0 marks only");
    const events = index.events(T0 - MIN, T0 + MIN);
    assertEquals(events.length, 2, "one event an alarm, whatever the number of cameras");
    assertEquals(events[0]?.detail.cameras, ["door"]);
  });
});

Deno.test("plugins.<id>.cameras and keepMinutes: unknown cameras, bad ranges and a keep without cameras are refused by name", () => {
  const cameras = [{ id: "door", url: "rtsp://127.0.0.1:8554/main" }];
  const ok = validateConfig({
    cameras,
    plugins: { "serial-sensor": { enabled: true, cameras: ["door"], keepMinutes: 5 } },
  });
  assertEquals(ok.plugins["serial-sensor"]?.cameras, ["door"]);
  assertEquals(ok.plugins["serial-sensor"]?.keepMinutes, 5);
  const bad = (plugins: unknown) =>
    assertThrows(() => validateConfig({ cameras, plugins }), ConfigError).message;
  assertMatch(
    bad({ p: { cameras: ["gate"] } }),
    /plugins\.p\.cameras: no camera 'gate' in cameras; use one of: door/,
  );
  assertMatch(
    bad({ p: { cameras: "door" } }),
    /plugins\.p\.cameras: expected a list of camera ids/,
  );
  assertMatch(bad({ p: { cameras: ["door"], keepMinutes: 2000 } }), /plugins\.p\.keepMinutes/);
  assertMatch(
    bad({ p: { keepMinutes: 5 } }),
    /plugins\.p\.keepMinutes: keeps recordings of the plugin's cameras: list them in cameras/,
  );
  assert(validateConfig({ cameras, plugins: { p: {} } }).plugins.p?.keepMinutes === 0);
});

Deno.test("retention: a plugin's alarm on a camera does not extend it like a camera event; keepMinutes keeps around it", async () => {
  await dataFolder(async ({ index, write, exists, deps }) => {
    // cam1 keeps 2 days, 5 more for segments with its own events.
    const base = NOW - 3 * DAY;
    const markedOnly = await write("cam1", base, KiB); // a door alarm (keepMinutes 0) inside
    const quiet = await write("cam1", base + MIN, KiB);
    const cameraEvent = await write("cam1", base + 2 * MIN, KiB); // the camera's own motion
    const aroundGate = await write("cam1", base + 10 * MIN, KiB); // a gate alarm, keepMinutes 1
    let t = base + 30_000;
    const keeper = new AlarmKeeper({
      index: () => index,
      now: () => t,
      log: createLogger({ level: "error", sink: () => {} }),
      maxSegmentMs: MIN,
    });
    keeper.alarm("door", { state: "open" }, plugin(["cam1"], 0));
    t = base + 10 * MIN + 30_000;
    keeper.alarm("gate", { state: "open" }, plugin(["cam1"], 1));
    index.addEvent({ camera: "cam1", tsMs: base + 2 * MIN + 1000, kind: "camera-event" });

    const config = validateConfig({
      storage: { dataDir: "/tmp/x", retentionDays: 2 },
      cameras: [{
        id: "cam1",
        url: "rtsp://10.0.0.5/main",
        onvif: { url: "http://10.0.0.5/onvif/device_service" },
        eventRetentionExtraDays: 5,
      }],
    });
    const p = { ...policy(), ...retentionPolicy(config) };
    await sweepRetention(deps(p, { diskSpace: () => roomy }));
    assertEquals(
      await Promise.all([markedOnly, quiet, cameraEvent, aroundGate].map((s) => exists(s.file))),
      [false, false, true, true],
    );
    // The gate alarm's keep is a lock: released on the camera page, never by age.
    assertEquals(index.segment(aroundGate.id)?.locked, true);
  });
});
