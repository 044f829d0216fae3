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
import { ListRegistry, loadRegistryFiles } from "../board/registry.ts";

/**
 * A live viewer of `camera`: the init message's source once it had pictures, or the refusal
 * ("<close code>: <reason>"). Its connection goes into `open` for the test to close.
 */
async function viewSource(
  h: Parameters<typeof upgrade>[0],
  camera: string,
  cookie: string,
  origin: string,
  open: Deno.TlsConn[],
): Promise<string> {
  const { conn, head, rest } = await upgrade(h, camera, { Cookie: cookie, Origin: origin });
  open.push(conn);
  assertMatch(head, /^HTTP\/1\.1 101/);
  const r = await readFrames(conn, rest, 3, 30_000);
  if (r.closed) return `${r.closeCode}: ${JSON.parse(r.texts.at(-1) ?? "{}").reason}`;
  return JSON.parse(r.texts[0] ?? "{}").source;
}

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
  const view = (camera: string) => viewSource(h, camera, cookie, origin, open);
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

interface TranscodesHealth {
  max: number;
  source: string;
  basis: string | null;
  running: number;
  refused: number;
}

Deno.test("transcode cap from the board profile: the software cap here, capped, health says so", async () => {
  // No http.transcodesMax: this machine's board transcodes in software (x264enc), cap 2.
  const camera = () => startVirtualCamera({ codec: "h265", width: 320, height: 240, fps: 15 });
  await using a = await camera();
  await using b = await camera();
  await using c = await camera();
  const ids = ["a", "b", "c"];
  await using h = await startHarness({
    http: { listen: "127.0.0.1:0", liveViewersPerCamera: 4 },
    cameras: [a, b, c].map((cam, i) => ({ id: ids[i], url: cam.rtspUrl })),
  });
  for (const id of ids) await h.until(id, (s) => s.state === "recording", id);
  const cookie = await signIn(h);
  const origin = `https://127.0.0.1:${h.daemon.listen.port}`;
  using https = daemonHttps(h.daemon);
  const health = async () =>
    ((await (await https.fetch("/api/health", { headers: { cookie } })).json()) as {
      transcodes: TranscodesHealth;
    }).transcodes;
  const open: Deno.TlsConn[] = [];
  const view = (camera: string) => viewSource(h, camera, cookie, origin, open);
  try {
    const before = await health();
    const source = `board profile "${h.daemon.board.id}" (software encoder x264enc; ` +
      "profiles/common.json)";
    assertEquals({ ...before, basis: before.basis?.slice(0, 14) }, {
      max: 2,
      source,
      basis: "measured here ",
      running: 0,
      refused: 0,
    });
    assertEquals(await view("a"), "transcode");
    assertEquals(await view("b"), "transcode");
    const refused = await view("c");
    const expected = "4000: Too many transcodes: this box runs at most 2 H.265 to H.264 " +
      `transcodes at once (${source}) and all are in use`;
    assertEquals(refused.slice(0, expected.length), expected);
    const during = await health();
    assertEquals([during.running, during.refused], [2, 1]);
  } finally {
    for (const c of open) c.close();
  }
});

Deno.test("transcode cap: an RK3588 board's own number; http.transcodesMax overrides it", async () => {
  // The board from fixture /sys and /proc trees, GStreamer's registry from the fixture list: the
  // plan encodes with mpph264enc, so the board profile's cap. Nothing is transcoded here.
  const testdata = new URL("../board/testdata/", import.meta.url).pathname;
  const registry: ListRegistry = await loadRegistryFiles(
    `${testdata}rockchip-rk3588/registry.txt`,
    `${testdata}software.txt`,
  );
  await using h = await startHarness({ http: { listen: "127.0.0.1:0" } }, {
    boardRoots: {
      sysRoot: `${testdata}rockchip-rk3588/sys`,
      procRoot: `${testdata}rockchip-rk3588/proc`,
    },
    registry,
  });
  assertEquals(h.daemon.board.id, "rockchip");
  const cookie = await signIn(h);
  using https = daemonHttps(h.daemon);
  const health = async () =>
    ((await (await https.fetch("/api/health", { headers: { cookie } })).json()) as {
      transcodes: TranscodesHealth;
    }).transcodes;
  const board = await health();
  assertEquals([board.max, board.source], [
    4,
    'board profile "rockchip" (hardware encoder mpph264enc)',
  ]);
  assertMatch(board.basis ?? "", /^not measured here — needs the board\./);
  // A number in the configuration wins, at once; null gives the board's back.
  await h.daemon.updateConfig((c) => ({ ...c, http: { ...c.http, transcodesMax: 1 } }));
  assertEquals(await health(), {
    max: 1,
    source: "http.transcodesMax (configuration)",
    basis: null,
    running: 0,
    refused: 0,
  });
  await h.daemon.updateConfig((c) => ({ ...c, http: { ...c.http, transcodesMax: null } }));
  assertEquals((await health()).max, 4);
});
