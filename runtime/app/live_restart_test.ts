/**
 * Live viewers across recorder restarts, against the real daemon, its recorder process and a
 * virtual camera: a configuration change rebuilds every recorder (new processes), and the camera
 * dropping off the network restarts its recording; a live.ws viewer stays connected through both
 * and its pictures come back (the daemon's relay follows the new feed, media/restream/relay.ts).
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { readFrames, type ReadResult, signIn, upgrade } from "../testing/live_ws_client.ts";
import { daemonRecorderPids } from "../testing/proc.ts";

Deno.test("live.ws: a viewer stays connected through a configuration change and a camera reconnect", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
  await using h = await startHarness({
    cameras: [{ id: "lane", url: cam.rtspUrl, codec: "h264" }],
  });
  await h.until("lane", (s) => s.state === "recording", "lane records");
  const cookie = await signIn(h);
  const origin = `https://127.0.0.1:${h.daemon.listen.port}`;
  const { conn, head, rest } = await upgrade(h, "lane", { Cookie: cookie, Origin: origin });
  try {
    assertMatch(head, /^HTTP\/1\.1 101/);
    let start = rest;
    const texts: string[] = [];
    /** Reads until `bytes` more of pictures came (bounded); fails if the server closed. */
    const more = async (bytes: number, what: string) => {
      const r: ReadResult = await readFrames(conn, start, bytes, 30_000);
      start = r.leftover;
      texts.push(...r.texts);
      assert(!r.closed, `${what}: the viewer was not closed (${r.texts.at(-1)})`);
      assert(r.binary >= bytes, `${what}: pictures came (${r.binary} B)`);
    };
    await more(30_000, "before");

    // A configuration change: every recorder process is replaced.
    const [before] = daemonRecorderPids(h.daemon.recorders);
    await h.daemon.updateConfig((cur) => ({
      ...cur,
      recording: { ...cur.recording, stallSeconds: cur.recording.stallSeconds + 1 },
    }));
    assert(before !== undefined, "a recorder process");
    const until = Date.now() + 20_000;
    let after = before;
    while (after === before && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      after = (daemonRecorderPids(h.daemon.recorders)).find((p) => p !== before) ?? before;
    }
    assert(after !== before, "the recorder process was replaced");
    await more(30_000, "after the configuration change");

    // The camera drops off the network and comes back: its recording restarts.
    await cam.drop();
    await h.until("lane", (s) => s.state !== "recording", "lane notices the camera is gone");
    await cam.restore();
    await h.until("lane", (s) => s.state === "recording", "lane records again", 30_000);
    await more(30_000, "after the camera came back");
    const errors = texts.map((t) => JSON.parse(t)).filter((m) => m.type === "error");
    assertEquals(errors, [], "no error sent to the viewer");
  } finally {
    conn.close();
  }
});
