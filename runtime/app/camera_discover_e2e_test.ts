/**
 * Discovery from the page's side, on the real daemon over its socket: an address scan (loopback
 * only, the ports of two virtual cameras; the multicast probe is tested in a network namespace of
 * its own in runtime/onvif/ws_discovery_test.ts) lists the camera not yet added with vendor, model
 * and whether the credentials work; adding it by its ONVIF address records it. Audited; admins
 * only.
 */
import { assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { daemonHttps } from "../testing/https_client.ts";

const small = { codec: "h264", width: 160, height: 120, fps: 10 } as const;

Deno.test("API: POST /api/cameras/discover finds the camera not yet added, then it is added and records", async () => {
  await using fresh = await startVirtualCamera({
    ...small,
    serial: "NEW-1",
    model: "SimCam-New",
    user: "admin",
    password: "s3cret",
  });
  await using added = await startVirtualCamera({ ...small, serial: "OLD-1" });
  await using h = await startHarness({
    cameras: [{ id: "old", url: added.rtspUrl, enabled: false, onvif: { url: added.onvifUrl } }],
  });
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
  const { csrfToken } = await login.json();
  const headers = {
    cookie: (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
    "x-csrf-token": csrfToken,
  };
  const port = (u: string) => Number(new URL(u).port);
  const scan = {
    multicast: false,
    range: "127.0.0.1",
    ports: [port(fresh.onvifUrl), port(added.onvifUrl)],
    username: "admin",
    password: "s3cret",
    timeoutMs: 2000,
  };

  const res = await post("/api/cameras/discover", scan, headers);
  const body = await res.json();
  assertEquals(res.status, 200, JSON.stringify(body));
  assertEquals(body.cameras.length, 1, JSON.stringify(body));
  const [cam] = body.cameras;
  assertEquals(
    [cam.address, cam.deviceUrl, cam.vendor, cam.model, cam.serial, cam.credentials, cam.via],
    [
      new URL(fresh.onvifUrl).host,
      fresh.onvifUrl,
      "NVR Sim",
      "SimCam-New",
      "NEW-1",
      "ok",
      "scan",
    ],
  );
  assertEquals(body.alreadyAdded, [new URL(added.onvifUrl).host]);

  const wrong = await (await post("/api/cameras/discover", { ...scan, password: "no" }, headers))
    .json();
  assertEquals(wrong.cameras[0]?.credentials, "refused");

  const bad = await post("/api/cameras/discover", { ...scan, range: "10.0.0.0/8" }, headers);
  const badBody = await bad.json();
  assertEquals([bad.status, badBody.error.field], [400, "range"]);
  assertMatch(badBody.error.message, /at most 256/);
  const nobody = await post("/api/cameras/discover", scan, {});
  assertEquals(nobody.status === 401 || nobody.status === 403, true, `${nobody.status}`);
  await nobody.body?.cancel();

  // The page's first click: are the credentials right, and which profiles are there?
  const creds = { address: cam.deviceUrl, username: "admin", password: "s3cret" };
  const profiles = await post("/api/cameras/onvif-profiles", creds, headers);
  const profilesBody = await profiles.json();
  assertEquals(profiles.status, 200, JSON.stringify(profilesBody));
  assertEquals(profilesBody.credentials, "ok");
  assertEquals(
    (profilesBody.profiles as { token: string; encoding: string }[]).map((p) => [
      p.token,
      p.encoding,
    ]),
    [["main", "H264"], ["sub", "H264"]],
  );
  const refused = await (await post(
    "/api/cameras/onvif-profiles",
    { ...creds, password: "no" },
    headers,
  )).json();
  assertEquals([refused.credentials, refused.profiles], ["refused", []]);
  const extra = await post("/api/cameras/onvif-profiles", { ...creds, url: "x" }, headers);
  assertEquals([extra.status, (await extra.json()).error.field], [400, "url"]);
  const anon = await post("/api/cameras/onvif-profiles", creds, {});
  assertEquals(anon.status === 401 || anon.status === 403, true, `${anon.status}`);
  await anon.body?.cancel();
  const noSuch = await post("/api/cameras", {
    id: "new",
    onvif: { ...creds, mainProfile: "nope" },
  }, headers);
  const noSuchBody = await noSuch.json();
  assertEquals(noSuch.status, 502, JSON.stringify(noSuchBody));
  assertMatch(noSuchBody.error.message, /mainProfile: no profile "nope"; it has main, sub/);

  // The second click: add it by its ONVIF address with the credentials that worked and the
  // profiles chosen (main recorded, sub for live view).
  const add = await post("/api/cameras", {
    id: "new",
    onvif: { ...creds, address: cam.address, mainProfile: "main", subProfile: "sub" },
  }, headers);
  const addBody = await add.json();
  assertEquals(add.status, 201, JSON.stringify(addBody));
  assertEquals(addBody.camera.onvif.url, fresh.onvifUrl);
  assertEquals([addBody.camera.url, addBody.camera.subUrl], [fresh.rtspUrl, fresh.subUrl]);
  await h.until("new", (s) => s.segments >= 1, "the discovered camera records");

  const audit = await (await https.fetch("/api/audit?action=camera.discover", { headers })).json();
  const entries = audit.entries as { action: string; outcome: string }[];
  assertEquals(entries.filter((e) => e.action === "camera.discover").length >= 3, true);
  assertEquals(JSON.stringify(audit).includes("s3cret"), false, "no password in the audit");
});

Deno.test("fleet: discover-cameras scans the range given and answers the cameras not yet added", async () => {
  const { Mosquitto } = await import("../testing/mosquitto.ts");
  const { CloudClient } = await import("../testing/fleet_kit.ts");
  await using broker = await Mosquitto.start();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  await using cloud = await CloudClient.connect(url, ["nvr/v1/#"]);
  await using cam = await startVirtualCamera({ ...small, serial: "FLEET-1", model: "SimCam-F" });
  await using h = await startHarness({ mqtt: { url }, cameras: [] });
  const link = h.daemon.fleet;
  if (!link) throw new Error("the fleet link did not start");
  const base = `nvr/v1/${link.deviceId}`;
  await cloud.waitFor("birth", (m) => m.find((x) => x.topic === `${base}/state`));
  await cloud.publish(
    `${base}/cmd/d1`,
    JSON.stringify({
      cmd: "discover-cameras",
      multicast: false,
      range: "127.0.0.1",
      ports: [Number(new URL(cam.onvifUrl).port)],
      timeoutMs: 2000,
    }),
  );
  const answer = (await cloud.waitFor(
    "discover-cameras result",
    (m) => m.find((x) => x.topic === `${base}/cmd-result/d1`),
    30_000,
  )).json as { ok: boolean; result: { cameras: { deviceUrl: string; model: string }[] } };
  assertEquals(answer.ok, true, JSON.stringify(answer));
  assertEquals(
    answer.result.cameras.map((c) => [c.deviceUrl, c.model]),
    [[cam.onvifUrl, "SimCam-F"]],
  );
  await cloud.publish(
    `${base}/cmd/d2`,
    JSON.stringify({ cmd: "discover-cameras", multicast: false, range: "10.0.0.0/8" }),
  );
  const refused = (await cloud.waitFor(
    "a range too big",
    (m) => m.find((x) => x.topic === `${base}/cmd-result/d2`),
    30_000,
  )).json as { ok: boolean; error: string };
  assertEquals(refused.ok, false);
  assertMatch(refused.error, /at most 256/);
});

Deno.test("API: a camera added by its RTSP URL only is offered the ONVIF device found at its host, linked with PATCH, then its ONVIF events run", async () => {
  await using cam = await startVirtualCamera({
    ...small,
    serial: "RTSP-1",
    user: "admin",
    password: "s3cret",
  });
  await using h = await startHarness({
    cameras: [{
      id: "porch",
      url: cam.rtspUrl,
      username: "admin",
      password: "s3cret",
    }],
  }, { cameraEvents: { pullTimeoutSec: 1, retryMs: [200, 500] } });
  using https = daemonHttps(h.daemon);
  const send = (method: string, path: string, body: unknown, headers: Record<string, string>) =>
    https.fetch(path, {
      method,
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const admin = { name: "Ada", email: "ada@example.com", password: "correct horse battery" };
  const setupCode = (await Deno.readTextFile(`${h.dir}/data/setup-code`)).trim();
  await (await send("POST", "/api/setup", { ...admin, setupCode, acceptPrivacyNotice: true }, {}))
    .body?.cancel();
  const login = await send("POST", "/api/auth/login", {
    email: admin.email,
    password: admin.password,
  }, {});
  const { csrfToken } = await login.json();
  const headers = {
    cookie: (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
    "x-csrf-token": csrfToken,
  };
  const res = await send("POST", "/api/cameras/discover", {
    multicast: false,
    range: "127.0.0.1",
    ports: [Number(new URL(cam.onvifUrl).port)],
    timeoutMs: 2000,
  }, headers);
  const body = await res.json();
  assertEquals(res.status, 200, JSON.stringify(body));
  // Not offered as a new camera: it is the configured one, which has no ONVIF address yet.
  assertEquals(body.cameras, []);
  assertEquals(body.withoutOnvif, [{
    camera: "porch",
    address: new URL(cam.onvifUrl).host,
    deviceUrl: cam.onvifUrl,
  }]);
  // The page's "Link" button: the camera gets that address (its own credentials serve ONVIF).
  const link = await send("PATCH", "/api/cameras/porch", {
    onvif: { url: body.withoutOnvif[0].deviceUrl },
  }, headers);
  const linked = await link.json();
  assertEquals(link.status, 200, JSON.stringify(linked));
  assertEquals(linked.camera.onvif.url, cam.onvifUrl);
  // A camera with an ONVIF address has its events watched (with the camera's credentials).
  const deadline = Date.now() + 30_000;
  while (h.daemon.cameraEvents().get("porch")?.state !== "subscribed") {
    if (Date.now() > deadline) {
      throw new Error(`porch events: ${JSON.stringify(h.daemon.cameraEvents().get("porch"))}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const again = await (await send("POST", "/api/cameras/discover", {
    multicast: false,
    range: "127.0.0.1",
    ports: [Number(new URL(cam.onvifUrl).port)],
    timeoutMs: 2000,
  }, headers)).json();
  assertEquals([again.withoutOnvif, again.alreadyAdded], [[], [new URL(cam.onvifUrl).host]]);
});
