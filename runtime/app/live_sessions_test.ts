/**
 * The sessions the camera sees (issue 14: one session to each camera stream, shared by the
 * recorder and every viewer): the virtual camera counts PLAYs per mount (countSessions), the
 * real daemon records it and live viewers come and go over real TLS sockets.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { type MountCount, startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { readFrames, signIn, upgrade } from "../testing/live_ws_client.ts";
import { daemonHttps } from "../testing/https_client.ts";

type Harness = Awaited<ReturnType<typeof startHarness>>;

const VIEWERS = 3;

async function waitFor(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A viewer that got its init and 20 kB of pictures; its socket, to close later. */
async function watch(h: Harness, cookie: string, codecs: string): Promise<{
  conn: Deno.TlsConn;
  source: string;
}> {
  const origin = `https://127.0.0.1:${h.daemon.listen.port}`;
  const { conn, head, rest } = await upgrade(h, "lane", { Cookie: cookie, Origin: origin }, codecs);
  assert(head.startsWith("HTTP/1.1 101"), head);
  const r = await readFrames(conn, rest, 20_000, 30_000);
  assert(!r.closed && r.binary >= 20_000, `a viewer gets pictures (${JSON.stringify(r.texts)})`);
  const init = JSON.parse(r.texts[0] ?? "{}");
  return { conn, source: String(init.source) };
}

/** A live.mp4 viewer (a browser without WebSocket or MSE) that got 20 kB; its reader. */
async function watchMp4(
  https: ReturnType<typeof daemonHttps>,
  cookie: string,
): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const res = await https.fetch("/api/cameras/lane/live.mp4", { headers: { Cookie: cookie } });
  assertEquals(res.status, 200, await (res.ok ? "" : res.text()));
  const reader = res.body!.getReader();
  let bytes = 0;
  const deadline = Date.now() + 30_000;
  while (bytes < 20_000) {
    if (Date.now() > deadline) throw new Error(`live.mp4 gave ${bytes} bytes in 30 s`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`live.mp4 ended after ${bytes} bytes`);
    bytes += value.length;
  }
  return reader;
}

Deno.test("live sessions: N viewers of the main stream add none to the recorder's; N of the sub-stream (live.ws and live.mp4) share one, closed ~5 s after the last leaves", async () => {
  await using cam = await startVirtualCamera({
    codec: "h265",
    width: 320,
    height: 240,
    fps: 15,
    countSessions: true,
  });
  await using h = await startHarness({
    http: { listen: "127.0.0.1:0", liveViewersPerCamera: 2 * VIEWERS + 1 },
    cameras: [{ id: "lane", url: cam.rtspUrl, subUrl: cam.subUrl }],
  });
  await h.until("lane", (s) => s.state === "recording", "lane records");
  const sessions = (mount: string): MountCount => cam.sessions()[mount] ?? { plays: 0, playing: 0 };
  await waitFor("the recorder's session", () => sessions("/main").playing === 1);
  const recorderPlays = sessions("/main").plays;
  const cookie = await signIn(h);
  const open: Deno.TlsConn[] = [];
  const mp4: ReadableStreamDefaultReader<Uint8Array>[] = [];
  using https = daemonHttps(h.daemon);
  try {
    // A browser with H.265: the main stream, restreamed from the recorder's session.
    for (let i = 0; i < VIEWERS; i++) {
      const v = await watch(h, cookie, "h265,h264");
      open.push(v.conn);
      assertEquals(v.source, "main");
    }
    assertEquals(sessions("/main"), { plays: recorderPlays, playing: 1 }, "no session per viewer");
    assertEquals(sessions("/sub").plays, 0, "nobody asked for the sub-stream");
    for (const c of open.splice(0)) c.close();

    // A browser without H.265: the sub-stream, one session shared by all its viewers.
    for (let i = 0; i < VIEWERS; i++) {
      const v = await watch(h, cookie, "h264");
      open.push(v.conn);
      assertEquals(v.source, "sub");
    }
    // Browsers without WebSocket or MSE: live.mp4, from the same session.
    for (let i = 0; i < VIEWERS; i++) mp4.push(await watchMp4(https, cookie));
    assertEquals(sessions("/sub"), { plays: 1, playing: 1 }, "one sub-stream session for all");
    for (const r of mp4.splice(0)) await r.cancel();
    // A viewer leaving and another coming within the grace (a page change) reuses it.
    open.shift()!.close();
    open.push((await watch(h, cookie, "h264")).conn);
    assertEquals(sessions("/sub"), { plays: 1, playing: 1 });

    // The last viewer leaves: the session stays about 5 s, then closes.
    for (const c of open.splice(0)) c.close();
    const left = Date.now();
    await waitFor("the sub-stream session to close", () => sessions("/sub").playing === 0);
    const after = Date.now() - left;
    assert(after >= 4_000, `closed ${after} ms after the last viewer left, not before ~5 s`);
    assertEquals(sessions("/sub").plays, 1);
    assertEquals(sessions("/main"), { plays: recorderPlays, playing: 1 }, "the recorder's stays");
  } finally {
    for (const c of open) c.close();
    for (const r of mp4) await r.cancel().catch(() => {});
  }
});
