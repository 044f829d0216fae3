import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { canSeeCamera } from "./auth.ts";
import { validateConfig } from "../config/mod.ts";
import { type CallOptions, PASSWORD, withApi } from "../testing/auth_app.ts";

Deno.test("viewer cannot change anything, operator cannot administer users", async () => {
  await withApi(async (f) => {
    const admin = await f.setupAdmin();
    const viewer = await f.addUser("viewer", "viewer@example.org", ["gate"]);
    const operator = await f.addUser("operator", "op@example.org", ["gate", "yard"]);
    for (const s of [viewer, operator]) {
      const opts = { cookie: s.cookie, csrf: s.csrf };
      const create = await f.call("POST", "/api/users", {
        ...opts,
        body: { name: "X", email: "x@example.org", password: PASSWORD, role: "admin" },
      });
      assertEquals(create.status, 403);
      assertEquals((await create.json()).error.code, "forbidden");
      assertEquals((await f.call("GET", "/api/users", opts)).status, 403);
      assertEquals(
        (await f.call("PATCH", `/api/users/${s.userId}`, { ...opts, body: { role: "admin" } }))
          .status,
        403,
      );
      assertEquals((await f.call("DELETE", `/api/users/${admin.userId}`, opts)).status, 403);
      assertEquals((await f.call("GET", "/api/audit", opts)).status, 403);
      // Nor can they raise their own role through /api/me.
      const self = await f.call("PATCH", "/api/me", { ...opts, body: { role: "admin" } });
      assertEquals(self.status, 400);
      assertEquals((await self.json()).error.field, "role");
    }
    assertEquals(f.users.get(viewer.userId)?.role, "viewer");
    assert(f.audit.list({ action: "access.denied" }).length >= 10);
    const v = f.users.get(viewer.userId);
    assert(v && canSeeCamera(v, "gate") && !canSeeCamera(v, "yard"));
    const a = f.users.get(admin.userId);
    assert(a && canSeeCamera(a, "yard"));
    // The admin can: change the operator's cameras, and is refused demoting the last admin.
    const opts = { cookie: admin.cookie, csrf: admin.csrf };
    const patched = await f.call("PATCH", `/api/users/${operator.userId}`, {
      ...opts,
      body: { cameras: ["yard"] },
    });
    assertEquals((await patched.json()).user.cameras, ["yard"]);
    const demote = await f.call("PATCH", `/api/users/${admin.userId}`, {
      ...opts,
      body: { role: "viewer" },
    });
    assertEquals(demote.status, 409);
    assertEquals((await f.call("DELETE", `/api/users/${viewer.userId}`, opts)).status, 204);
    assertEquals(f.users.get(viewer.userId), null);
  });
});

Deno.test("a user views, edits, exports and deletes their personal data", async () => {
  await withApi(async (f) => {
    const admin = await f.setupAdmin();
    const me = await f.addUser("operator", "olga@example.org", ["gate"]);
    const opts = { cookie: me.cookie, csrf: me.csrf };
    const edit = await f.call("PATCH", "/api/me", {
      ...opts,
      body: { surname: "Petrova", phone: "+7 912 345 67 89", telegram: "@olga_p" },
    });
    assertEquals(edit.status, 200);
    assertEquals((await edit.json()).user.phone, "+79123456789");
    const badPhone = await f.call("PATCH", "/api/me", { ...opts, body: { phone: "call me" } });
    assertEquals((await badPhone.json()).error, {
      code: "invalid",
      message: "phone: must be in international form, e.g. +491701234567",
      field: "phone",
    });
    // The admin acts on her too, so an audit entry is about her without being by her.
    await f.call("PATCH", `/api/users/${me.userId}`, {
      cookie: admin.cookie,
      csrf: admin.csrf,
      body: { cameras: ["gate", "yard"] },
    });
    const exp = await f.call("GET", "/api/me/export", opts);
    assertEquals(exp.status, 200);
    const data = await exp.json();
    assertEquals(data.profile.surname, "Petrova");
    assertEquals(data.sessions.length, 1);
    assertEquals(data.loginHistory.length, 1);
    assert(data.audit.some((e: { action: string }) => e.action === "user.update"));
    assert(data.audit.some((e: { action: string }) => e.action === "me.update"));

    const wrong = await f.call("DELETE", "/api/me", { ...opts, body: { password: "not mine!!" } });
    assertEquals(wrong.status, 403);
    const del = await f.call("DELETE", "/api/me", { ...opts, body: { password: PASSWORD } });
    assertEquals(del.status, 204);
    assertEquals(f.users.byEmail("olga@example.org"), null);
    assertEquals(f.users.sessionsOf(me.userId), []);
    assertEquals(f.users.logins.of(me.userId), []);
    assertEquals((await f.call("GET", "/api/me", opts)).status, 401);
    const dump = JSON.stringify(f.audit.list());
    assert(!dump.includes("olga"), "her name is gone from the audit log");
    assertEquals(f.audit.about(me.userId), []);
    const pseudonym = f.audit.pseudonymFor(me.userId);
    assert(f.audit.list().some((e) => e.userName === pseudonym && e.action === "me.delete"));
    assert(f.audit.list().some((e) => e.target === `user:${pseudonym}`));
  });
});

Deno.test("SQL injection strings are stored verbatim and harmless", async () => {
  await withApi(async (f) => {
    const admin = await f.setupAdmin();
    const evil = `Robert'); DROP TABLE users;--`;
    const body = {
      name: evil,
      surname: `' OR '1'='1`,
      patronymic: `"; DELETE FROM sessions; --`,
      email: `o'hara@example.org`,
      password: `' OR 1=1 -- xx`,
      role: "viewer",
      cameras: ["gate"],
    };
    const res = await f.call("POST", "/api/users", {
      cookie: admin.cookie,
      csrf: admin.csrf,
      body,
    });
    assertEquals(res.status, 201);
    const user = (await res.json()).user;
    assertEquals([user.name, user.surname, user.patronymic], [
      evil,
      body.surname,
      body.patronymic,
    ]);
    assertEquals(f.users.count(), 2);
    const s = await f.login(body.email, body.password);
    assertEquals(s.userId, user.id);
    const injected = await f.call("POST", "/api/auth/login", {
      body: { email: `admin@example.org' --`, password: "x' OR '1'='1" },
    });
    assert([400, 401].includes(injected.status));
    const audit = await f.call("GET", `/api/audit?action=${encodeURIComponent("' OR 1=1 --")}`, {
      cookie: admin.cookie,
    });
    assertEquals((await audit.json()).entries, []);
    assertEquals(f.users.list().length, 2);
  });
});

Deno.test("oversized and malformed bodies are refused with the JSON error shape", async () => {
  await withApi(async (f) => {
    const admin = await f.setupAdmin();
    const big = await f.call("PATCH", "/api/me", {
      cookie: admin.cookie,
      csrf: admin.csrf,
      rawBody: JSON.stringify({ surname: "x".repeat(70 * 1024) }),
    });
    assertEquals(big.status, 413);
    assertEquals((await big.json()).error.code, "body_too_large");
    const bigSetup = await f.call("POST", "/api/setup", { rawBody: "x".repeat(100 * 1024) });
    assertEquals(bigSetup.status, 413);
    await bigSetup.body?.cancel();
    const notJson = await f.call("POST", "/api/auth/login", { rawBody: "{not json" });
    assertEquals(notJson.status, 400);
    assertEquals((await notJson.json()).error.code, "invalid_json");
    const unknown = await f.call("POST", "/api/auth/login", {
      body: { email: "a@example.org", password: "x", admin: true },
    });
    assertEquals((await unknown.json()).error.field, "admin");
  });
});

Deno.test("every route but setup, login, /healthz and the static page refuses an anonymous request", async () => {
  await withApi(async (f) => {
    await f.setupAdmin();
    const publicRoutes = new Set([
      "GET /api/setup",
      "POST /api/setup",
      "POST /api/auth/login",
      "POST /api/invites/accept",
      "GET /healthz",
      // The web page's static files: public on purpose, they hold no data.
      "GET /",
      "GET /index.html",
      "GET /style.css",
    ]);
    const routes = f.app.routes.filter((r) => r.method !== "ALL");
    const seen = new Set<string>();
    for (const r of routes) {
      const key = `${r.method} ${r.path}`;
      if (publicRoutes.has(key) || seen.has(key)) continue;
      seen.add(key);
      const path = r.path.replace(/:\w+/g, "1");
      const body = ["GET", "HEAD"].includes(r.method) ? {} : { body: {} };
      const res = await f.call(r.method, path, body);
      assertEquals(res.status, 401, `${key} answered ${res.status} to an anonymous request`);
      await res.body?.cancel();
    }
    assert(seen.size >= 17, `only ${seen.size} routes walked: ${[...seen].join(", ")}`);
  });
});

Deno.test("refused requests are logged: anonymous, traversal, injection, oversized; a scan is capped", async () => {
  await withApi(async (f) => {
    await f.setupAdmin();
    const probes: Array<[string, string, CallOptions]> = [
      ["GET", "/api/users", {}],
      ["GET", "/api/recordings/..%2F..%2Fetc%2Fpasswd/download", {}],
      ["POST", "/api/auth/login", { body: { email: "' OR '1'='1", password: "x' --" } }],
      ["POST", "/api/setup", { rawBody: JSON.stringify({ name: "x".repeat(200_000) }) }],
    ];
    for (const [method, path, opts] of probes) {
      const res = await f.call(method, path, { ...opts, ip: "10.9.9.9", ua: "Scanner/1" });
      assert(res.status >= 400, `${method} ${path} refused`);
      await res.body?.cancel();
    }
    const refused = f.audit.list({ action: "request.refused", limit: 50 });
    assertEquals(refused.length, probes.length, JSON.stringify(refused));
    for (const entry of refused) {
      assertEquals([entry.ip, entry.userAgent, entry.outcome], ["10.9.9.9", "Scanner/1", "denied"]);
    }
    assertMatch(JSON.stringify(refused), /etc%2Fpasswd\/download → 40[14]/);
    assertMatch(JSON.stringify(refused), /POST \/api\/setup → 413/);

    // A scan from one address: at most 60 lines an hour, the rest counted.
    for (let i = 0; i < 80; i++) {
      await (await f.call("GET", `/api/users/${i}`, { ip: "10.7.7.7" })).body?.cancel();
    }
    assertEquals(
      f.audit.list({ action: "request.refused", limit: 500 }).filter((e) => e.ip === "10.7.7.7")
        .length,
      60,
    );
  });
});

Deno.test("refused requests: a signed-in user's 409 (a camera without PTZ) is not audited; an anonymous one is", async () => {
  const config = validateConfig({ cameras: [{ id: "door", url: "rtsp://127.0.0.1:1/main" }] });
  await withApi(async (f) => {
    const admin = await f.setupAdmin();
    const before = f.audit.list({ action: "request.refused", limit: 50 }).length;
    const ptz = await f.call("GET", "/api/cameras/door/ptz", { cookie: admin.cookie });
    assertEquals(ptz.status, 409, "no PTZ here");
    await ptz.body?.cancel();
    assertEquals(
      f.audit.list({ action: "request.refused", limit: 50 }).length,
      before,
      "the page's question about PTZ is no security event",
    );
    // Setup again, without a session: a probe, audited as before.
    const again = await f.call("POST", "/api/setup", {
      body: {
        name: "Mallory",
        email: "mallory@example.org",
        password: PASSWORD,
        setupCode: "000000",
        acceptPrivacyNotice: true,
      },
      ip: "10.5.5.5",
    });
    assertEquals(again.status, 409);
    await again.body?.cancel();
    const refused = f.audit.list({ action: "request.refused", limit: 50 });
    assertEquals(refused.length, before + 1, JSON.stringify(refused));
    assertMatch(refused[0]!.target ?? "", /POST \/api\/setup → 409/);
  }, { system: { config: () => config } });
});
