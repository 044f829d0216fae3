import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { ffprobe } from "../testing/ffprobe.ts";
import { Pipeline } from "../gst/mod.ts";
import { SegmentIndex } from "../storage/mod.ts";
import type { CameraStatus } from "../recorder/mod.ts";
import { EMPTY_STATS } from "../recorder/mod.ts";
import { type CameraAccess, createRecordingsApp } from "./recordings.ts";
import { ExportJobs } from "../playback/export_jobs.ts";

/** POST /exports: asks for an export job. */
function askExport(
  app: { request: (p: string, i?: RequestInit) => Response | Promise<Response> },
  body: unknown,
) {
  return app.request("/exports", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Three real 1 s H.265 segments of "cam1", indexed, in a temp data folder. */
async function fixture(): Promise<{ dir: string; index: SegmentIndex }> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-api-" });
  await Deno.mkdir(`${dir}/recordings/cam1/x`, { recursive: true });
  await using p = Pipeline.parse(
    "videotestsrc num-buffers=45 ! video/x-raw,width=160,height=120,framerate=15/1,format=I420 ! " +
      "x265enc speed-preset=ultrafast key-int-max=15 ! h265parse ! " +
      `splitmuxsink location=${dir}/recordings/cam1/x/s%02d.mp4 max-size-time=1100000000 ` +
      'async-finalize=true muxer-factory=mp4mux muxer-properties="properties,fragment-duration=(uint)500"',
    { name: "fixture" },
  );
  p.play();
  for (let i = 0; i < 100 && (await p.next(1000))?.type !== "eos"; i++);
  const index = SegmentIndex.open(`${dir}/index.sqlite`);
  const t0 = Date.UTC(2026, 10, 25, 12, 0, 0);
  for (let i = 0; i < 3; i++) {
    const path = `recordings/cam1/x/s0${i}.mp4`;
    const bytes = (await Deno.stat(`${dir}/${path}`)).size;
    index.add({
      camera: "cam1",
      startMs: t0 + i * 1000,
      endMs: t0 + (i + 1) * 1000,
      bytes,
      codec: "h265",
      path,
    });
  }
  return { dir, index };
}

const status = (id: string): CameraStatus => ({
  id,
  state: "recording",
  lastError: null,
  restarts: 0,
  segments: 3,
  lastSegmentEndMs: null,
  plan: { mode: "passthrough", codec: "h265", reason: "" },
  stats: EMPTY_STATS,
});

/** The recordings app's data: cam1 with the fixture's segments, cam2 with none, no snapshots. */
function depsOf(dir: string, index: SegmentIndex) {
  return {
    dataDir: dir,
    index: () => index,
    cameras: () => [status("cam1"), status("cam2")],
    snapshot: () => Promise.reject(new Error("not recording")),
  };
}

/**
 * Signed in as a user who sees only `visible` and may keep recordings or not (the users module
 * decides both in the daemon); what they do is appended to `audited`.
 */
function access(visible: string[], operator = true, audited: string[] = []): CameraAccess {
  return {
    requireUser: async (_c, next) => await next(),
    requireOperator: async (c, next) => {
      if (!operator) return c.json({ error: { code: "forbidden" } }, 403);
      await next();
    },
    canSee: (_c, camera) => visible.includes(camera),
    audit: (_c, action, target) => audited.push(`${action} ${target}`),
  };
}

/** The fixture behind a recordings app of an operator who sees cam1; cleaned up after `fn`. */
async function withRecordings(
  fn: (t: {
    dir: string;
    index: SegmentIndex;
    deps: ReturnType<typeof depsOf> & { exports: () => ExportJobs };
    audited: string[];
    app: ReturnType<typeof createRecordingsApp>;
    t0: number;
    jobs: ExportJobs;
  }) => Promise<void>,
  opts: { maxWaiting?: number } = {},
): Promise<void> {
  const { dir, index } = await fixture();
  const audited: string[] = [];
  const jobs = ExportJobs.open({
    dataDir: dir,
    index: () => index,
    audit: (e) => audited.push(`${e.action} ${e.outcome} ${e.target.replace(/ export \S+/, "")}`),
    ...opts,
  });
  try {
    const deps = { ...depsOf(dir, index), exports: () => jobs };
    const app = createRecordingsApp({ ...deps, access: access(["cam1"], true, audited) });
    await fn({ dir, index, deps, audited, app, t0: Date.UTC(2026, 10, 25, 12, 0, 0), jobs });
  } finally {
    await jobs.close();
    index.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("recordings API: range query, download by id, clip export (kept), and refusals", async () => {
  await withRecordings(async ({ dir, index, audited, app, t0, jobs }) => {
    const list = await app.request(`/recordings?camera=cam1&from=${t0}&to=${t0 + 10_000}`);
    assertEquals(list.status, 200);
    const body = await list.json();
    assertEquals(body.segments.length, 3);
    assertEquals(body.segments[0].startMs, t0);

    const iso = await app.request(
      `/recordings?camera=cam1&from=2026-11-25T12:00:01Z&to=2026-11-25T12:00:02Z`,
    );
    assertEquals((await iso.json()).segments.length, 1);

    const id = body.segments[1].id;
    const file = await app.request(`/recordings/${id}/download`);
    assertEquals(file.status, 200);
    const bytes = new Uint8Array(await file.arrayBuffer());
    assertEquals(bytes, await Deno.readFile(`${dir}/recordings/cam1/x/s01.mp4`));

    const asked = await askExport(app, { camera: "cam1", from: t0, to: t0 + 3000 });
    assertEquals(asked.status, 201);
    const { url, id: jobId } = await asked.json();
    assertEquals(url, `/api/exports/${jobId}/download`);
    await jobs.idle();
    const listed = (await (await app.request("/exports")).json()).exports;
    assertEquals(listed.map((j: { state: string }) => j.state), ["done"]);
    // Downloaded any time later, as often as wanted.
    for (let i = 0; i < 2; i++) {
      const clip = await app.request(url.replace(/^\/api/, ""));
      assertEquals(clip.status, 200);
      assertMatch(clip.headers.get("content-disposition")!, /^attachment; filename="cam1-/);
      await Deno.writeFile(`${dir}/clip.mp4`, new Uint8Array(await clip.arrayBuffer()));
    }
    const probe = await ffprobe(`${dir}/clip.mp4`);
    assertEquals([probe.codec, probe.frames], ["hevc", 45]);
    // The exported segments are kept until an operator releases them; all was audited.
    assertEquals(index.range("cam1", t0, t0 + 3000).map((s) => s.locked), [true, true, true]);
    const range = "2026-11-25T12:00:00.000Z/2026-11-25T12:00:03.000Z";
    assertEquals(
      audited.map((a) => a.replace(/ export \S+/, "").replace(/ \(\d+ segments.*/, "")),
      [
        `recording.download cam1 segment ${id} s01.mp4`,
        `export.create cam1 ${range}`,
        `recording.export ok cam1 ${range}`,
        "export.download cam1",
        "export.download cam1",
      ],
    );
    const del = await app.request(url.replace(/^\/api/, "").replace(/\/download$/, ""), {
      method: "DELETE",
    });
    assertEquals(del.status, 200);
    assertEquals((await app.request(url.replace(/^\/api/, ""))).status, 404);
    assertEquals(index.range("cam1", t0, t0 + 3000).map((s) => s.locked), [true, true, true]);

    // Refusals: a camera this user may not see looks like no camera at all; paths are never
    // taken from the request; bad input names the field.
    assertEquals(
      (await app.request(`/recordings?camera=cam2&from=${t0}&to=${t0 + 1}`)).status,
      404,
    );
    for (const bad of ["..%2F..%2Fetc%2Fpasswd", "1%20OR%201=1", "-1", "99999"]) {
      const res = await app.request(`/recordings/${bad}/download`);
      assertEquals(res.status, 404, bad);
      await res.body?.cancel();
    }
    const injected = await app.request(
      `/recordings?camera=${encodeURIComponent("cam1' OR '1'='1")}&from=0&to=1`,
    );
    assertEquals(injected.status, 400);
    const reversed = await app.request(`/recordings?camera=cam1&from=${t0 + 5}&to=${t0}`);
    assertEquals(reversed.status, 400);
    assertMatch(await reversed.text(), /to: must be after from/);
    const cams = await (await app.request("/cameras")).json();
    assertEquals(cams.cameras.map((c: CameraStatus) => c.id), ["cam1"]);
    const snap = await app.request("/cameras/cam1/snapshot");
    assertEquals(snap.status, 503);
    assert(true);
  });
});

Deno.test("recordings API: operators keep and release recordings; viewers may not; bad input named", async () => {
  await withRecordings(async ({ dir, index, deps, audited, app, t0, jobs }) => {
    const lock = (body: unknown, on = app) =>
      on.request("/recordings/lock", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const kept = () => index.range("cam1", t0, t0 + 3000).map((s) => s.locked);

    const res = await lock({ camera: "cam1", from: t0 + 1500, to: "2026-11-25T12:00:03Z" });
    assertEquals(res.status, 200);
    assertEquals((await res.json()).segments, 2);
    assertEquals(kept(), [false, true, true]);
    const released = await lock({ camera: "cam1", from: t0, to: t0 + 2000, locked: false });
    assertEquals((await released.json()).segments, 2);
    assertEquals(kept(), [false, false, true]);
    assertEquals(audited, [
      "recording.lock cam1 2026-11-25T12:00:01.500Z/2026-11-25T12:00:03.000Z (2 segments)",
      "recording.unlock cam1 2026-11-25T12:00:00.000Z/2026-11-25T12:00:02.000Z (2 segments)",
    ]);

    for (
      const [body, message] of [
        [{ camera: "cam1", from: t0 }, /to: give a time/],
        [{ camera: "cam1", from: t0, to: t0 + 1, locked: "yes" }, /locked: true keeps/],
        [{ from: t0, to: t0 + 1 }, /camera: give a camera id/],
        [[1, 2], /must be a JSON object/],
      ] as const
    ) {
      const bad = await lock(body);
      assertEquals(bad.status, 400, JSON.stringify(body));
      assertMatch(await bad.text(), message);
    }
    const hidden = await lock({ camera: "cam2", from: t0, to: t0 + 1 });
    assertEquals(hidden.status, 404);
    await hidden.body?.cancel();

    const viewer = createRecordingsApp({ ...deps, access: access(["cam1"], false) });
    for (
      const res of [
        await lock({ camera: "cam1", from: t0, to: t0 + 3000 }, viewer),
        await askExport(viewer, { camera: "cam1", from: t0, to: t0 + 3000 }),
      ]
    ) {
      assertEquals(res.status, 403);
      await res.body?.cancel();
    }
    assertEquals(kept(), [false, false, true]);

    // A segment whose file is gone: the job fails and says so instead of a broken clip; the
    // locks it added are released again.
    await Deno.remove(`${dir}/recordings/cam1/x/s00.mp4`);
    const gone = await askExport(app, { camera: "cam1", from: t0, to: t0 + 3000 });
    assertEquals(gone.status, 201);
    await jobs.idle();
    const failed = (await (await app.request("/exports")).json()).exports[0];
    assertEquals(failed.state, "failed");
    assertMatch(failed.error, /1 of the 3 segments in that time are no longer on disk/);
    assertEquals(kept(), [false, false, true]);
    assertMatch(audited.at(-1)!, /^recording\.export failed .*failed: 1 of the 3 segments/);
  });
});

Deno.test("attack: export via GET locks segments", async () => {
  await withRecordings(async ({ index, audited, app, t0 }) => {
    // What an <img src> on any page could make an operator's browser fetch.
    const res = await app.request(`/recordings/export?camera=cam1&from=${t0}&to=${t0 + 3000}`);
    assert(res.status === 404 || res.status === 405, `GET export answered ${res.status}`);
    await res.body?.cancel();
    assertEquals(index.range("cam1", t0, t0 + 3000).map((s) => s.locked), [false, false, false]);
    assertEquals(audited, []);
    // A guessed export URL is nothing either.
    const guessed = await app.request(`/exports/${crypto.randomUUID()}/download`);
    assertEquals(guessed.status, 404);
    await guessed.body?.cancel();
    assertEquals(index.range("cam1", t0, t0 + 3000).map((s) => s.locked), [false, false, false]);
  });
});

Deno.test("attack: many concurrent exports exhaust the box (429 + Retry-After)", async () => {
  await withRecordings(async ({ app, t0, jobs }) => {
    const ask = () => askExport(app, { camera: "cam1", from: t0, to: t0 + 3000 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await ask();
      assertEquals(res.status, 201);
      ids.push((await res.json()).id);
    }
    // Two run (two ffmpeg processes at most); the third waits, queued.
    assertEquals(ids.map((id) => jobs.get(id)!.state), ["running", "running", "queued"]);
    assertEquals(jobs.running, 2);
    // Beyond the queue: refused, not queued.
    const fourth = await ask();
    assertEquals(fourth.status, 429);
    assertEquals(fourth.headers.get("retry-after"), "10");
    assertMatch((await fourth.json()).error.message, /3 exports are queued or running/);
    await jobs.idle();
    assertEquals(ids.map((id) => jobs.get(id)!.state), ["done", "done", "done"]);
    assertEquals((await ask()).status, 201);
    await jobs.idle();
  }, { maxWaiting: 3 });
});
