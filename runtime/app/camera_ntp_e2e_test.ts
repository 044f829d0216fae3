/**
 * cameras[].onvif.setNtp through the real daemon: a virtual camera ten minutes behind (further
 * than WS-Security's five minutes, so the token must carry the camera's own time) is told the
 * configured NTP server by ONVIF SetNTP once its drift is found; the call is audited, the
 * camera's GetNTP shows the server, and the clock warning clears at the next check. A drifting
 * camera without setNtp is left alone. All on 127.0.0.1.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { daemonHttps } from "../testing/https_client.ts";
import { signIn } from "../testing/live_ws_client.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { soapCall } from "../onvif/soap_client.ts";
import type { CameraHealth } from "../health/mod.ts";

const small = { codec: "h264", width: 160, height: 120, fps: 5 } as const;
const NTP = "192.0.2.123";
const login = { user: "admin", password: "s3cret" };

async function until<T>(what: string, get: () => Promise<T | undefined>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The camera's NTP setting as its GetNTP says; `offsetMs`: its clock against ours. */
async function cameraNtp(onvifUrl: string, offsetMs: number): Promise<string> {
  const body = await soapCall(onvifUrl, "<tds:GetNTP/>", {
    username: login.user,
    password: login.password,
    now: () => Date.now() + offsetMs,
  });
  return JSON.stringify(body);
}

Deno.test("camera NTP: a drifting camera with onvif.setNtp is told that server (audited) and its clock warning clears; one without it is left alone", async () => {
  const behind = { ...small, ...login, clockOffsetMs: -600_000 };
  await using told = await startVirtualCamera(behind);
  await using alone = await startVirtualCamera(behind);
  const camera = (id: string, cam: typeof told, onvif: Record<string, unknown>) => ({
    id,
    url: cam.rtspUrl,
    username: login.user,
    password: login.password,
    onvif: { url: cam.onvifUrl, ...onvif },
  });
  await using h = await startHarness({
    cameras: [camera("told", told, { setNtp: NTP }), camera("alone", alone, {})],
  }, { cameraClock: { firstMs: 50, intervalMs: 300 } });
  const cookie = await signIn(h);
  using https = daemonHttps(h.daemon);
  const health = async () => {
    const res = await https.fetch("/api/health", { headers: { cookie } });
    assertEquals(res.status, 200);
    const body = await res.json() as { cameras: CameraHealth[] };
    return new Map(body.cameras.map((c) => [c.id, c.clock]));
  };

  // Found drifting (the event says so), then told, then in time: the warning is gone.
  const cleared = await until("the told camera's clock back in time", async () => {
    const c = (await health()).get("told");
    return c && c.error === null && c.warning === null && c.driftMs !== null ? c : undefined;
  });
  assert(Math.abs(cleared.driftMs!) < 2_000, `drift ${cleared.driftMs} ms after SetNTP`);
  const drift = h.index().events(0, Date.now() + 60_000).filter((e) =>
    e.kind === "camera-clock-drift"
  );
  assertEquals(drift.map((e) => e.camera).sort(), ["alone", "told"], "both were found drifting");
  const ntp = await cameraNtp(told.onvifUrl, 0);
  assert(ntp.includes(NTP), `the camera's GetNTP names the configured server: ${ntp}`);

  // Audited once, with the camera and the server.
  const audit = await until("the audit entry", async () => {
    const res = await https.fetch("/api/audit?action=camera.set-ntp", { headers: { cookie } });
    const body = await res.json() as { entries: { target: string; outcome: string }[] };
    return body.entries.length > 0 ? body.entries : undefined;
  });
  assertEquals(audit.map((e) => [e.target, e.outcome]), [[`camera:told ntp:${NTP}`, "ok"]]);

  // The camera without setNtp: still drifting, still warned about, its NTP never set.
  const other = await health();
  assert(other.get("alone")?.warning, "the other camera keeps its warning");
  assert(
    !(await cameraNtp(alone.onvifUrl, -600_000)).includes("NTPManual"),
    "its NTP was not touched",
  );
});
