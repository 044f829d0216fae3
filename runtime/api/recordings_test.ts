import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { ffprobe } from "../testing/ffprobe.ts";
import { Pipeline } from "../gst/mod.ts";
import { SegmentIndex } from "../storage/mod.ts";
import type { CameraStatus } from "../recorder/mod.ts";
import { EMPTY_STATS } from "../recorder/mod.ts";
import { type CameraAccess, createRecordingsApp } from "./recordings.ts";

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

/** Signed in as a user who sees only `visible` (the users module decides this in the daemon). */
function access(visible: string[]): CameraAccess {
  return {
    requireUser: async (_c, next) => await next(),
    canSee: (_c, camera) => visible.includes(camera),
  };
}

Deno.test("recordings API: range query, download by id, clip export, and refusals", async () => {
  const { dir, index } = await fixture();
  try {
    const deps = {
      dataDir: dir,
      index: () => index,
      cameras: () => [status("cam1"), status("cam2")],
      snapshot: () => Promise.reject(new Error("not recording")),
    };
    const app = createRecordingsApp({ ...deps, access: access(["cam1"]) });
    const t0 = Date.UTC(2026, 10, 25, 12, 0, 0);

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

    const clip = await app.request(`/recordings/export?camera=cam1&from=${t0}&to=${t0 + 3000}`);
    assertEquals(clip.status, 200);
    await Deno.writeFile(`${dir}/clip.mp4`, new Uint8Array(await clip.arrayBuffer()));
    const probe = await ffprobe(`${dir}/clip.mp4`);
    assertEquals([probe.codec, probe.frames], ["hevc", 45]);

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
  } finally {
    index.close();
    await Deno.remove(dir, { recursive: true });
  }
});
