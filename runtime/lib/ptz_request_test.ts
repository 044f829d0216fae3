import { assertEquals } from "../testing/assert.ts";
import { PTZ_DEFAULT_TIMEOUT_MS, readPtzRequest } from "./ptz_request.ts";

Deno.test("ptz request: a move gets the default timeout and zero for absent axes", () => {
  assertEquals(readPtzRequest("move", { tilt: -0.25 }), {
    ok: true,
    request: {
      action: "move",
      velocity: { pan: 0, tilt: -0.25, zoom: 0 },
      timeoutMs: PTZ_DEFAULT_TIMEOUT_MS,
    },
  });
});

Deno.test("ptz request: every bad field is named, with what to send instead", () => {
  const r = readPtzRequest("move", { pan: 2, zoom: NaN, timeoutMs: 50, extra: 1 });
  assertEquals(r.ok, false);
  if (r.ok) return;
  assertEquals(r.errors.map((e) => e.field), ["extra", "pan", "zoom", "timeoutMs"]);
  assertEquals(
    r.errors[1]!.message,
    "expected a velocity from -1 to 1 (0: still), got 2",
  );
});

Deno.test("ptz request: preset tokens and names of a plain alphabet only", () => {
  assertEquals(readPtzRequest("goto", { preset: "Preset_3" }), {
    ok: true,
    request: { action: "goto", preset: "Preset_3" },
  });
  assertEquals(readPtzRequest("save", { name: "Вход (север)" }), {
    ok: true,
    request: { action: "save", name: "Вход (север)" },
  });
  for (const preset of ["", "a b", "<x>", "a&b", "x".repeat(65), 7]) {
    assertEquals(readPtzRequest("goto", { preset }).ok, false, JSON.stringify(preset));
  }
  for (const name of ["", "<b>", "a&amp;", "n".repeat(65), null]) {
    assertEquals(readPtzRequest("save", { name }).ok, false, JSON.stringify(name));
  }
  assertEquals(readPtzRequest("spin", {}).ok, false);
  assertEquals(readPtzRequest("stop", { pan: 1 }).ok, false);
});
