/**
 * The PTZ client against the virtual camera's PTZ head: a move changes the picture (decoded from
 * the camera's own snapshots), stop keeps it still, a move stops by itself, presets round-trip,
 * and a camera without PTZ or without ONVIF is told apart.
 */
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { startVirtualCamera, type VirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { PtzError, PtzService } from "./ptz.ts";
import { greyDiff, greyOf } from "../testing/picture.ts";

/** The camera's snapshot (HTTP Basic when it has a password), decoded to grey. */
async function snapshot(cam: VirtualCamera) {
  const { user, password } = cam.info;
  const headers: HeadersInit = user !== undefined && password !== undefined
    ? { authorization: `Basic ${btoa(`${user}:${password}`)}` }
    : {};
  const res = await fetch(cam.snapshotUrl, { headers });
  assertEquals(res.status, 200);
  return await greyOf(new Uint8Array(await res.arrayBuffer()));
}

/** Polls `check` until it returns a value, for at most `ms`. */
async function until<T>(what: string, check: () => Promise<T | null>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The picture once it has stopped changing (two snapshots 300 ms apart agree). */
async function settled(cam: VirtualCamera) {
  let last = await snapshot(cam);
  const diffs: string[] = [];
  try {
    return await until("the picture settles", async () => {
      await new Promise((r) => setTimeout(r, 300));
      const next = await snapshot(cam);
      const d = greyDiff(last, next);

      diffs.push(d.toFixed(1));
      last = next;
      return d < 1 ? next : null;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; differences seen: ${diffs.slice(-20).join(" ")}`);
  }
}

function service(cam: VirtualCamera, user?: string, password?: string) {
  return new PtzService({
    target: (id) =>
      id === "cam"
        ? { url: cam.onvifUrl, username: user ?? null, password: password ?? null }
        : undefined,
  });
}

Deno.test("ptz: a move pans the picture, stop keeps it still", async () => {
  await using cam = await startVirtualCamera({
    codec: "h264",
    ptz: true,
    user: "admin",
    password: "pw-ptz",
  });
  const ptz = service(cam, "admin", "pw-ptz");
  try {
    const before = await settled(cam);
    const start = await ptz.status("cam");
    assertEquals(start.status?.position, { pan: 0, tilt: 0, zoom: 0 });
    const moved = await ptz.run("cam", {
      action: "move",
      velocity: { pan: 1, tilt: 0, zoom: 0 },
      timeoutMs: 10_000,
    });
    assertEquals(moved, {
      action: "move",
      velocity: { pan: 1, tilt: 0, zoom: 0 },
      stopsAfterMs: 10_000,
    });
    // The picture changes while the head turns right.
    const during = await until("the picture moves", async () => {
      const now = await snapshot(cam);
      return greyDiff(before, now) > 15 ? now : null;
    });
    assert(greyDiff(before, during) > 15);
    assertEquals((await ptz.status("cam")).status?.moving, true);
    await ptz.run("cam", { action: "stop" });
    const stopped = await ptz.status("cam");
    assertEquals(stopped.status?.moving, false);
    const pan = stopped.status!.position.pan;
    assert(pan > 0 && pan <= 1, `pan ${pan} after moving right`);
    // Still: a second later the head and the picture are where they were.
    const still = await settled(cam);
    await new Promise((r) => setTimeout(r, 1000)); // the observation window, not a wait for work
    assertEquals((await ptz.status("cam")).status?.position.pan, pan);
    assert(greyDiff(still, await snapshot(cam)) < 1, "the picture changed after stop");
    // Zooming in changes it again.
    await ptz.run("cam", {
      action: "move",
      velocity: { pan: 0, tilt: 0, zoom: 1 },
      timeoutMs: 10_000,
    });
    await until("the picture zooms", async () => {
      const now = await snapshot(cam);
      return greyDiff(still, now) > 15 ? now : null;
    });
    await ptz.run("cam", { action: "stop" });
    assert((await ptz.status("cam")).status!.position.zoom > 0);
  } finally {
    await ptz.close();
  }
});

Deno.test("ptz: a move stops by itself when its time is up", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", ptz: true });
  const ptz = service(cam);
  try {
    await ptz.run("cam", {
      action: "move",
      velocity: { pan: 0, tilt: 1, zoom: 0 },
      timeoutMs: 300,
    });
    const idle = await until("the head stops by itself", async () => {
      const s = (await ptz.status("cam")).status;
      return s && !s.moving ? s : null;
    });
    assert(idle.position.tilt > 0, `tilt ${idle.position.tilt} after moving up`);
    // Well short of the 4 s a full sweep takes: it stopped near 0.3 s (0.15 units), not later.
    assert(idle.position.tilt < 0.6, `tilt ${idle.position.tilt}: the move ran on`);
  } finally {
    await ptz.close();
  }
});

Deno.test("ptz: presets round-trip (save, list, go to)", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", ptz: true });
  const ptz = service(cam);
  try {
    assertEquals(await ptz.run("cam", { action: "presets" }), { action: "presets", presets: [] });
    await ptz.run("cam", {
      action: "move",
      velocity: { pan: -1, tilt: 0, zoom: 0.5 },
      timeoutMs: 10_000,
    });
    await until("the head has turned", async () => {
      const s = (await ptz.status("cam")).status;
      return s && s.position.pan < -0.3 ? s : null;
    });
    await ptz.run("cam", { action: "stop" });
    const there = (await ptz.status("cam")).status!.position;
    const door = await settled(cam);
    const saved = await ptz.run("cam", { action: "save", name: "Front door (left)" });
    assert(saved.action === "save");
    assertEquals(saved.name, "Front door (left)");
    // Away, then back.
    await ptz.run("cam", {
      action: "move",
      velocity: { pan: 1, tilt: -1, zoom: 0 },
      timeoutMs: 10_000,
    });
    await until("the head has turned away", async () => {
      const s = (await ptz.status("cam")).status;
      return s && s.position.pan > 0.3 ? s : null;
    });
    await ptz.run("cam", { action: "stop" });
    const away = await settled(cam);
    assert(greyDiff(door, away) > 15, "moving away changed the picture");
    const list = await ptz.run("cam", { action: "presets" });
    assertEquals(list, {
      action: "presets",
      presets: [{ token: saved.preset, name: "Front door (left)" }],
    });
    await ptz.run("cam", { action: "goto", preset: saved.preset });
    assertEquals((await ptz.status("cam")).status!.position, there);
    const back = await settled(cam);
    assert(
      greyDiff(door, back) < 2,
      `back at the preset the picture differs by ${greyDiff(door, back)}`,
    );
    // Saving over the preset keeps its token.
    const again = await ptz.run("cam", { action: "save", name: "Door", preset: saved.preset });
    assert(again.action === "save" && again.preset === saved.preset);
    // An unknown token: the camera says so, named.
    const err = await assertRejects(
      () => ptz.run("cam", { action: "goto", preset: "nope" }),
      PtzError,
    );
    assertEquals(err.kind, "camera-failed");
    assert(/no preset "nope"/.test(err.message), err.message);
  } finally {
    await ptz.close();
  }
});

Deno.test("ptz: a camera without PTZ or without ONVIF is told apart", async () => {
  await using cam = await startVirtualCamera({ codec: "h264" });
  const ptz = new PtzService({
    target: (id) =>
      id === "plain"
        ? { url: cam.onvifUrl, username: null, password: null }
        : id === "rtsp-only"
        ? null
        : undefined,
  });
  try {
    const stop = { action: "stop" } as const;
    assertEquals((await assertRejects(() => ptz.run("plain", stop), PtzError)).kind, "no-ptz");
    assertEquals(
      (await assertRejects(() => ptz.run("rtsp-only", stop), PtzError)).kind,
      "no-onvif",
    );
    assertEquals(
      (await assertRejects(() => ptz.run("gone", stop), PtzError)).kind,
      "unknown-camera",
    );
  } finally {
    await ptz.close();
  }
});
