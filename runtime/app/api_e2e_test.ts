/**
 * The local API of the real daemon over a real socket: first-run setup, login with a cookie and
 * CSRF token, cameras and recordings for someone allowed to see them, nothing for anyone else.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { daemonHttps } from "../testing/https_client.ts";

const small = { codec: "h265", width: 320, height: 240, fps: 15 } as const;

Deno.test("API over a socket: setup, login, cameras and recordings by role and camera", async () => {
  await using cam = await startVirtualCamera(small);
  await using h = await startHarness({
    cameras: [{ id: "door", url: cam.rtspUrl }, { id: "yard", url: cam.rtspUrl }],
  });
  using https = daemonHttps(h.daemon);
  const call = async (path: string, init: RequestInit = {}) => {
    const res = await https.fetch(path, init);
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
  const json = (body: unknown, extra: Record<string, string> = {}): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/json", ...extra },
    body: JSON.stringify(body),
  });

  // Nobody gets anything before signing in; the first admin is created once.
  assertEquals((await call("/api/cameras")).status, 401);
  const admin = { name: "Ada", email: "ada@example.com", password: "correct horse battery" };
  // The one-time setup code, as printed at start; without it nobody claims the box.
  const setupCode = (await Deno.readTextFile(`${h.dir}/data/setup-code`)).trim();
  assert(h.log.lines.some((e) => e.msg === `setup code: ${setupCode}`), "code in the log");
  const claim = { ...admin, acceptPrivacyNotice: true };
  assertEquals((await call("/api/setup", json({ ...claim, setupCode: "WRONGCODE1" }))).status, 403);
  assertEquals((await call("/api/setup", json({ ...claim, setupCode }))).status, 201);
  assertEquals(
    (await call("/api/setup", json({ ...claim, setupCode, email: "eve@example.com" }))).status,
    409,
  );

  const login = await https.fetch(
    "/api/auth/login",
    json({ email: admin.email, password: admin.password }),
  );
  assertEquals(login.status, 200);
  const { csrfToken } = await login.json();
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  assert(cookie.startsWith("nvr_session="), "a session cookie");
  const auth = { cookie };

  await h.until("door", (s) => s.segments >= 1, "door records");
  const cams = await call("/api/cameras", { headers: auth });
  assertEquals(cams.body.cameras.map((c: { id: string }) => c.id), ["door", "yard"]);
  const now = Date.now();
  const recs = await call(`/api/recordings?camera=door&from=${now - 60_000}&to=${now + 1000}`, {
    headers: auth,
  });
  assertEquals(recs.status, 200);
  assert(recs.body.segments.length >= 1, "door's segments are listed");

  // A viewer allowed to see only the yard: the door does not exist for them.
  const viewer = {
    name: "Vic",
    email: "vic@example.com",
    password: "another long secret",
    role: "viewer",
    cameras: ["yard"],
  };
  const created = await call("/api/users", json(viewer, { ...auth, "x-csrf-token": csrfToken }));
  assertEquals(created.status, 201, JSON.stringify(created.body));
  const vlogin = await https.fetch(
    "/api/auth/login",
    json({ email: viewer.email, password: viewer.password }),
  );
  await vlogin.body?.cancel();
  const vcookie = { cookie: (vlogin.headers.get("set-cookie") ?? "").split(";")[0] ?? "" };
  const vcams = await call("/api/cameras", { headers: vcookie });
  assertEquals(vcams.body.cameras.map((c: { id: string }) => c.id), ["yard"]);
  const hidden = await call(`/api/recordings?camera=door&from=${now - 60_000}&to=${now}`, {
    headers: vcookie,
  });
  assertEquals(hidden.status, 404);
  assertEquals(hidden.body.error.code !== undefined, true, "one JSON error shape");
  assertEquals((await call("/api/users", { headers: vcookie })).status, 403);
});

Deno.test("API over a socket: cameras added by ONVIF address and by URL, changed, removed", async () => {
  await using cam = await startVirtualCamera({ ...small, user: "admin", password: "s3cret" });
  await using h = await startHarness({ cameras: [] });
  using https = daemonHttps(h.daemon);
  const admin = { name: "Ada", email: "ada@example.com", password: "correct horse battery" };
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    https.fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const setupCode = (await Deno.readTextFile(`${h.dir}/data/setup-code`)).trim();
  await (await post("/api/setup", { ...admin, setupCode, acceptPrivacyNotice: true })).body
    ?.cancel();
  const login = await post("/api/auth/login", { email: admin.email, password: admin.password });
  const { csrfToken } = await login.json();
  const headers = {
    cookie: (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
    "x-csrf-token": csrfToken,
  };

  const onvifAddress = new URL(cam.onvifUrl).host;
  const added = await post("/api/cameras", {
    id: "gate",
    onvif: { address: onvifAddress, username: "admin", password: "s3cret" },
  }, headers);
  const body = await added.json();
  assertEquals(added.status, 201, JSON.stringify(body));
  assertEquals([body.camera.url, body.camera.subUrl, body.camera.codec], [
    cam.rtspUrl,
    cam.subUrl,
    "h265",
  ]);
  assertEquals(body.camera.onvif?.url, cam.onvifUrl, "the device service is kept");
  await h.until("gate", (s) => s.segments >= 1, "the ONVIF-added camera records");

  const bad = await post("/api/cameras", { id: "x y", url: cam.rtspUrl }, headers);
  assertEquals(bad.status, 400);
  assertEquals((await bad.json()).error.field, "id");

  const renamed = await https.fetch("/api/cameras/gate", {
    method: "PATCH",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ name: "Gate" }),
  });
  assertEquals((await renamed.json()).camera.name, "Gate");
  const removed = await https.fetch("/api/cameras/gate", { method: "DELETE", headers });
  assertEquals(removed.status, 204);
  assertEquals(h.daemon.cameras().length, 0);
});
