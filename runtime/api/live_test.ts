import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { EMPTY_STATS } from "../recorder/mod.ts";
import type { CameraStatus } from "../recorder/mod.ts";
import { SegmentIndex } from "../storage/mod.ts";
import { withApi } from "../testing/auth_app.ts";
import { LiveViewerLimit } from "../playback/live_stream.ts";
import { SharedSubStream } from "../playback/sub_stream.ts";
import { chooseLive } from "../playback/live_choice.ts";
import { memoryLogger } from "../lib/log.ts";
import { REDACTED, redactUrl } from "../lib/redact_url.ts";
import { createRecordingsApp } from "./recordings.ts";
import { concat } from "../std/bytes/concat.ts";

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

/** Top-level MP4 box types in `bytes`, in order (a box may continue past the end). */
function boxTypes(bytes: Uint8Array): string[] {
  const types: string[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + 8 <= bytes.length;) {
    const size = view.getUint32(at);
    types.push(new TextDecoder().decode(bytes.subarray(at + 4, at + 8)));
    if (size < 8) break;
    at += size;
  }
  return types;
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The daemon's live choice for one camera with a shared sub-stream (app/daemon.ts). */
function subChoice(id: string, sub: SharedSubStream) {
  return (camera: string, accept: ReadonlySet<"h264" | "h265">) =>
    chooseLive({
      camera,
      mainCodec: "h265",
      main: null,
      sub: camera === id ? sub : null,
    }, accept);
}

Deno.test("live.mp4: viewers of a camera share its one sub-stream session, as fragmented MP4 over a socket", async () => {
  await using cam = await startVirtualCamera({ countSessions: true });
  const dir = await Deno.makeTempDir({ prefix: "nvr-live-" });
  const index = SegmentIndex.open(`${dir}/index.sqlite`);
  const limit = new LiveViewerLimit(2, 16);
  const sub = new SharedSubStream("cam1", () => cam.subUrl, memoryLogger("info"));
  const app = createRecordingsApp({
    dataDir: dir,
    index: () => index,
    cameras: () => [status("cam1"), status("cam2"), status("cam3")],
    snapshot: () => Promise.reject(new Error("no snapshot")),
    access: {
      requireUser: async (_c, next) => await next(),
      requireOperator: async (_c, next) => await next(),
      canSee: (_c, id) => id !== "cam3",
      audit: () => {},
    },
    subUrl: (id) => id === "cam1" ? cam.subUrl : null,
    liveLimit: limit,
    liveChoice: subChoice("cam1", sub),
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  try {
    const cams = await (await app.request("/cameras")).json();
    assertEquals(cams.cameras.map((c: { id: string; live: boolean }) => [c.id, c.live]), [
      ["cam1", true],
      ["cam2", false],
    ]);

    /** A viewer over a real socket: the boxes it read until two fragments came. */
    const view = async (): Promise<string[]> => {
      const res = await fetch(`http://127.0.0.1:${server.addr.port}/cameras/cam1/live.mp4`);
      assertEquals(res.status, 200);
      assertEquals(res.headers.get("content-type"), "video/mp4");
      assertEquals(res.headers.get("cache-control"), "no-store");
      const reader = res.body!.getReader();
      readers.push(reader);
      const chunks: Uint8Array[] = [];
      const t0 = Date.now();
      let boxes: string[] = [];
      while (boxes.filter((b) => b === "moof").length < 2 && Date.now() - t0 < 20_000) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
        boxes = boxTypes(concat(chunks));
      }
      return boxes;
    };
    for (const boxes of [await view(), await view()]) {
      assertEquals(boxes.slice(0, 3), ["ftyp", "moov", "moof"]);
      assert(boxes.filter((b) => b === "moof").length >= 2, `boxes: ${boxes.join(" ")}`);
    }
    assertEquals(limit.viewers("cam1"), 2);
    // Two viewers, one session to the camera (the old path opened one per viewer).
    assertEquals(cam.sessions()["/sub"], { plays: 1, playing: 1 });

    // A third viewer of the same camera is over this test's limit of 2.
    const third = await app.request("/cameras/cam1/live.mp4");
    assertEquals(third.status, 429);
    assertMatch(await third.text(), /Too many live viewers/);

    // The clients go away: the viewer slots are free again.
    for (const r of readers.splice(0)) await r.cancel();
    await until("the viewers to end", () => limit.viewers() === 0);

    // Through app.request too: cancelling the body ends it.
    const again = await app.request("/cameras/cam1/live.mp4");
    assertEquals(again.status, 200);
    const againReader = again.body!.getReader();
    const first = await againReader.read();
    assertEquals(boxTypes(first.value!)[0], "ftyp");
    await againReader.cancel();
    await until("the viewer to end", () => limit.viewers() === 0);
    assertEquals(cam.sessions()["/sub"]?.plays, 1, "still the one session (within its grace)");

    const none = await app.request("/cameras/cam2/live.mp4");
    assertEquals(none.status, 404);
    assertMatch(await none.text(), /cameras\[\]\.subUrl/);
    const hidden = await app.request("/cameras/cam3/live.mp4");
    assertEquals(hidden.status, 404);
    await hidden.body?.cancel();
  } finally {
    for (const r of readers) await r.cancel().catch(() => {});
    sub.close();
    await server.shutdown();
    index.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("live.mp4: 503 naming the sub-stream when it cannot be opened", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-live-" });
  const index = SegmentIndex.open(`${dir}/index.sqlite`);
  // A port nothing listens on: take a free one and close it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const limit = new LiveViewerLimit();
  const sub = new SharedSubStream(
    "cam1",
    () => `rtsp://admin:secret@127.0.0.1:${port}/sub`,
    memoryLogger("error"),
  );
  const app = createRecordingsApp({
    dataDir: dir,
    index: () => index,
    cameras: () => [status("cam1")],
    snapshot: () => Promise.reject(new Error("no snapshot")),
    access: {
      requireUser: async (_c, next) => await next(),
      requireOperator: async (_c, next) => await next(),
      canSee: () => true,
      audit: () => {},
    },
    subUrl: () => `rtsp://admin:secret@127.0.0.1:${port}/sub`,
    liveLimit: limit,
    liveChoice: subChoice("cam1", sub),
    liveOpenTimeoutMs: 3_000,
  });
  try {
    const res = await app.request("/cameras/cam1/live.mp4");
    assertEquals(res.status, 503);
    const text = await res.text();
    // Named as redactUrl shows it (the user kept, the password replaced by the marker).
    assertMatch(text, new RegExp(`rtsp://admin:\\*{3}redacted\\*{3}@127\\.0\\.0\\.1:${port}/sub`));
    assert(!text.includes("secret"), text);
    assertEquals(limit.viewers(), 0);
  } finally {
    sub.close();
    index.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("live.mp4: anonymous requests are refused with 401", async () => {
  await withApi(async (f) => {
    const res = await f.call("GET", "/api/cameras/cam1/live.mp4");
    assertEquals(res.status, 401);
    await res.body?.cancel();
  });
});

Deno.test("live helpers: redacted URL, viewer limits", () => {
  // The one redactUrl (lib/redact_url.ts): no password in what a viewer's error shows.
  assertEquals(redactUrl("rtsp://u:p@h:554/sub"), `rtsp://u:${REDACTED}@h:554/sub`);
  const limit = new LiveViewerLimit(2, 3);
  const a = limit.acquire("a")!;
  assert(limit.acquire("a") !== null);
  assertEquals(limit.acquire("a"), null);
  assert(limit.acquire("b") !== null);
  assertEquals(limit.acquire("c"), null);
  a();
  a();
  assertEquals(limit.viewers(), 2);
  assert(limit.acquire("c") !== null);
});
