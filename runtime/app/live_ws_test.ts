/**
 * live.ws against the real daemon over real TLS sockets, the upgrade written by hand so that the
 * Origin, the cookie and whether the client ever reads are the test's to choose
 * (testing/live_ws_client.ts).
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { readFrames, signIn, upgrade } from "../testing/live_ws_client.ts";
import { daemonRecorderPids } from "../testing/proc.ts";

type Harness = Awaited<ReturnType<typeof startHarness>>;

async function withLane(fn: (h: Harness, cookie: string, origin: string) => Promise<void>) {
  await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
  await using h = await startHarness({
    cameras: [{ id: "lane", url: cam.rtspUrl, codec: "h264" }],
  });
  await h.until("lane", (s) => s.state === "recording", "lane records");
  await fn(h, await signIn(h), `https://127.0.0.1:${h.daemon.listen.port}`);
}

Deno.test("attack: live WebSocket from another origin — refused", async () => {
  await withLane(async (h, cookie) => {
    // Same-site pages (another port, a sibling name) would carry the SameSite cookie.
    const { conn, head } = await upgrade(h, "lane", {
      Cookie: cookie,
      Origin: "https://evil.example",
    });
    conn.close();
    assertMatch(head, /^HTTP\/1\.1 403/);
  });
});

Deno.test("attack: live WebSocket without a session — refused", async () => {
  await withLane(async (h, _cookie, origin) => {
    const { conn, head } = await upgrade(h, "lane", { Origin: origin });
    conn.close();
    assertMatch(head, /^HTTP\/1\.1 401/);
  });
});

Deno.test("live.ws: the recorder's session restreamed as an init segment, then a fragment a frame", async () => {
  await withLane(async (h, cookie, origin) => {
    const { conn, head, rest } = await upgrade(h, "lane", { Cookie: cookie, Origin: origin });
    assertMatch(head, /^HTTP\/1\.1 101/);
    const seen = await readFrames(conn, rest, 20_000);
    conn.close();
    const init = JSON.parse(seen.texts[0] ?? "{}");
    assertEquals([init.type, init.source], ["init", "main"]);
    assertMatch(init.codec, /^avc1\./);
    assertEquals(new TextDecoder().decode(seen.firstBinary?.subarray(4, 8)), "ftyp");
    assert(seen.texts.some((t) => JSON.parse(t).type === "time"), "time messages for latency");
  });
});

Deno.test("live.ws: viewer limits changed in the configuration apply to the next viewer, no restart", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
  await using h = await startHarness({
    http: { listen: "127.0.0.1:0", liveViewersPerCamera: 1 },
    cameras: [{ id: "lane", url: cam.rtspUrl, codec: "h264" }],
  });
  await h.until("lane", (s) => s.state === "recording", "lane records");
  const cookie = await signIn(h);
  const origin = `https://127.0.0.1:${h.daemon.listen.port}`;
  const open: { conn: Deno.TlsConn; leftover: Uint8Array; watching: boolean }[] = [];
  /** A viewer: "watching" once it had 20 kB of pictures, or why it was refused. */
  const view = async (): Promise<string> => {
    const { conn, head, rest } = await upgrade(h, "lane", { Cookie: cookie, Origin: origin });
    assertMatch(head, /^HTTP\/1\.1 101/);
    const r = await readFrames(conn, rest, 20_000);
    open.push({ conn, leftover: r.leftover, watching: !r.closed });
    if (!r.closed) return "watching";
    return `${r.closeCode}: ${JSON.parse(r.texts.at(-1) ?? "{}").reason}`;
  };
  const setPerCamera = (n: number) =>
    h.daemon.updateConfig((cur) => ({ ...cur, http: { ...cur.http, liveViewersPerCamera: n } }));
  try {
    const [recorder] = daemonRecorderPids(h.daemon.recorders);
    assertEquals(await view(), "watching");
    assertMatch(await view(), /^4029: Too many live viewers \(at most 1 per camera/);
    await setPerCamera(2);
    assertEquals(await view(), "watching", "the raised limit lets a second viewer in");
    await setPerCamera(1);
    assertMatch(await view(), /^4029: Too many live viewers \(at most 1 per camera/);
    // Those watching stay: both still get pictures.
    const watching = open.filter((v) => v.watching);
    assertEquals(watching.length, 2);
    for (const v of watching) {
      const r = await readFrames(v.conn, v.leftover, 20_000);
      assert(!r.closed && r.binary > 0, "a viewer let in before the change keeps watching");
    }
    assertEquals(
      daemonRecorderPids(h.daemon.recorders),
      [recorder],
      "the recorder process was not restarted",
    );
  } finally {
    for (const v of open) v.conn.close();
  }
});
