/**
 * Recording only around events (cameras[].record.mode "events") against the virtual camera, the
 * built-in remuxer and a real index: nothing is written without an event; an event gives one
 * segment that starts at a keyframe at least the pre-roll before it and ends about the post-roll
 * after the last one; a retention pass treats those segments by the normal rules.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { packetFlags, packetTimes } from "../testing/ffprobe.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { validateConfig } from "../config/mod.ts";
import { memoryLogger } from "../lib/log.ts";
import {
  CAMERA_EVENT_KIND,
  ensureWritable,
  incomingDir,
  indexPath,
  retentionPolicy,
  SegmentIndex,
  type SegmentRecord,
  sweepRetention,
} from "../storage/mod.ts";
import { CameraSupervisor } from "./supervisor/supervisor.ts";

const PRE_S = 2;
const POST_S = 2;
/** The virtual camera's GOP (a keyframe a second) and one frame of arrival jitter under load. */
const GOP_MS = 1_000;
const SLACK_MS = 700;

async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits `ms` while checking `never` stays false (the condition tested is "nothing happens"). */
async function holds(ms: number, never: () => boolean, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    assert(!never(), what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function eventsSupervisor(
  dir: string,
  url: string,
  index: SegmentIndex,
  segments: SegmentRecord[],
  log = memoryLogger("info"),
) {
  const config = validateConfig({
    storage: { dataDir: dir, retentionDays: 2 },
    cameras: [{
      id: "cam1",
      url,
      codec: "h264",
      eventRetentionExtraDays: 5,
      record: { mode: "events", preRollSeconds: PRE_S, postRollSeconds: POST_S },
    }],
  });
  const supervisor = new CameraSupervisor(config.cameras[0]!, {
    dataDir: dir,
    segmentSeconds: 60,
    index: () => index,
    log,
    now: Date.now,
    checkStorage: () => ensureWritable(dir),
    stallMs: 6_000,
    remux: "builtin",
    plan: {
      mode: "passthrough",
      codec: "h264",
      encoder: null,
      decoder: null,
      reason: "camera sends h264",
      launch: "",
    },
    onSegment: (s) => segments.push(s),
  });
  return { config, supervisor, log };
}

Deno.test("attack: events flood a camera in events mode — one segment, memory bounded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-events-" });
  await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
  using index = SegmentIndex.open(indexPath(dir));
  const segments: SegmentRecord[] = [];
  const { supervisor } = eventsSupervisor(dir, cam.rtspUrl, index, segments);
  const stop = new AbortController();
  const run = supervisor.run(stop.signal);
  const incoming = () => [...Deno.readDirSync(incomingDir(dir, "cam1"))].length;
  try {
    await until(() => supervisor.status().stats.framesIn > 45, "the stream flowing");
    const heapBefore = Deno.memoryUsage().heapUsed;
    // 200 000 events in 2 s (10 000 every 100 ms, on and off), what a hostile or broken camera
    // or plugin could send: the recorder keeps one time and one flag, whatever their number.
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 10_000; i++) supervisor.trigger(i % 2 === 0);
      assert(incoming() <= 1, `${incoming()} files open during the flood`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const heapGrowth = Deno.memoryUsage().heapUsed - heapBefore;
    await until(() => segments.length > 0, "the segment closed after the post-roll");
    await holds(2_500, () => segments.length > 1 || incoming() > 0, "no second segment");
    assertEquals(index.range("cam1", 0, Date.now() + 60_000).length, 1, "one segment");
    // The stream itself (pre-roll, fragments) may take a few MB; 200 000 events kept would not fit.
    assert(heapGrowth < 64 * 2 ** 20, `${heapGrowth} bytes of heap grown during the flood`);
  } finally {
    stop.abort();
    await run;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("events mode: nothing is written without an event; an event gives one segment from a keyframe the pre-roll before it to about the post-roll after the last; retention keeps it by the normal rules", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-events-" });
  await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
  using index = SegmentIndex.open(indexPath(dir));
  const segments: SegmentRecord[] = [];
  const { config, supervisor, log } = eventsSupervisor(dir, cam.rtspUrl, index, segments);
  const stop = new AbortController();
  const run = supervisor.run(stop.signal);
  const incoming = () => [...Deno.readDirSync(incomingDir(dir, "cam1"))].length;
  try {
    await until(
      () => supervisor.status().state === "recording" && supervisor.status().stats.framesIn > 45,
      "the stream flowing (3 s of pictures)",
    );
    assertEquals(supervisor.status().record, { mode: "events", now: "waiting for an event" });
    await holds(
      3_000,
      () => segments.length > 0 || incoming() > 0,
      "nothing written without an event",
    );

    const firstEvent = Date.now();
    supervisor.trigger(false);
    await until(() => supervisor.status().record?.now === "recording (event)", "recording (event)");
    await until(() => incoming() > 0, "the segment file opened");
    // A second event 1 s later, well inside the post-roll: the same segment goes on.
    await new Promise((r) => setTimeout(r, 1_000));
    const lastEvent = Date.now();
    supervisor.trigger(false);
    await until(() => segments.length > 0, "the segment closed after the post-roll");
    assertEquals(supervisor.status().record?.now, "waiting for an event");
    await holds(2_500, () => segments.length > 1 || incoming() > 0, "one segment for both events");

    const seg = index.range("cam1", 0, Date.now() + 60_000);
    assertEquals(seg.length, 1, JSON.stringify(seg));
    const s = seg[0]!;
    assert(
      s.startMs <= firstEvent - PRE_S * 1000 + SLACK_MS,
      `starts ${firstEvent - s.startMs} ms before the event: at least the pre-roll (${PRE_S} s)`,
    );
    assert(
      s.startMs >= firstEvent - PRE_S * 1000 - GOP_MS - SLACK_MS,
      `starts ${firstEvent - s.startMs} ms before the event: at most a GOP more than the pre-roll`,
    );
    const after = s.endMs - lastEvent;
    assert(
      after >= POST_S * 1000 - SLACK_MS && after <= POST_S * 1000 + GOP_MS + 2 * SLACK_MS,
      `ends ${after} ms after the last event: the post-roll (${POST_S} s), to the next keyframe`,
    );
    const file = `${dir}/${s.path}`;
    const flags = await packetFlags(file);
    assert(flags[0]?.startsWith("K"), `the file's first picture is a keyframe: ${flags[0]}`);
    const times = await packetTimes(file);
    assertEquals(times[0]?.dts, 0, "the first sample's decode time (tfdt) is the segment's start");
    const seconds = (times.at(-1)!.pts - times[0]!.pts) / 90_000;
    assert(
      Math.abs(seconds * 1000 - (s.endMs - s.startMs)) < 1_000,
      `${seconds} s of pictures in a segment indexed as ${(s.endMs - s.startMs) / 1000} s`,
    );

    // Retention: the event segment is an ordinary one. With its camera event it is kept the
    // extra days; past them it goes at the camera's age; the byte budget goes first anyway.
    index.addEvent({ camera: "cam1", tsMs: firstEvent, kind: CAMERA_EVENT_KIND, detail: {} });
    const roomy = { totalBytes: 1e12, freeBytes: 1e12, availableBytes: 1e12 };
    const sweep = (nowMs: number, maxBytes: number | null = null) =>
      sweepRetention({
        index: () => index,
        dataDir: dir,
        policy: { ...retentionPolicy(config), maxBytes, minFreeBytes: 0, minFreePercent: 0 },
        log,
        now: () => nowMs,
        diskSpace: () => roomy,
      });
    const day = 86_400_000;
    await sweep(Date.now() + 3 * day); // past the 2 days, inside the 5 extra
    assert(index.segment(s.id) !== null, "kept the extra days: it holds a camera event");
    await sweep(Date.now() + 8 * day);
    assertEquals(index.segment(s.id), null, "deleted past the extra days");
  } finally {
    stop.abort();
    await run;
    await Deno.remove(dir, { recursive: true });
  }
});
