/**
 * The box's cap on H.265 → H.264 transcodes (http.transcodesMax) against the real daemon: two
 * H.265 cameras without sub-streams, viewers in a browser without H.265 (codecs=h264) over real
 * TLS sockets, and recorded ranges asked for as H.264. One transcode per camera, shared by its
 * viewers; beyond the cap a viewer is told why and a recorded part answers 503; the recorders
 * record on meanwhile.
 */
import { assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { readFrames, signIn, upgrade } from "../testing/live_ws_client.ts";
import { daemonHttps } from "../testing/https_client.ts";
import { daemonRecorderPids } from "../testing/proc.ts";

Deno.test("attack: many viewers ask for transcodes — capped, recording unaffected", async () => {
  await using door = await startVirtualCamera({ codec: "h265", width: 320, height: 240, fps: 15 });
  await using gate = await startVirtualCamera({ codec: "h265", width: 320, height: 240, fps: 15 });
  await using h = await startHarness({
    http: { listen: "127.0.0.1:0", transcodesMax: 1, liveViewersPerCamera: 16 },
    cameras: [{ id: "door", url: door.rtspUrl }, { id: "gate", url: gate.rtspUrl }],
  });
  for (const id of ["door", "gate"]) await h.until(id, (s) => s.state === "recording", id);
  const cookie = await signIn(h);
  const origin = `https://127.0.0.1:${h.daemon.listen.port}`;
  using https = daemonHttps(h.daemon);
  const open: Deno.TlsConn[] = [];
  /** A viewer: the init message's source once it had pictures, or the refusal. */
  const view = async (camera: string): Promise<string> => {
    const { conn, head, rest } = await upgrade(h, camera, { Cookie: cookie, Origin: origin });
    open.push(conn);
    assertMatch(head, /^HTTP\/1\.1 101/);
    const r = await readFrames(conn, rest, 3, 30_000);
    if (r.closed) return `${r.closeCode}: ${JSON.parse(r.texts.at(-1) ?? "{}").reason}`;
    return JSON.parse(r.texts[0] ?? "{}").source;
  };
  const segments = (id: string) => h.index().range(id, 0, Date.now() + 1e6).length;
  try {
    const recorders = daemonRecorderPids(h.daemon.recorders);
    // Three viewers of door share its one transcode, the cap's only slot.
    for (let i = 0; i < 3; i++) assertEquals(await view("door"), "transcode");
    const before = { door: segments("door"), gate: segments("gate") };
    // Eight viewers ask for gate's: each is told why, none starts a second pipeline.
    for (let i = 0; i < 8; i++) {
      assertMatch(await view("gate"), /^4000: Too many transcodes: this box runs at most 1 /);
    }
    // A recorded range of gate as H.264: the playlist is given, its parts wait for a slot.
    await h.until("gate", () => segments("gate") >= 1, "a gate segment", 30_000);
    const seg = h.index().range("gate", 0, Date.now() + 1e6)[0]!;
    const list = await https.fetch(
      `/api/cameras/gate/playlist.m3u8?from=${seg.startMs}&to=${seg.endMs}&codec=h264`,
      { headers: { cookie } },
    );
    assertEquals(list.status, 200);
    const url = (await list.text()).split("\n").find((l) => l.endsWith("/h264.ts"))!;
    for (let i = 0; i < 4; i++) {
      const part = await https.fetch(url, { headers: { cookie } });
      const body = await part.text();
      assertEquals(part.status, 503, body);
      assertEquals(part.headers.get("retry-after"), "5");
      assertMatch(body, /Too many transcodes/);
    }
    // The recorders went on through it all: new segments of both, the same recorder process.
    await h.until("door", () => segments("door") > before.door + 1, "door records on", 30_000);
    await h.until("gate", () => segments("gate") > before.gate + 1, "gate records on", 30_000);
    for (const id of ["door", "gate"]) assertEquals(h.camera(id).state, "recording");
    assertEquals(daemonRecorderPids(h.daemon.recorders), recorders, "no recorder restarted");
  } finally {
    for (const c of open) c.close();
  }
});
