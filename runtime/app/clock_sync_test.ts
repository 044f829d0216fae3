/**
 * A board without a real-time clock, as the whole daemon sees it: it starts in 1970, records a
 * virtual camera at once, and systemd-timesyncd's `synchronized` file appears later (a fixture
 * root stands in for /run). The recorders run in the daemon's process, so that they read the
 * same fake wall clock.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { BUILD_FLOOR_MS } from "../lib/clock_trust.ts";
import type { IndexedSegment, SegmentIndex } from "../storage/mod.ts";
import { sweepRetention } from "../storage/mod.ts";
import { memoryLogger } from "../lib/log.ts";

const ALL = [0, Number.MAX_SAFE_INTEGER] as const;

/** A wall clock that can be set: `skew` ms behind the real one. */
function fakeWall(startAtMs: number) {
  const state = { skew: Date.now() - startAtMs };
  return { state, wall: () => Date.now() - state.skew };
}

async function fixtureRoot(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "nvr-timesync-" });
  await Deno.mkdir(`${root}/run/systemd/timesync`, { recursive: true });
  await Deno.mkdir(`${root}/sys/class`, { recursive: true });
  return root;
}

const synced = (root: string) =>
  Deno.writeTextFile(`${root}/run/systemd/timesync/synchronized`, "");

async function waitFor<T>(
  what: string,
  get: () => T | null,
  dump: () => unknown = () => null,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = get();
    if (value !== null) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(dump()).slice(0, 3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const segments = (index: SegmentIndex) =>
  index.range("cam", ALL[0], ALL[1]).sort((a, b) => a.startMs - b.startMs);

function harnessConfig(url: string) {
  return {
    recording: { camerasPerProcess: 0 },
    cameras: [{ id: "cam", url, codec: "h264" }],
  };
}

Deno.test("a board booted in 1970 records at once; when timesyncd syncs, its segments are re-stamped to within a second of the truth, none indexed before the build date, none lost", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-clock-" });
  const root = await fixtureRoot();
  try {
    await using camera = await startVirtualCamera({
      codec: "h264",
      width: 320,
      height: 240,
      fps: 15,
    });
    const clock = fakeWall(5_000); // five seconds after the epoch
    const recordingFrom = Date.now();
    await using h = await startHarness(harnessConfig(camera.rtspUrl), {
      dir,
      now: clock.wall,
      clock: {
        wall: clock.wall,
        mono: () => performance.now(),
        bootId: "boot-one",
        timesyncRoot: root,
        sysRoot: `${root}/sys`,
        pollMs: 200,
      },
    });
    // Recording starts at once, flagged, with names that claim no date.
    const before = await waitFor("three unsynced segments", () => {
      const list = segments(h.index());
      return list.length >= 3 ? list : null;
    }, () => [h.camera("cam"), h.log.lines.slice(-15)]);
    for (const s of before) {
      assertEquals(s.clock, "unsynced", s.path);
      assert(s.startMs >= BUILD_FLOOR_MS, `${s.path} estimated after the build date`);
      assert(s.path.startsWith("recordings/cam/unsynced/bootone/"), s.path);
    }
    // The clock is synced: the real time, and timesyncd's file.
    const syncedAt = Date.now();
    clock.state.skew = 0;
    await synced(root);
    const after = await waitFor("re-stamped, and two segments after the sync", () => {
      const list = segments(h.index());
      const later = list.filter((s) => s.clock === null && s.startMs >= syncedAt);
      return later.length >= 2 && list.every((s) => s.clock === null) ? list : null;
    });
    const restamped = after.filter((s) => before.some((b) => b.id === s.id));
    assertEquals(restamped.length, before.length, "no segment lost");
    for (const s of after) {
      assert(s.startMs >= BUILD_FLOOR_MS, `${s.path} indexed at ${new Date(s.startMs)}`);
      assert(await Deno.stat(`${dir}/data/${s.path}`), s.path);
    }
    // Placed when they were really recorded: after the daemon started, before the sync...
    assert(restamped[0]!.startMs >= recordingFrom - 1_000, "first one not before the start");
    assert(restamped.at(-1)!.startMs <= syncedAt + 1_000, "re-stamped ones before the sync");
    // ...and back to back with what was recorded after it, within a second.
    for (let i = 1; i < after.length; i++) {
      const hole = after[i]!.startMs - after[i - 1]!.endMs;
      assert(Math.abs(hole) < 1_000, `${after[i - 1]!.path} → ${after[i]!.path}: ${hole} ms`);
    }
    const events = h.index().recentEvents(50).filter((e) => e.kind === "clock-synced");
    assertEquals(events.length, 1);
    assert(Number(events[0]!.detail.segments) >= before.length, JSON.stringify(events[0]));
    assert(Number(events[0]!.detail.jumpMs) > 50 * 365 * 86_400_000, "the 1970 jump reported");
    const gaps = h.index().recentEvents(50).filter((e) => e.kind === "recording-gap");
    assertEquals(gaps, [], "the jump is not taken for a hole in the recording");
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("an earlier boot that never synced: its segments stay flagged after a restart that syncs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-clock-" });
  const root = await fixtureRoot();
  try {
    await using camera = await startVirtualCamera({
      codec: "h264",
      width: 320,
      height: 240,
      fps: 15,
    });
    let first: IndexedSegment[];
    {
      const clock = fakeWall(5_000);
      await using h = await startHarness(harnessConfig(camera.rtspUrl), {
        dir,
        now: clock.wall,
        clock: { wall: clock.wall, bootId: "boot-one", timesyncRoot: root, pollMs: 200 },
      });
      first = await waitFor("two unsynced segments", () => {
        const list = segments(h.index());
        return list.length >= 2 ? list : null;
      });
    } // power cut before any sync: the next boot has another boot id and a synced clock
    await synced(root);
    await using h = await startHarness(harnessConfig(camera.rtspUrl), {
      dir,
      clock: { bootId: "boot-two", timesyncRoot: root, pollMs: 200 },
    });
    await waitFor("two segments of the synced boot", () => {
      const list = segments(h.index()).filter((s) => s.clock === null);
      return list.length >= 2 ? list : null;
    });
    const old = segments(h.index()).filter((s) => first.some((f) => f.id === s.id));
    assert(old.length >= first.length, "none lost");
    for (const s of old) assertEquals(s.clock, "unsynced", `${s.path} still time unknown`);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("attack: clock set back to 1970 by a hostile NTP answer — recordings keep their order and retention does not delete them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-clock-" });
  const root = await fixtureRoot();
  try {
    await synced(root); // trusted from the start
    await using camera = await startVirtualCamera({
      codec: "h264",
      width: 320,
      height: 240,
      fps: 15,
    });
    const clock = fakeWall(Date.now());
    await using h = await startHarness(harnessConfig(camera.rtspUrl), {
      dir,
      now: clock.wall,
      clock: { wall: clock.wall, bootId: "boot-one", timesyncRoot: root, pollMs: 200 },
    });
    const good = await waitFor("two segments under the synced clock", () => {
      const list = segments(h.index());
      return list.length >= 2 ? list : null;
    });
    clock.state.skew = Date.now() - 5_000; // the hostile answer: 1970; timesyncd still "synced"
    const later = await waitFor("two segments after the step back", () => {
      const list = segments(h.index()).filter((s) => s.clock === "unsynced");
      return list.length >= 2 ? list : null;
    });
    const all = segments(h.index());
    for (const s of all) assert(s.startMs >= BUILD_FLOOR_MS, `${s.path} not in 1970`);
    // Recorded after the good ones, and placed after them.
    assert(later[0]!.startMs >= good.at(-1)!.endMs - 1_000, "order kept");
    const ids = all.map((s) => s.id);
    assertEquals(ids, [...ids].sort((a, b) => a - b), "start order is recording order");
    // Retention by age at the box's (1970) time deletes nothing; short of space, it would take
    // the oldest recording first, not the ones made after the step back.
    const result = await sweepRetention({
      index: h.index,
      dataDir: `${dir}/data`,
      policy: {
        maxBytes: null,
        minFreeBytes: 0,
        minFreePercent: 0,
        retentionDays: 1,
        cameraRetentionDays: {},
      },
      log: memoryLogger("error"),
      now: clock.wall,
    });
    assertEquals(result.deleted, 0);
    assertEquals(h.index().oldest(1)[0]?.id, good[0]!.id);
    const events = h.index().recentEvents(50).filter((e) => e.kind === "clock-jump");
    assert(events.length >= 1 && events[0]!.detail.trusted === false, JSON.stringify(events));
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
