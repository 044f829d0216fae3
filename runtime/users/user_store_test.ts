import { assert, assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import { DEFAULT_SCRYPT, hashPassword, needsRehash, verifyPassword } from "./password.ts";
import { DuplicateEmailError, UserStore } from "./user_store.ts";
import { FieldError, validateAdminFields, validateProfile } from "./validate.ts";

const FAST = { N: 1 << 10, r: 8, p: 1 };

async function withStore(fn: (store: UserStore) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const store = UserStore.open(`${dir}/users.sqlite`, { scrypt: FAST });
  try {
    await fn(store);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("password hashes carry their parameters and verify in constant time", async () => {
  const t0 = performance.now();
  const hash = await hashPassword("correct horse battery");
  const ms = performance.now() - t0;
  assert(hash.startsWith(`scrypt$${DEFAULT_SCRYPT.N}$8$1$`), hash);
  assert(ms > 20, `default scrypt took only ${ms} ms`);
  assert(await verifyPassword("correct horse battery", hash));
  assert(!(await verifyPassword("correct horse batterx", hash)));
  assert(!(await verifyPassword("x", "garbage")));
  assert(!needsRehash(hash));
  assert(needsRehash(await hashPassword("correct horse battery", FAST)));
});

Deno.test("validation names the field", () => {
  assertThrows(() => validateProfile({ email: "nope" }), FieldError, "email:");
  assertThrows(() => validateProfile({ phone: "12345" }), FieldError, "phone:");
  assertThrows(() => validateProfile({ telegram: "name" }), FieldError, "telegram:");
  assertThrows(() => validateProfile({ name: "" }), FieldError, "name:");
  assertThrows(() => validateAdminFields({ password: "short" }), FieldError, "password:");
  assertThrows(() => validateAdminFields({ role: "root" }), FieldError, "role:");
  assertThrows(() => validateAdminFields({ cameras: ["../x"] }), FieldError, "cameras[0]:");
  assertEquals(validateProfile({ phone: "+49 170 123-4567", telegram: "@guard_01" }), {
    phone: "+491701234567",
    telegram: "@guard_01",
  });
});

Deno.test("users, sessions, tokens and login history round-trip and cascade on delete", async () => {
  await withStore(async (store) => {
    assertEquals(store.count(), 0);
    const u = await store.create({
      name: "Anna",
      email: "anna@example.org",
      role: "operator",
      cameras: ["gate"],
      password: "long enough pw",
    }, 1000);
    assertEquals(u.cameras, ["gate"]);
    await assertRejects(
      () => store.create({ name: "B", email: "ANNA@example.org", role: "viewer", password: "x" }),
      DuplicateEmailError,
    );
    assert(await store.checkPassword(u.id, "long enough pw"));
    assert(!(await store.checkPassword(u.id, "wrong password")));
    const { token } = store.createSession(u.id, "10.0.0.2", "UA", 60_000, 1000);
    assertEquals(store.userBySession(token, 2000)?.id, u.id);
    assertEquals(store.userBySession(token, 70_000), null, "expired");
    assertEquals(store.pruneExpiredSessions(70_000), 1);
    const api = store.createToken(u.id, { name: "ha", scope: "read-only", ttlMs: 60_000 }, 1000);
    assertEquals(store.userByToken(api.token, 1500)?.user.email, "anna@example.org");
    assertEquals(store.userByToken(api.token, 1500)?.scope, "read-only");
    assertEquals(store.userByToken(api.token, 61_000), null, "expired");
    store.logins.record({
      userId: u.id,
      ip: "ip",
      userAgent: "UA",
      ok: true,
      reason: "ok",
      tsMs: 1,
    });
    assertEquals(store.logins.knownSources(u.id, "ip", "other"), {
      any: true,
      ip: true,
      userAgent: false,
    });
    const updated = await store.update(u.id, { surname: "Ivanova", password: "another long pw" });
    assertEquals(updated?.surname, "Ivanova");
    assertEquals(store.userBySession(token, 2000), null, "password change ends sessions");
    assertEquals(store.tokensOf(u.id), [], "and API tokens");
    assert(store.delete(u.id));
    assertEquals(store.userByToken(api.token, 3000), null);
    assertEquals(store.logins.of(u.id), []);
    assertEquals(store.tokensOf(u.id), []);
  });
});

Deno.test("a right password stored with weaker parameters is re-hashed on login", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/users.sqlite`;
  const weak = UserStore.open(path, { scrypt: { N: 1 << 8, r: 8, p: 1 } });
  const user = await weak.create({
    name: "A",
    email: "a@example.org",
    role: "admin",
    password: "p".repeat(12),
  });
  weak.close();
  const store = UserStore.open(path, { scrypt: FAST });
  try {
    assert(await store.checkPassword(user.id, "p".repeat(12)));
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path);
    const row = db.prepare("SELECT password_hash FROM users").get() as { password_hash: string };
    db.close();
    assert(row.password_hash.startsWith(`scrypt$${FAST.N}$`), row.password_hash);
    assert(await store.checkPassword(user.id, "p".repeat(12)));
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
