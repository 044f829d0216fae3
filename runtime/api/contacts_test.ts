import { assertEquals, assertMatch } from "../testing/assert.ts";
import { withApi } from "../testing/auth_app.ts";

Deno.test("notification contacts: minimal, validated, changeable and deletable; viewers refused", async () => {
  await withApi(async (f) => {
    const admin = await f.setupAdmin();
    const as = { cookie: admin.cookie, csrf: admin.csrf };
    const bad = await f.call("POST", "/api/contacts", {
      ...as,
      body: { name: "Bo", email: "nope" },
    });
    assertEquals(bad.status, 400);
    assertEquals((await bad.json()).error.field, "email");
    const unreachable = await f.call("POST", "/api/contacts", { ...as, body: { name: "Bo" } });
    assertEquals(unreachable.status, 400);
    const extra = await f.call("POST", "/api/contacts", {
      ...as,
      body: { name: "Bo", email: "bo@example.org", birthday: "1990-01-01" },
    });
    assertEquals(extra.status, 400, "nothing beyond name, email and phone is kept");

    const created = await f.call("POST", "/api/contacts", {
      ...as,
      body: { name: "Bo Guard", email: "bo@example.org", phone: "+49 170 1234567" },
    });
    assertEquals(created.status, 201);
    const { contact } = await created.json();
    assertEquals([contact.name, contact.email, contact.phone], [
      "Bo Guard",
      "bo@example.org",
      "+491701234567",
    ]);

    const changed = await f.call("PATCH", `/api/contacts/${contact.id}`, {
      ...as,
      body: { email: null },
    });
    assertEquals((await changed.json()).contact.email, null);

    const viewer = await f.addUser("viewer", "vi@example.org");
    const refused = await f.call("GET", "/api/contacts", { cookie: viewer.cookie });
    assertEquals(refused.status, 403);
    await refused.body?.cancel();

    const gone = await f.call("DELETE", `/api/contacts/${contact.id}`, as);
    assertEquals(gone.status, 204);
    assertEquals((await (await f.call("GET", "/api/contacts", as)).json()).contacts, []);
    const trail = JSON.stringify(f.audit.list({ limit: 50 }));
    assertMatch(trail, /contact\.delete/);
    assertEquals(trail.includes("bo@example.org"), false, "the audit log keeps no contact data");
  });
});
