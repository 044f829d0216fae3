/**
 * live.ws against the real daemon over real TLS sockets, the upgrade written by hand so that the
 * Origin, the cookie and whether the client ever reads are the test's to choose
 * (testing/live_ws_client.ts).
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { readFrames, signIn, upgrade } from "../testing/live_ws_client.ts";

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
