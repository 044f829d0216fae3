/**
 * 30 days × 32 cameras of 1-minute segments (1 382 400 rows): range() reads through the
 * (camera, start_ms) index with both ends bounded, and returns the right rows. The plan is
 * checked, not the time (timed checks belong to bench/).
 */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "../testing/assert.ts";
import { SegmentIndex } from "./segment_index.ts";

const CAMERAS = 32;
const MINUTES = 30 * 24 * 60;
const T0 = Date.UTC(2026, 10, 1);
const MIN = 60_000;

Deno.test("range() at 30 days × 32 cameras uses the (camera, start_ms) index", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-index-scale-" });
  try {
    const file = `${dir}/index.sqlite`;
    SegmentIndex.open(file).close(); // creates the schema
    // Bulk insert in one statement and one transaction, camera by camera as recorded files
    // would be re-indexed; the triggers keep the totals as add() does.
    const db = new DatabaseSync(file);
    try {
      db.exec(`
        BEGIN;
        WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < ${
        CAMERAS * MINUTES - 1
      })
        INSERT INTO segments (camera, start_ms, end_ms, bytes, codec, path)
        SELECT printf('cam%02d', x / ${MINUTES}),
               ${T0} + (x % ${MINUTES}) * ${MIN},
               ${T0} + (x % ${MINUTES} + 1) * ${MIN},
               1000000, 'h265', printf('%07d.mp4', x)
        FROM n;
        COMMIT;`);
    } finally {
      db.close();
    }

    using index = SegmentIndex.open(file);
    const totals = index.totals();
    assertEquals(totals.length, CAMERAS);
    assertEquals(totals[7], {
      camera: "cam07",
      bytes: MINUTES * 1e6,
      count: MINUTES,
      oldestMs: T0,
    });

    const plan = index.explainRange().join("\n");
    assert(
      /SEARCH segments USING INDEX segments_camera_start \(camera=\? AND start_ms>\? AND start_ms<\?\)/
        .test(plan),
      plan,
    );
    assert(!/SCAN segments/.test(plan), plan);

    // One hour of one camera, starting 30 s into a segment: that segment and 60 more.
    const from = T0 + 15 * 24 * 3600_000 + 30_000;
    const rows = index.range("cam07", from, from + 3600_000);
    assertEquals(rows.length, 61);
    assertEquals(rows[0]?.startMs, from - 30_000);
    assertEquals(rows.at(-1)?.startMs, from - 30_000 + 60 * MIN);
    assert(rows.every((s) => s.camera === "cam07"));
    assertEquals(index.lastSegmentEnd("cam31"), T0 + MINUTES * MIN);
    assertEquals(index.oldest(3).map((s) => [s.camera, s.startMs]), [
      ["cam00", T0],
      ["cam01", T0],
      ["cam02", T0],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
