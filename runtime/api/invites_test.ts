import { assertEquals } from "../testing/assert.ts";
import { PASSWORD, withApi } from "../testing/auth_app.ts";
import { ALL_PATHS } from "./openapi.ts";

Deno.test("the OpenAPI document describes every registered /api route", async () => {
  await withApi(async (f) => {
    const s = await f.setupAdmin();
    const res = await f.call("GET", "/api/openapi.json", { cookie: s.cookie });
    assertEquals(res.status, 200);
    const doc = await res.json();
    assertEquals(doc.openapi, "3.1.0");
    const registered = f.app.routes
      .filter((r) => r.method !== "ALL" && r.path.startsWith("/api/"))
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    const documented = Object.entries(ALL_PATHS).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`)
    );
    assertEquals([...new Set(registered)].sort(), documented.sort());
  });
});

Deno.test("an invitation creates one account with the invited role, once", async () => {
  await withApi(async (f) => {
    const admin = await f.setupAdmin();
    const opts = { cookie: admin.cookie, csrf: admin.csrf };
    const created = await f.call("POST", "/api/invites", {
      ...opts,
      body: { role: "viewer", cameras: ["gate"], email: "guest@example.org" },
    });
    assertEquals(created.status, 201);
    const { token, id } = await created.json();
    const pending = await (await f.call("GET", "/api/invites", opts)).json();
    assertEquals(pending.invites.map((i: { id: number }) => i.id), [id]);
    const profile = {
      token,
      name: "Guest",
      email: "guest@example.org",
      password: PASSWORD,
      acceptPrivacyNotice: true,
    };
    const wrongEmail = await f.call("POST", "/api/invites/accept", {
      body: { ...profile, email: "other@example.org" },
    });
    assertEquals((await wrongEmail.json()).error.field, "email");
    const ok = await f.call("POST", "/api/invites/accept", { body: profile });
    assertEquals(ok.status, 201);
    const user = (await ok.json()).user;
    assertEquals([user.role, user.cameras], ["viewer", ["gate"]]);
    const again = await f.call("POST", "/api/invites/accept", {
      body: { ...profile, email: "guest2@example.org" },
    });
    assertEquals(again.status, 404);
    assertEquals((await again.json()).error.code, "invite_invalid");
    await f.login("guest@example.org", PASSWORD);
    assertEquals(f.users.logins.of(user.id).length, 1);
  });
});
