import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { IndexTooNewError, MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";
import { SegmentIndex, type SegmentRecord, UnknownSegmentError } from "./segment_index.ts";

const MIN = 60_000;
const seg = (camera: string, startMs: number, extra: Partial<SegmentRecord> = {}) => ({
  camera,
  startMs,
  endMs: startMs + MIN,
  bytes: 1000,
  codec: "h265",
  path: `recordings/${camera}/${startMs}.mp4`,
  ...extra,
});

async function withTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-index-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("migrations are numbered 1, 2, ... in order", () => {
  assertEquals(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
  assertEquals(SCHEMA_VERSION, MIGRATIONS.length);
});

Deno.test("a v1 index file (before numbered migrations) migrates in place", async () => {
  await withTempDir((dir) => {
    const file = `${dir}/index.sqlite`;
    const old = new DatabaseSync(file);
    old.exec("PRAGMA journal_mode = WAL");
    old.exec(MIGRATIONS[0]?.sql ?? "");
    const insert = old.prepare(
      "INSERT INTO segments (camera, start_ms, end_ms, bytes, codec, path) VALUES (?,?,?,?,?,?)",
    );
    insert.run("cam1", 0, 10_000, 500, "h265", "a.mp4");
    insert.run("cam1", 10_000, 95_000, 700, "h265", "b.mp4");
    insert.run("cam2", 5_000, 15_000, 300, "h264", "c.mp4");
    assertEquals(old.prepare("PRAGMA user_version").get()?.user_version, 0);
    old.close();

    {
      using index = SegmentIndex.open(file);
      const rows = index.range("cam1", 0, 1e12);
      assertEquals(rows.map((s) => [s.path, s.width, s.height, s.locked]), [
        ["a.mp4", null, null, false],
        ["b.mp4", null, null, false],
      ]);
      assertEquals(index.totals(), [
        { camera: "cam1", bytes: 1200, count: 2, oldestMs: 0 },
        { camera: "cam2", bytes: 300, count: 1, oldestMs: 5_000 },
      ]);
      // The 85 s segment b is found from inside it: the search bound covers migrated rows.
      assertEquals(index.range("cam1", 90_000, 91_000).map((s) => s.path), ["b.mp4"]);
    }
    const check = new DatabaseSync(file);
    assertEquals(check.prepare("PRAGMA user_version").get()?.user_version, SCHEMA_VERSION);
    check.close();
    // Opening again applies nothing and keeps the rows.
    using again = SegmentIndex.open(file);
    assertEquals(again.range("cam2", 0, 1e12).length, 1);
  });
});

Deno.test("an index from a newer firmware is refused, not changed", async () => {
  await withTempDir((dir) => {
    const file = `${dir}/index.sqlite`;
    const db = new DatabaseSync(file);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assertThrows(() => SegmentIndex.open(file), IndexTooNewError, "Update the firmware");
  });
});

Deno.test("segments: size, locks, oldest, totals, remove, hasPath, lastSegmentEnd", async () => {
  await withTempDir((dir) => {
    using index = SegmentIndex.open(`${dir}/index.sqlite`);
    assertEquals(index.lastSegmentEnd("cam1"), null);
    const a = index.add(seg("cam1", 0, { width: 1280, height: 720 }));
    const b = index.add(seg("cam1", MIN));
    const c = index.add(seg("cam2", MIN / 2));
    const d = index.add(seg("cam2", 3 * MIN));
    assertEquals(index.segment(a)?.width, 1280);
    assertEquals(index.segment(b)?.height, null);
    // Re-adding the same path updates the row and keeps the size.
    assertEquals(index.add(seg("cam1", 0, { bytes: 1500 })), a);
    assertEquals(index.segment(a)?.bytes, 1500);
    assertEquals(index.segment(a)?.width, 1280);

    assertEquals(index.lastSegmentEnd("cam1"), 2 * MIN);
    assertEquals(index.lastSegmentEnd("cam2"), 4 * MIN);
    assertEquals(index.oldest(10).map((s) => s.id), [a, c, b, d]);
    assertEquals(index.oldest(2).map((s) => s.id), [a, c]);
    assertEquals(index.oldest(10, { camera: "cam2" }).map((s) => s.id), [c, d]);
    assertEquals(index.oldest(10, { beforeMs: 2 * MIN }).map((s) => s.id), [a, c, b]);

    index.setLocked(a, true);
    assertEquals(index.segment(a)?.locked, true);
    assertEquals(index.oldest(10).map((s) => s.id), [c, b, d]);
    assertThrows(() => index.setLocked(9999, true), UnknownSegmentError, "id 9999");
    // A range locks what overlaps it, of that camera only; unlocking gives them back.
    assertEquals(index.setLockedRange("cam2", MIN / 2 + 1, 3 * MIN + 1, true), 2);
    assertEquals(index.oldest(10).map((s) => s.id), [b]);
    assertEquals(index.setLockedRange("cam2", 0, 3 * MIN, false), 1);
    assertEquals(index.oldest(10).map((s) => s.id), [c, b]);
    assertEquals(index.setLockedRange("cam2", 5 * MIN, 6 * MIN, true), 0);
    index.setLockedRange("cam2", 0, 6 * MIN, false);

    assertEquals(index.totals(), [
      { camera: "cam1", bytes: 2500, count: 2, oldestMs: 0 },
      { camera: "cam2", bytes: 2000, count: 2, oldestMs: MIN / 2 },
    ]);
    index.remove(c);
    index.remove(d);
    index.remove(d);
    assertEquals(index.totals().map((t) => t.camera), ["cam1"]);
    assert(index.hasPath(`recordings/cam1/${MIN}.mp4`));
    assert(!index.hasPath(`recordings/cam2/${MIN / 2}.mp4`));
  });
});

Deno.test("gaps and events are stored and queried by time", async () => {
  await withTempDir((dir) => {
    using index = SegmentIndex.open(`${dir}/index.sqlite`);
    const g1 = index.addGap({ camera: "cam1", startMs: 1000, endMs: 5000, reason: "unreachable" });
    index.addGap({ camera: "cam1", startMs: 9000, endMs: 9500, reason: "disk-full" });
    index.addGap({ camera: "cam2", startMs: 1000, endMs: 5000, reason: "unreachable" });
    assertEquals(index.gaps("cam1", 4000, 9000), [
      { id: g1, camera: "cam1", startMs: 1000, endMs: 5000, reason: "unreachable" },
    ]);
    assertEquals(index.gaps("cam1", 0, 1e12).map((g) => g.reason), ["unreachable", "disk-full"]);
    assertThrows(
      () => index.addGap({ camera: "cam1", startMs: 5, endMs: 1, reason: "x" }),
      RangeError,
      "camera 'cam1'",
    );

    index.addEvent({ camera: null, tsMs: 100, kind: "retention", detail: { deleted: 3 } });
    index.addEvent({ camera: "cam1", tsMs: 200, kind: "camera-offline" });
    index.addEvent({ camera: "cam2", tsMs: 300, kind: "camera-offline" });
    assertEquals(
      index.events(0, 1000).map((e) => [e.camera, e.tsMs, e.kind, e.detail]),
      [
        [null, 100, "retention", { deleted: 3 }],
        ["cam1", 200, "camera-offline", {}],
        ["cam2", 300, "camera-offline", {}],
      ],
    );
    assertEquals(index.events(150, 300).map((e) => e.tsMs), [200]);
    assertEquals(index.events(0, 1000, "cam2").map((e) => e.tsMs), [300]);
    // A camera's timeline marks: its events and box-wide sensor alarms, not other box-wide ones.
    index.addEvent({ camera: null, tsMs: 400, kind: "sensor-alarm", detail: { sensor: "door" } });
    assertEquals(index.cameraMarks(0, 1000, "cam2").map((e) => [e.tsMs, e.kind]), [
      [300, "camera-offline"],
      [400, "sensor-alarm"],
    ]);
    assertEquals(index.cameraMarks(0, 350, "cam1").map((e) => e.tsMs), [200]);
  });
});

Deno.test("truncateJournal gives the write-ahead log's disk space back (room on a full disk)", async () => {
  await withTempDir((dir) => {
    using index = SegmentIndex.open(`${dir}/index.sqlite`);
    for (let i = 0; i < 200; i++) {
      index.add(seg("cam1", i * MIN));
      index.setLockedRange("cam1", 0, (i + 1) * MIN, true); // an operator's lock, again and again
    }
    const wal = () => Deno.statSync(`${dir}/index.sqlite-wal`).size;
    assert(wal() > 100_000, `the log grew with the writes (${wal()} bytes)`);
    index.truncateJournal();
    assertEquals(wal(), 0);
    assertEquals(index.range("cam1", 0, 1e12).length, 200, "nothing lost");
  });
});
