/**
 * cameras[].onvif.setNtp through the real daemon: a virtual camera ten minutes behind (further
 * than WS-Security's five minutes, so the token must carry the camera's own time) is told the
 * configured NTP server by ONVIF SetNTP once its drift is found; the call is audited, the
 * camera's GetNTP shows the server, and the clock warning clears at the next check. A drifting
 * camera without setNtp is left alone. With setNtp "box" the camera is told the box's own
 * address on the route to it (127.0.0.1 for one reached over IPv4, ::1 for one reached over IPv6
 * through a relay), and the box's NTP server answers there. All on the loopback.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { daemonHttps } from "../testing/https_client.ts";
import { signIn } from "../testing/live_ws_client.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { soapCall } from "../onvif/soap_client.ts";
import type { CameraHealth } from "../health/mod.ts";
import { relayTo } from "../../hw-tests/sim/relay_conn.ts";
import { NTP_PACKET_BYTES } from "../ntp/packet.ts";

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

/** A TCP relay on [::1] to a port on 127.0.0.1: the camera reached over IPv6. */
function ipv6Relay(target: number) {
  const listener = Deno.listen({ hostname: "::1", port: 0 });
  const open = new Set<Deno.Conn>();
  const relays: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) relays.push(relayTo(conn, target, open));
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of open) c.close();
      await accepting;
      await Promise.all(relays);
    },
  };
}

Deno.test("camera NTP: setNtp \"box\" tells each drifting camera the box's address on the route to it, where the box's NTP server answers (audited)", async () => {
  const behind = { ...small, ...login, clockOffsetMs: -600_000 };
  await using v4 = await startVirtualCamera(behind);
  await using v6cam = await startVirtualCamera(behind);
  await using relay = ipv6Relay(Number(new URL(v6cam.onvifUrl).port));
  const v6Url = `http://[::1]:${relay.port}${new URL(v6cam.onvifUrl).pathname}`;
  const camera = (id: string, cam: typeof v4, onvifUrl: string) => ({
    id,
    url: cam.rtspUrl,
    username: login.user,
    password: login.password,
    onvif: { url: onvifUrl, setNtp: "box" },
  });
  await using h = await startHarness({
    ntp: { listen: ["127.0.0.1:0", "[::1]:0"] },
    cameras: [camera("v4", v4, v4.onvifUrl), camera("v6", v6cam, v6Url)],
  }, { cameraClock: { firstMs: 50, intervalMs: 300 } });
  const cookie = await signIn(h);
  using https = daemonHttps(h.daemon);

  const audit = await until("both audit entries", async () => {
    const res = await https.fetch("/api/audit?action=camera.set-ntp", { headers: { cookie } });
    const body = await res.json() as { entries: { target: string; outcome: string }[] };
    return body.entries.length >= 2 ? body.entries : undefined;
  });
  assertEquals(audit.map((e) => [e.target, e.outcome]).sort(), [
    ["camera:v4 ntp:127.0.0.1 (box)", "ok"],
    ["camera:v6 ntp:::1 (box)", "ok"],
  ]);
  // What each camera recorded from its SetNTP: an IPv4 and an IPv6 manual server, the box's.
  const told4 = await cameraNtp(v4.onvifUrl, 0);
  const told6 = await cameraNtp(v6cam.onvifUrl, 0);
  assert(/IPv4.*127\.0\.0\.1/.test(told4), `the IPv4 camera's GetNTP: ${told4}`);
  assert(/IPv6.*::1/.test(told6), `the IPv6 camera's GetNTP: ${told6}`);

  // And the box's NTP server answers at both addresses.
  const addrs = h.daemon.ntpAddrs();
  assertEquals(addrs.map((a) => a.hostname).sort(), ["127.0.0.1", "::1"]);
  for (const to of addrs) {
    const c = Deno.listenDatagram({ transport: "udp", hostname: to.hostname, port: 0 });
    const req = new Uint8Array(NTP_PACKET_BYTES);
    req[0] = (4 << 3) | 3;
    await c.send(req, to);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = await Promise.race([
      c.receive().then(([d]) => d),
      new Promise<null>((r) => timer = setTimeout(() => r(null), 10_000)),
    ]).finally(() => {
      clearTimeout(timer);
      c.close();
    });
    assertEquals(answer && [answer.length, answer[0]! & 7], [NTP_PACKET_BYTES, 4], to.hostname);
  }
});
