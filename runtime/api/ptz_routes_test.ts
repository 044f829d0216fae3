/**
 * The PTZ routes against the virtual camera's PTZ head, through the real auth (users.sqlite,
 * audit.sqlite): an operator with the camera moves it and the picture moves; stop; presets
 * round-trip; every move is audited; viewers, operators without the camera, bad velocities and
 * hostile preset tokens are refused with a clear error and the head does not move.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { type Fixture, withApi } from "../testing/auth_app.ts";
import { startVirtualCamera, type VirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { validateConfig } from "../config/mod.ts";
import type { NvrConfig } from "../config/types.ts";
import { PtzService } from "../onvif/ptz.ts";
import { ptzTarget } from "./ptz_routes.ts";
import { greyDiff, greyOf } from "../testing/picture.ts";

function configFor(cam: VirtualCamera): NvrConfig {
  return validateConfig({
    cameras: [
      {
        id: "gate",
        url: cam.rtspUrl,
        username: "admin",
        password: "pw-gate",
        onvif: { url: cam.onvifUrl },
      },
      { id: "yard", url: "rtsp://127.0.0.1:9/main" },
    ],
  });
}

/** The API fixture with the real PtzService on the virtual camera, and the camera itself. */
async function withPtz(fn: (f: Fixture, cam: VirtualCamera) => Promise<void>): Promise<void> {
  await using cam = await startVirtualCamera({
    codec: "h264",
    ptz: true,
    user: "admin",
    password: "pw-gate",
  });
  const config = configFor(cam);
  const ptz = new PtzService({ target: (id) => ptzTarget(config, id) });
  try {
    await withApi((f) => fn(f, cam), { system: { config: () => config, ptz } });
  } finally {
    await ptz.close();
  }
}

async function position(f: Fixture, s: { cookie: string }) {
  const res = await f.call("GET", "/api/cameras/gate/ptz", { cookie: s.cookie });
  assertEquals(res.status, 200);
  return (await res.json()).status as {
    position: { pan: number; tilt: number; zoom: number };
    moving: boolean;
  };
}

async function until<T>(what: string, check: () => Promise<T | null>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function snapshot(cam: VirtualCamera) {
  const res = await fetch(cam.snapshotUrl, {
    headers: { authorization: `Basic ${btoa("admin:pw-gate")}` },
  });
  assertEquals(res.status, 200);
  return await greyOf(new Uint8Array(await res.arrayBuffer()));
}

Deno.test("ptz api: an operator with the camera moves it (the picture moves), stops it, saves and goes to presets; all audited", async () => {
  await withPtz(async (f, cam) => {
    await f.setupAdmin();
    const op = await f.addUser("operator", "op@example.org", ["gate"]);
    const as = { cookie: op.cookie, csrf: op.csrf };
    const home = await position(f, op);
    assertEquals(home.position, { pan: 0, tilt: 0, zoom: 0 });
    const before = await snapshot(cam);

    const move = await f.call("POST", "/api/cameras/gate/ptz/move", {
      ...as,
      body: { pan: 1, timeoutMs: 10_000 },
    });
    assertEquals(move.status, 200, await move.clone().text());
    assertEquals(await move.json(), {
      camera: "gate",
      action: "move",
      velocity: { pan: 1, tilt: 0, zoom: 0 },
      stopsAfterMs: 10_000,
    });
    await until("the picture moves", async () => {
      const now = await snapshot(cam);
      return greyDiff(before, now) > 15 ? now : null;
    });
    const stop = await f.call("POST", "/api/cameras/gate/ptz/stop", as);
    assertEquals(stop.status, 200);
    const stopped = await position(f, op);
    assertEquals(stopped.moving, false);
    assert(stopped.position.pan > 0, `pan ${stopped.position.pan} after moving right`);

    const save = await f.call("POST", "/api/cameras/gate/ptz/presets", {
      ...as,
      body: { name: "Gate" },
    });
    assertEquals(save.status, 200, await save.clone().text());
    const saved = await save.json();
    assertEquals(saved.name, "Gate");
    const list = await f.call("GET", "/api/cameras/gate/ptz/presets", { cookie: op.cookie });
    assertEquals((await list.json()).presets, [{ token: saved.preset, name: "Gate" }]);

    // Away (a move that stops by itself), then back to the preset.
    await f.call("POST", "/api/cameras/gate/ptz/move", {
      ...as,
      body: { tilt: -1, timeoutMs: 400 },
    });
    await until("the move stops by itself", async () => {
      const p = await position(f, op);
      return !p.moving && p.position.tilt < 0 ? p : null;
    });
    const go = await f.call("POST", `/api/cameras/gate/ptz/presets/${saved.preset}/goto`, as);
    assertEquals(go.status, 200, await go.clone().text());
    assertEquals((await position(f, op)).position, stopped.position);

    const actions = f.audit.list().filter((e) => e.action.startsWith("ptz."))
      .map((e) => `${e.action} ${e.outcome} ${e.userName}`);
    assertEquals(actions.sort(), [
      "ptz.goto ok op",
      "ptz.move ok op",
      "ptz.move ok op",
      "ptz.save ok op",
      "ptz.stop ok op",
    ]);
  });
});

Deno.test("attack: viewer tries PTZ — refused, audited, the head does not move", async () => {
  await withPtz(async (f) => {
    await f.setupAdmin();
    const viewer = await f.addUser("viewer", "v@example.org", ["gate"]);
    const as = { cookie: viewer.cookie, csrf: viewer.csrf };
    for (
      const [method, path, body] of [
        ["POST", "/api/cameras/gate/ptz/move", { pan: 1 }],
        ["POST", "/api/cameras/gate/ptz/stop", undefined],
        ["POST", "/api/cameras/gate/ptz/presets", { name: "x" }],
        ["POST", "/api/cameras/gate/ptz/presets/preset1/goto", undefined],
        ["GET", "/api/cameras/gate/ptz", undefined],
      ] as const
    ) {
      const res = await f.call(method, path, { ...as, ...(body ? { body } : {}) });
      assertEquals(res.status, 403, `${method} ${path}`);
      assertMatch((await res.json()).error.message, /role admin or operator/);
    }
    assert(f.audit.list().some((e) => e.action === "access.denied" && e.outcome === "denied"));
    // An operator may look: the head is where it was.
    const op = await f.addUser("operator", "op@example.org", ["gate"]);
    assertEquals((await position(f, op)).position, { pan: 0, tilt: 0, zoom: 0 });
  });
});

Deno.test("attack: operator moves a camera that is not theirs — 404, audited", async () => {
  await withPtz(async (f) => {
    await f.setupAdmin();
    const op = await f.addUser("operator", "op@example.org", ["yard"]);
    const res = await f.call("POST", "/api/cameras/gate/ptz/move", {
      cookie: op.cookie,
      csrf: op.csrf,
      body: { pan: 1 },
    });
    assertEquals(res.status, 404);
    assert(f.audit.list().some((e) => e.action === "ptz.denied" && e.target === "camera:gate"));
    const owner = await f.addUser("operator", "owner@example.org", ["gate"]);
    assertEquals((await position(f, owner)).position, { pan: 0, tilt: 0, zoom: 0 });
  });
});

Deno.test("attack: PTZ velocity out of range — refused with a clear error", async () => {
  await withPtz(async (f) => {
    await f.setupAdmin();
    const op = await f.addUser("operator", "op@example.org", ["gate"]);
    const as = { cookie: op.cookie, csrf: op.csrf };
    const cases: [unknown, string, RegExp][] = [
      [{ pan: 5 }, "pan", /pan: expected a velocity from -1 to 1 .*got 5/],
      [{ tilt: -1.5 }, "tilt", /tilt: expected a velocity from -1 to 1/],
      [{ zoom: "1" }, "zoom", /zoom: expected a velocity/],
      [{ pan: 1, timeoutMs: 3_600_000 }, "timeoutMs", /timeoutMs: expected whole milliseconds/],
      [{ pan: 1e308 * 10 }, "pan", /pan: expected a velocity/], // Infinity becomes null in JSON
      [{ pan: 0 }, "pan", /non-zero/],
      [{ pan: 1, speed: 9 }, "speed", /speed: unknown field for move/],
    ];
    for (const [body, field, message] of cases) {
      const res = await f.call("POST", "/api/cameras/gate/ptz/move", { ...as, body });
      assertEquals(res.status, 400, JSON.stringify(body));
      const err = (await res.json()).error;
      assertEquals(err.field, field, JSON.stringify(body));
      assertMatch(err.message, message);
    }
    const bad = await f.call("POST", "/api/cameras/gate/ptz/move", { ...as, rawBody: "{pan:" });
    assertEquals(bad.status, 400);
    assertEquals((await position(f, op)).position, { pan: 0, tilt: 0, zoom: 0 });
    assert(
      f.audit.list().filter((e) => e.action === "ptz.move" && e.outcome === "denied").length >= 7,
    );
  });
});

Deno.test("attack: hostile PTZ preset token or name — refused with a clear error, nothing reaches the camera", async () => {
  await withPtz(async (f) => {
    await f.setupAdmin();
    const op = await f.addUser("operator", "op@example.org", ["gate"]);
    const as = { cookie: op.cookie, csrf: op.csrf };
    for (
      const token of [
        "%3C%2Ftptz%3APresetToken%3E%3Ctptz%3AX%3E", // </tptz:PresetToken><tptz:X>
        "a%22%20b", // a" b
        "x".repeat(65),
        "..%2F..%2Fetc",
      ]
    ) {
      const res = await f.call("POST", `/api/cameras/gate/ptz/presets/${token}/goto`, as);
      assert(res.status === 400 || res.status === 404, `${token}: ${res.status}`);
      if (res.status === 400) {
        const err = (await res.json()).error;
        assertEquals(err.field, "preset");
        assertMatch(err.message, /preset token of 1 to 64 letters, digits/);
      }
    }
    for (
      const body of [{ name: "<x/>" }, { name: "a&b" }, { name: "" }, { name: "n".repeat(65) }]
    ) {
      const res = await f.call("POST", "/api/cameras/gate/ptz/presets", { ...as, body });
      assertEquals(res.status, 400, JSON.stringify(body));
      const err = (await res.json()).error;
      assertEquals(err.field, "name");
      assertMatch(err.message, /preset name of 1 to 64 letters/);
    }
    const over = await f.call("POST", "/api/cameras/gate/ptz/presets", {
      ...as,
      body: { name: "ok", preset: "</tptz:PresetToken>" },
    });
    assertEquals(over.status, 400);
    assertEquals((await over.json()).error.field, "preset");
    // Nothing was saved on the camera.
    const list = await f.call("GET", "/api/cameras/gate/ptz/presets", { cookie: op.cookie });
    assertEquals((await list.json()).presets, []);
  });
});

Deno.test("ptz api: a camera without ONVIF answers 409 ptz_unavailable", async () => {
  await withPtz(async (f) => {
    await f.setupAdmin();
    const op = await f.addUser("operator", "op@example.org", ["yard"]);
    const res = await f.call("GET", "/api/cameras/yard/ptz", { cookie: op.cookie });
    assertEquals(res.status, 409);
    const err = (await res.json()).error;
    assertEquals(err.code, "ptz_unavailable");
    assertMatch(err.message, /no ONVIF address/);
  });
});
