import { assertEquals } from "../testing/assert.ts";
import { validateConfig } from "../config/validate.ts";
import type { IndexedSegment } from "./index_rows.ts";
import {
  DAY_MS,
  planDeletions,
  type RetentionPolicy,
  retentionPolicy,
  shortfall,
} from "./retention_plan.ts";

const NOW = Date.UTC(2026, 10, 30);
const HOUR = 3600_000;
const MiB = 2 ** 20;

/** Makes segments ending `ageHours` before NOW, with ids 1, 2, ... */
function segmentMaker() {
  let id = 0;
  return (camera: string, ageHours: number, extra: Partial<IndexedSegment> = {}) =>
    makeSegment(++id, camera, ageHours, extra);
}

function makeSegment(
  id: number,
  camera: string,
  ageHours: number,
  extra: Partial<IndexedSegment>,
): IndexedSegment {
  const endMs = NOW - ageHours * HOUR;
  return {
    id,
    camera,
    startMs: endMs - HOUR,
    endMs,
    bytes: 100 * MiB,
    codec: "h265",
    path: `recordings/${camera}/${endMs}.mp4`,
    width: null,
    height: null,
    locked: false,
    ...extra,
  };
}

const policy = (p: Partial<RetentionPolicy> = {}): RetentionPolicy => ({
  maxBytes: null,
  minFreeBytes: 0,
  minFreePercent: 0,
  retentionDays: null,
  cameraRetentionDays: {},
  ...p,
});

const plan = (
  segments: IndexedSegment[],
  p: RetentionPolicy,
  state: { usedBytes?: number; disk?: { totalBytes: number; availableBytes: number } } = {},
) =>
  planDeletions(
    {
      segments,
      usedBytes: state.usedBytes ?? segments.reduce((s, x) => s + x.bytes, 0),
      disk: state.disk ?? null,
    },
    p,
    NOW,
  ).map((d) => [d.segment.id, d.reason]);

Deno.test("age: each camera's limit, its override, and segments just inside it", () => {
  const segment = segmentMaker();
  const old1 = segment("cam1", 49);
  const edge1 = segment("cam1", 48); // ended exactly 2 days ago: goes
  const young1 = segment("cam1", 47);
  const old2 = segment("cam2", 49); // cam2 keeps 3 days
  const older2 = segment("cam2", 73);
  const p = policy({ retentionDays: 2, cameraRetentionDays: { cam2: 3 } });
  assertEquals(plan([young1, old2, edge1, old1, older2], p), [
    [older2.id, "age"],
    [old1.id, "age"],
    [edge1.id, "age"],
  ]);
  assertEquals(plan([old1, older2], policy()), []);
});

Deno.test("budget: the oldest of any camera go until the recordings fit", () => {
  const segment = segmentMaker();
  const a = segment("cam1", 10);
  const b = segment("cam2", 9);
  const c = segment("cam1", 8);
  const d = segment("cam2", 7);
  // 400 MiB used, 250 MiB allowed: 150 MiB must go, so two segments.
  assertEquals(plan([d, c, b, a], policy({ maxBytes: 250 * MiB })), [
    [a.id, "budget"],
    [b.id, "budget"],
  ]);
  assertEquals(plan([d, c, b, a], policy({ maxBytes: 400 * MiB })), []);
});

Deno.test("locked segments never go, whatever the reason", () => {
  const segment = segmentMaker();
  const a = segment("cam1", 100, { locked: true });
  const b = segment("cam1", 90);
  const c = segment("cam1", 80);
  const p = policy({ retentionDays: 1, maxBytes: 0 });
  assertEquals(plan([a, b, c], p), [[b.id, "age"], [c.id, "age"]]);
  // The locked bytes still count as used: the budget stays short.
  assertEquals(shortfall({ usedBytes: a.bytes, disk: null }, p).budget, a.bytes);
});

Deno.test("free space: the larger of bytes and percent, after what age and budget freed", () => {
  const segment = segmentMaker();
  const a = segment("cam1", 100);
  const b = segment("cam1", 90);
  const c = segment("cam1", 80);
  const d = segment("cam1", 70);
  const disk = { totalBytes: 10_000 * MiB, availableBytes: 250 * MiB };
  // 5 % of 10 000 MiB = 500 MiB free wanted, 250 MiB available: 250 MiB (three segments) go.
  const p = policy({ minFreeBytes: 100 * MiB, minFreePercent: 5 });
  assertEquals(plan([a, b, c, d], p, { disk }), [
    [a.id, "free-space"],
    [b.id, "free-space"],
    [c.id, "free-space"],
  ]);
  // Age takes a; the budget takes b; free space then needs one more.
  const mixed = policy({ minFreeBytes: 500 * MiB, retentionDays: 4, maxBytes: 250 * MiB });
  assertEquals(plan([a, b, c, d], mixed, { disk }), [
    [a.id, "age"],
    [b.id, "budget"],
    [c.id, "free-space"],
  ]);
  // Unknown disk: the free-space rule is skipped.
  assertEquals(plan([a, b], policy({ minFreeBytes: 1e15 })), []);
});

Deno.test("a segment listed twice is deleted once", () => {
  const segment = segmentMaker();
  const a = segment("cam1", 100);
  assertEquals(plan([a, a], policy({ retentionDays: 1 })), [[a.id, "age"]]);
});

Deno.test("the policy comes from the config", () => {
  const config = validateConfig({
    storage: { maxBytes: "1T", minFreeBytes: "1G", minFreePercent: 3, retentionDays: 30 },
    cameras: [
      { id: "door", url: "rtsp://10.0.0.2/s", retentionDays: 90 },
      { id: "yard", url: "rtsp://10.0.0.3/s" },
    ],
  });
  assertEquals(retentionPolicy(config), {
    maxBytes: 2 ** 40,
    minFreeBytes: 2 ** 30,
    minFreePercent: 3,
    retentionDays: 30,
    cameraRetentionDays: { door: 90 },
  });
  assertEquals(DAY_MS, 24 * HOUR);
});
