import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { SegmentIndex, thumbnailPath } from "../storage/mod.ts";
import { EMPTY_STATS } from "../recorder/mod.ts";
import type { CameraStatus } from "../recorder/mod.ts";
import { recordedSegments, T0 } from "../playback/export_fixture.ts";
import { recordingDays } from "../playback/recording_days.ts";
import { type CameraAccess, createRecordingsApp } from "./recordings.ts";
import { handleApiError } from "./errors.ts";

const status = (id: string): CameraStatus => ({
  id,
  state: "recording",
  lastError: null,
  restarts: 0,
  segments: 0,
  lastSegmentEndMs: null,
  plan: { mode: "passthrough", codec: "h265", reason: "" },
  stats: EMPTY_STATS,
});

function access(visible: string[], audited: string[], signedIn = true): CameraAccess {
  return {
    requireUser: async (c, next) => {
      if (!signedIn) return c.json({ error: { code: "unauthenticated" } }, 401);
      await next();
    },
    requireOperator: async (_c, next) => await next(),
    canSee: (_c, camera) => visible.includes(camera),
    audit: (_c, action, target) => audited.push(`${action} ${target}`),
  };
}

/** cam1: 4 real 1 s segments from T0, then (a gap) 2 more from T0 + 60 s; cam2: nothing. */
async function withPlayback(
  fn: (t: {
    dir: string;
    index: SegmentIndex;
    app: ReturnType<typeof createRecordingsApp>;
    audited: string[];
    appAs: (visible: string[], signedIn?: boolean) => ReturnType<typeof createRecordingsApp>;
  }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-playback-api-" });
  const index = await recordedSegments(dir, [{ width: 160, height: 120, seconds: 4 }]);
  for (const [i, s] of index.range("cam1", T0, T0 + 2_000).entries()) {
    index.add({
      ...s,
      startMs: T0 + 60_000 + i * 1000,
      endMs: T0 + 61_000 + i * 1000,
      path: `${s.path}.later.mp4`,
    });
    await Deno.copyFile(`${dir}/${s.path}`, `${dir}/${s.path}.later.mp4`);
  }
  const audited: string[] = [];
  const appAs = (visible: string[], signedIn = true) => {
    const app = createRecordingsApp({
      dataDir: dir,
      index: () => index,
      cameras: () => [status("cam1"), status("cam2")],
      snapshot: () => Promise.reject(new Error("not recording")),
      access: access(visible, audited, signedIn),
    });
    app.onError(handleApiError);
    return app;
  };
  try {
    await fn({ dir, index, app: appAs(["cam1", "cam2"]), audited, appAs });
  } finally {
    index.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("playback API: days with recordings per time zone, and an empty camera", async () => {
  await withPlayback(async ({ app }) => {
    const utc = await (await app.request("/cameras/cam1/days")).json();
    assertEquals(utc.days, ["2026-11-25"]);
    assertEquals(utc.oldestMs, T0);
    assertEquals(utc.newestMs, T0 + 62_000);
    // 12:00 UTC on 25 November is 01:00 on the 26th in Auckland (UTC+13 in summer).
    const nz = await (await app.request("/cameras/cam1/days?tz=Pacific/Auckland")).json();
    assertEquals([nz.tz, nz.days], ["Pacific/Auckland", ["2026-11-26"]]);
    const empty = await (await app.request("/cameras/cam2/days?tz=Europe/Berlin")).json();
    assertEquals([empty.days, empty.oldestMs, empty.newestMs], [[], null, null]);
  });
});

Deno.test("playback API: a playlist across segment boundaries and a gap, and its parts play", async () => {
  await withPlayback(async ({ app, audited }) => {
    const res = await app.request(
      `/cameras/cam1/playlist.m3u8?from=${T0 + 1_500}&to=${T0 + 120_000}`,
    );
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), "application/vnd.apple.mpegurl");
    const lines = (await res.text()).split("\n");
    assert(lines.includes("#EXT-X-START:TIME-OFFSET=0.500,PRECISE=YES"), lines.join("\n"));
    const media = lines.filter((l) => l.startsWith("/api/recordings/"));
    // 3 of the first run (from 1.5 s: the segment 1–2 s onwards), 2 after the gap.
    assertEquals(media.length, 5);
    assertEquals(lines.filter((l) => l === "#EXT-X-DISCONTINUITY").length, 1);
    assertEquals(media.map((l) => l.split("at=")[1]), ["0", "1000", "2000", "0", "1000"]);
    assert(audited.some((a) => a.startsWith("recording.play cam1 2026-11-25T12:00:01.500Z/")));

    const map = lines.find((l) => l.startsWith("#EXT-X-MAP"))!.match(/URI="([^"]+)"/)![1]!;
    const init = await app.request(map.replace("/api", ""));
    assertEquals([init.status, init.headers.get("content-type")], [200, "video/mp4"]);
    const initBytes = new Uint8Array(await init.arrayBuffer());
    assertEquals(new TextDecoder().decode(initBytes.subarray(4, 8)), "ftyp");
    const part = await app.request(media[1]!.replace("/api", ""));
    assertEquals(part.status, 200);
    const partBytes = new Uint8Array(await part.arrayBuffer());
    assertEquals(new TextDecoder().decode(partBytes.subarray(4, 8)), "moof");

    const empty = await app.request(`/cameras/cam2/playlist.m3u8?from=${T0}&to=${T0 + 60_000}`);
    const text = await empty.text();
    assertEquals(empty.status, 200);
    assert(!text.includes("#EXTINF"), text);
    assert(text.trim().endsWith("#EXT-X-ENDLIST"));
  });
});

Deno.test("attack: playlist request with a range of 10 years — bounded", async () => {
  await withPlayback(async ({ app }) => {
    const tenYears = 10 * 365 * 86_400_000;
    const res = await app.request(`/cameras/cam1/playlist.m3u8?from=${T0 - tenYears}&to=${T0}`);
    assertEquals(res.status, 400);
    assertMatch((await res.json()).error?.message ?? "", /at most 24 hours after from/);
    const day = await app.request(
      `/cameras/cam1/playlist.m3u8?from=${T0 - 86_400_000 + 1}&to=${T0 + 1}`,
    );
    assertEquals(day.status, 200);
  });
});

Deno.test("attack: hostile playback query strings — clear 400s, nothing served", async () => {
  await withPlayback(async ({ app }) => {
    const id = (await (await app.request(`/recordings?camera=cam1&from=${T0}&to=${T0 + 1000}`))
      .json()).segments[0].id;
    const cases: Array<[string, RegExp]> = [
      ["/cameras/cam1/playlist.m3u8", /from: give a time/],
      [`/cameras/cam1/playlist.m3u8?from=${T0}&to=${T0}`, /to: must be after from/],
      ["/cameras/cam1/playlist.m3u8?from=1e400&to=2", /not a time/],
      [`/cameras/cam1/playlist.m3u8?from=${"9".repeat(5000)}&to=1`, /not a time/],
      ["/cameras/..%2F..%2Fetc/playlist.m3u8?from=0&to=1", /camera: give a camera id/],
      ["/cameras/cam1/days?tz=Mars/Olympus_Mons", /tz: 'Mars\/Olympus_Mons' is not a time zone/],
      ["/cameras/cam1/days?tz=%27%3BDROP%20TABLE%20segments", /is not a time zone/],
      [`/cameras/cam1/days?tz=${"A".repeat(500)}`, /is not a time zone/],
      [`/recordings/${id}/media.m4s`, /at: give where the segment starts/],
      [`/recordings/${id}/media.m4s?at=-1`, /at: give/],
      [`/recordings/${id}/media.m4s?at=1e9`, /at: give/],
      [`/recordings/${id}/media.m4s?at=999999999`, /at: give/],
    ];
    for (const [path, message] of cases) {
      const res = await app.request(path);
      assertEquals(res.status, 400, path.slice(0, 80));
      assertMatch((await res.json()).error?.message ?? "", message, path.slice(0, 80));
    }
    for (
      const path of [
        "/recordings/99999/init.mp4",
        "/recordings/1%2F..%2F/media.m4s?at=0",
        "/recordings/abc/thumb.jpg",
      ]
    ) {
      const res = await app.request(path);
      assertEquals(res.status, 404, path);
      await res.body?.cancel();
    }
  });
});

Deno.test("attack: viewer asks for another camera's playlist, parts, days or thumbnails — 404 as if missing", async () => {
  await withPlayback(async ({ appAs, index }) => {
    const other = appAs(["cam2"]);
    const id = index.range("cam1", T0, T0 + 1000)[0]!.id;
    for (
      const path of [
        "/cameras/cam1/days",
        `/cameras/cam1/playlist.m3u8?from=${T0}&to=${T0 + 5000}`,
        `/recordings/${id}/init.mp4`,
        `/recordings/${id}/media.m4s?at=0`,
        `/recordings/${id}/thumb.jpg`,
      ]
    ) {
      const res = await other.request(path);
      assertEquals(res.status, 404, path);
      await res.body?.cancel();
      const anonymous = await appAs(["cam1"], false).request(path);
      assertEquals(anonymous.status, 401, path);
      await anonymous.body?.cancel();
    }
  });
});

Deno.test("playback API: a thumbnail is made once, cached on the data disk, and measured", async () => {
  await withPlayback(async ({ app, dir, index }) => {
    const s = index.range("cam1", T0, T0 + 1000)[0]!;
    const t = performance.now();
    const first = await app.request(`/recordings/${s.id}/thumb.jpg`);
    const made = performance.now() - t;
    assertEquals([first.status, first.headers.get("content-type")], [200, "image/jpeg"]);
    const jpeg = new Uint8Array(await first.arrayBuffer());
    assertEquals([jpeg[0], jpeg[1]], [0xff, 0xd8]);
    const cached = await Deno.readFile(thumbnailPath(dir, "cam1", s.id));
    assertEquals(cached, jpeg);
    const u = performance.now();
    const again = await app.request(`/recordings/${s.id}/thumb.jpg`);
    assertEquals(new Uint8Array(await again.arrayBuffer()), jpeg);
    console.log(
      `thumbnail: made in ${made.toFixed(0)} ms, ${jpeg.length} bytes; cached ${
        (performance.now() - u).toFixed(1)
      } ms`,
    );
  });
});

Deno.test("days with recordings: one index seek a day, fast on 90 days of 10 s segments", () => {
  const dir = Deno.makeTempDirSync({ prefix: "nvr-days-" });
  const index = SegmentIndex.open(`${dir}/index.sqlite`);
  try {
    const count = 90 * 8640;
    const start = Date.UTC(2025, 0, 1);
    // 90 days of one camera, with one missing day (the 41st); the test's time is in making them.
    index.add({
      camera: "c",
      startMs: start,
      endMs: start + 10_000,
      bytes: 1,
      codec: "h264",
      path: "p0",
    });
    bulkInsert(`${dir}/index.sqlite`, start, count, 40);
    const t = performance.now();
    const days = recordingDays(index, "c", "UTC");
    const ms = performance.now() - t;
    assertEquals(days.days.length, 89);
    assert(!days.days.includes("2025-02-10"), "the missing day is not listed");
    assert(ms < 2_000, `took ${ms} ms`);
    console.log(`days of 90 days (${count} segments): ${ms.toFixed(0)} ms`);
  } finally {
    index.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

function bulkInsert(path: string, start: number, count: number, skipDay: number): void {
  const db = new DatabaseSync(path);
  try {
    // One statement (SQLite makes the rows), without the totals trigger and with the index built
    // after: a JS loop of 3 million inserts takes over a minute. The days walk needs neither.
    db.exec("DROP TRIGGER segments_totals_insert; DROP INDEX segments_camera_start");
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $count - 1)
       INSERT INTO segments (camera, start_ms, end_ms, bytes, codec, path)
       SELECT 'c', $start + i * 10000, $start + i * 10000 + 10000, 1, 'h264', 'p' || i
       FROM n WHERE i / 8640 != $skip`,
    ).run({ count, start, skip: skipDay });
    db.exec("CREATE INDEX segments_camera_start ON segments (camera, start_ms)");
  } finally {
    db.close();
  }
}
