import { assertEquals } from "../../runtime/testing/assert.ts";
import { cropFor, PtzState } from "./ptz_state.ts";

Deno.test("virtual PTZ head: moves at its speed, stops at its timeout and at its limits", () => {
  let now = 0;
  const head = new PtzState(() => now);
  head.move({ pan: 1, tilt: 0, zoom: 0 }, 1000);
  now = 500;
  assertEquals(head.position(), { pan: 0.25, tilt: 0, zoom: 0 });
  assertEquals(head.moving(), { panTilt: true, zoom: false });
  now = 5000; // the 1 s timeout stopped it at 0.5
  assertEquals(head.position().pan, 0.5);
  assertEquals(head.moving().panTilt, false);
  head.move({ pan: 0, tilt: 0, zoom: -1 }, null);
  now = 9000;
  assertEquals(head.position().zoom, 0); // at the wide end already
  assertEquals(head.moving().zoom, false);
});

Deno.test("virtual PTZ head: presets keep their token, an unknown one is refused", () => {
  let now = 0;
  const head = new PtzState(() => now);
  const a = head.setPreset("A");
  assertEquals(a, { token: "preset1" });
  head.move({ pan: -1, tilt: 1, zoom: 1 }, null);
  now = 1000;
  head.stop();
  assertEquals(head.setPreset("B", "preset1"), { token: "preset1" });
  assertEquals("error" in head.setPreset("C", "nope"), true);
  head.move({ pan: 1, tilt: -1, zoom: -1 }, null);
  now = 3000;
  assertEquals(head.gotoPreset("preset1"), true);
  assertEquals(head.position(), { pan: -0.5, tilt: 0.5, zoom: 0.25 });
  assertEquals(head.gotoPreset("nope"), false);
});

Deno.test("virtual PTZ head: the crop stays inside the scene, moves with pan and shrinks with zoom", () => {
  const w = 640;
  const h = 360;
  const home = cropFor({ pan: 0, tilt: 0, zoom: 0 }, w, h);
  assertEquals(home, { left: 320, right: 320, top: 180, bottom: 180 });
  const right = cropFor({ pan: 1, tilt: 0, zoom: 0 }, w, h);
  assertEquals([right.left, right.right], [640, 0]);
  const zoomed = cropFor({ pan: 0, tilt: 0, zoom: 1 }, w, h);
  assertEquals(2 * w - zoomed.left - zoomed.right, 160);
  for (const c of [home, right, zoomed, cropFor({ pan: -1, tilt: 1, zoom: 0.3 }, w, h)]) {
    for (const v of Object.values(c)) assertEquals(v >= 0 && v % 2 === 0, true);
  }
});
