import { assert, assertEquals } from "../testing/assert.ts";
import { withApi } from "../testing/auth_app.ts";

Deno.test("admins read and export the audit log with validated filters", async () => {
  await withApi(async (f) => {
    const admin = await f.setupAdmin();
    const viewer = await f.addUser("viewer", "v@example.org");
    const opts = { cookie: admin.cookie };
    const list = await (await f.call("GET", `/api/audit?user=${viewer.userId}`, opts)).json();
    assertEquals(list.entries.map((e: { action: string }) => e.action), ["login"]);
    assertEquals(list.entries[0].ip, "192.168.1.10");
    assertEquals(list.entries[0].userAgent, "TestBrowser/1");
    const logins = await (await f.call("GET", "/api/audit?action=login&limit=1", opts)).json();
    assertEquals(logins.entries.length, 1);
    const bad = await f.call("GET", "/api/audit?limit=-5", opts);
    assertEquals(bad.status, 400);
    assertEquals((await bad.json()).error.field, "limit");
    const unknown = await f.call("GET", "/api/audit?drop=1", opts);
    assertEquals((await unknown.json()).error.field, "drop");
    const exp = await f.call("GET", `/api/audit/export?from=0&to=${f.clock.now + 1}`, opts);
    assertEquals(exp.status, 200);
    assert((exp.headers.get("content-disposition") ?? "").includes("audit.json"));
    const doc = await exp.json();
    assert(doc.entries.length >= 3, JSON.stringify(doc));
    assert(f.audit.list({ action: "audit.export" }).length === 1);
  });
});
