/**
 * Camera health, the clock (issue 17): the real daemon asks each ONVIF camera for its time
 * (GetSystemDateAndTime) and compares it with its own. A virtual camera 60 s ahead is a health
 * warning on that camera (GET /api/health `cameras[].clock`) and one `camera-clock-drift` event
 * in the index (the fleet relay's form checked too); a camera in time is not; raising
 * `clock.cameraDriftSeconds` over the drift clears the warning. All on 127.0.0.1.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { daemonHttps } from "../testing/https_client.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { fleetEvent } from "./fleet_wiring.ts";
import type { CameraHealth } from "../health/mod.ts";

const small = { codec: "h264", width: 160, height: 120, fps: 5 } as const;

Deno.test("camera clock 60 s ahead: a health warning and one camera-clock-drift event; a camera in time has none", async () => {
  await using ahead = await startVirtualCamera({ ...small, clockOffsetMs: 60_000 });
  await using right = await startVirtualCamera(small);
  await using h = await startHarness({
    cameras: [
      { id: "ahead", url: ahead.rtspUrl, enabled: true, onvif: { url: ahead.onvifUrl } },
      { id: "right", url: right.rtspUrl, enabled: true, onvif: { url: right.onvifUrl } },
    ],
  }, { cameraClock: { firstMs: 50, intervalMs: 300 } });
  using https = daemonHttps(h.daemon);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    https.fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const admin = { name: "Ada", email: "ada@example.com", password: "correct horse battery" };
  const setupCode = (await Deno.readTextFile(`${h.dir}/data/setup-code`)).trim();
  await (await post("/api/setup", { ...admin, setupCode, acceptPrivacyNotice: true })).body
    ?.cancel();
  const login = await post("/api/auth/login", { email: admin.email, password: admin.password });
  await login.body?.cancel();
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const health = async () => {
    const res = await https.fetch("/api/health", { headers: { cookie } });
    assertEquals(res.status, 200);
    const body = await res.json() as { cameras: CameraHealth[] };
    return new Map(body.cameras.map((c) => [c.id, c]));
  };
  const until = async <T>(what: string, get: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const v = await get();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const [a, r] = await until("both clocks checked", async () => {
    const cams = await health();
    const a = cams.get("ahead")?.clock, r = cams.get("right")?.clock;
    return a && r ? [a, r] as const : undefined;
  });
  assert(a.driftMs !== null && a.driftMs > 58_000 && a.driftMs <= 60_500, `${a.driftMs}`);
  assertEquals(a.thresholdMs, 5_000);
  assertMatch(
    a.warning ?? "",
    /^camera clock (59|60)(\.\d)? s ahead of the box's \(more than 5 s\)/,
  );
  assert(a.warning?.includes("NTP") ?? false, `${a.warning}: says what to do`);
  assertEquals([r.warning, r.error], [null, null]);
  assert(r.driftMs !== null && Math.abs(r.driftMs) < 2_000, `${r.driftMs}`);

  // One event while it stays over, however often it is checked.
  const checked = a.checkedMs;
  await until("checked again", async () => {
    const c = (await health()).get("ahead")?.clock;
    return c && c.checkedMs > checked ? c : undefined;
  });
  const events = h.index().events(0, Date.now() + 60_000).filter((e) =>
    e.kind === "camera-clock-drift"
  );
  assertEquals(events.map((e) => e.camera), ["ahead"]);
  const detail = events[0]!.detail as Record<string, unknown>;
  assertEquals([detail.thresholdMs, detail.boxClockTrusted], [5_000, true]);
  assertEquals(fleetEvent("camera-clock-drift", "ahead", detail), {
    kind: "camera-clock-drift",
    detail: {
      camera: "ahead",
      driftMs: detail.driftMs as number,
      thresholdMs: 5_000,
      boxClockTrusted: true,
    },
  });

  // A threshold over the drift (a remote key): the warning goes.
  await h.daemon.updateConfig((cur) => ({
    ...cur,
    clock: { ...cur.clock, cameraDriftSeconds: 120 },
  }));
  await until("the warning cleared", async () => {
    const c = (await health()).get("ahead")?.clock;
    return c && c.thresholdMs === 120_000 && c.warning === null ? c : undefined;
  });
});
