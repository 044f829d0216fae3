/**
 * The attacks of security issue 12 on logins, accounts and tokens, each against the real auth
 * API on real SQLite files (runtime/testing/auth_app.ts), named after the attack.
 */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { type Fixture, PASSWORD, withApi } from "../testing/auth_app.ts";
import { mountTmpfs } from "../testing/tmpfs.ts";
import { PRIVACY_NOTICE } from "../users/privacy.ts";

const ADMIN = "admin@example.org";

function login(f: Fixture, email: string, password: string, ip: string) {
  return f.call("POST", "/api/auth/login", { ip, body: { email, password } });
}

async function answer(res: Response) {
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() };
}

async function operatorToken(f: Fixture, s: { cookie: string; csrf: string }) {
  const res = await f.call("POST", "/api/me/tokens", {
    cookie: s.cookie,
    csrf: s.csrf,
    body: { name: "script", scope: "operator" },
  });
  assertEquals(res.status, 201);
  return (await res.json()).token as string;
}

Deno.test("attack: five wrong passwords from an attacker lock the owner out", async () => {
  await withApi(async (f) => {
    await f.setupAdmin(); // the owner has signed in from 192.168.1.10
    for (let i = 0; i < 30; i++) {
      await (await login(f, ADMIN, `guess number ${i}`, "10.6.6.6")).body?.cancel();
    }
    const attacker = await login(f, ADMIN, PASSWORD, "10.6.6.6");
    assertEquals(attacker.status, 429, "the attacker's own address is slowed down");
    await attacker.body?.cancel();
    await f.login(ADMIN, PASSWORD); // the owner, from their known address, gets in
  });
});

Deno.test("attack: account enumeration by login answers", async () => {
  await withApi(async (f) => {
    await f.setupAdmin();
    const known: unknown[] = [];
    const unknown: unknown[] = [];
    for (let i = 0; i < 6; i++) {
      known.push(await answer(await login(f, ADMIN, "wrong password", "10.6.6.6")));
      unknown.push(await answer(await login(f, "ghost@example.org", "wrong password", "10.6.6.7")));
    }
    assertEquals(known, unknown, "same statuses, bodies and Retry-After");
    assertEquals((known[5] as { status: number }).status, 429);
  });
  // Timing: the unknown account runs the KDF too (against a dummy hash), at the real cost.
  await withApi(async (f) => {
    await f.setupAdmin();
    const timed = async (email: string, ip: string) => {
      const t0 = performance.now();
      await (await login(f, email, "wrong password", ip)).body?.cancel();
      return performance.now() - t0;
    };
    const k: number[] = [];
    const u: number[] = [];
    for (let i = 0; i < 5; i++) {
      k.push(await timed(ADMIN, `10.7.0.${i}`));
      u.push(await timed("ghost@example.org", `10.8.0.${i}`));
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[2] ?? 0;
    const ratio = median(u) / median(k);
    assert(ratio > 0.33 && ratio < 3, `known ${median(k)} ms vs unknown ${median(u)} ms`);
  }, { scrypt: { N: 1 << 14, r: 8, p: 1 } });
});

Deno.test("attack: 60 concurrent wrong guesses all reach the KDF", async () => {
  await withApi(async (f) => {
    await f.setupAdmin();
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => login(f, ADMIN, `guess ${i} here`, "10.6.6.6")),
    );
    const statuses = answers.map((r) => r.status);
    await Promise.all(answers.map((r) => r.body?.cancel()));
    const checked = f.users.logins.of(1).filter((h) => h.reason === "bad_password").length;
    assertEquals(checked, 3, "only the free attempts reach the KDF");
    assertEquals(statuses.filter((s) => s === 401).length, 3);
    assertEquals(statuses.filter((s) => s === 429).length, 57);
  });
});

Deno.test("attack: stranger claims a fresh box through /api/setup without the setup code", async () => {
  await withApi(async (f) => {
    const claim = {
      name: "Eve",
      email: "eve@example.org",
      password: PASSWORD,
      acceptPrivacyNotice: true,
    };
    const none = await f.call("POST", "/api/setup", { ip: "10.6.6.6", body: claim });
    assertEquals([none.status, (await none.json()).error.field], [400, "setupCode"]);
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      const res = await f.call("POST", "/api/setup", {
        ip: "10.6.6.6",
        body: { ...claim, setupCode: `GUESS${String(i).padStart(5, "0")}` },
      });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    assertEquals(statuses.slice(0, 3), [403, 403, 403]);
    assert(statuses.slice(3).every((s) => s === 429), `wrong codes are throttled: ${statuses}`);
    assertEquals(f.users.count(), 0, "nobody claimed the box");
    // The code: random, 0600 in the data folder, gone once setup is done.
    assertMatch(f.setupCode, /^[A-HJ-NP-Z2-9]{10}$/);
    assertEquals((await Deno.stat(`${f.dir}/setup-code`)).mode! & 0o777, 0o600);
    await f.setupAdmin();
    assertEquals(f.users.count(), 1);
    assert(!(await Deno.stat(`${f.dir}/setup-code`).then(() => true, () => false)));
  });
});

Deno.test("attack: full disk locks everyone out (login and session check on a full disk)", async () => {
  const base = await Deno.makeTempDir({ prefix: "nvr-fulldisk-" });
  const fs = await mountTmpfs(`${base}/mnt`, 4 * 1024 * 1024);
  if (!fs) {
    console.warn("SKIPPED: tmpfs cannot be mounted here (needs root)");
    await Deno.remove(base, { recursive: true });
    return;
  }
  try {
    await withApi(async (f) => {
      const s = await f.setupAdmin();
      assert(await f.users.keepReserve(), "the users reserve is in place");
      // An idle database: its write-ahead log checkpointed to nothing, so any write needs room.
      for (const name of ["users.sqlite", "audit.sqlite"]) {
        const db = new DatabaseSync(`${fs.path}/${name}`);
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        db.close();
      }
      await fill(`${fs.path}/recordings.bin`);
      const again = await login(f, ADMIN, PASSWORD, "192.168.1.10");
      assertEquals(again.status, 200, await again.clone().text());
      const cookie = (again.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      await again.body?.cancel();
      assertEquals((await f.call("GET", "/api/me", { cookie })).status, 200);
      assertEquals((await f.call("GET", "/api/me", { cookie: s.cookie })).status, 200);
    }, { dir: fs.path, reserve: true });
  } finally {
    await fs.unmount();
    await Deno.remove(base, { recursive: true });
  }
});

/** Writes until the filesystem is full (bounded by its size). */
async function fill(path: string): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  for (let i = 0; i < 1024; i++) {
    try {
      await file.write(chunk);
    } catch {
      break;
    }
  }
  for (let i = 0; i < 64; i++) {
    try {
      await file.write(chunk.subarray(0, 512));
    } catch {
      return;
    }
  }
}

Deno.test("attack: API token survives a password change", async () => {
  await withApi(async (f) => {
    const s = await f.setupAdmin();
    const token = await operatorToken(f, s);
    const changed = await f.call("PATCH", "/api/me", {
      cookie: s.cookie,
      csrf: s.csrf,
      body: { password: "a new long passphrase", currentPassword: PASSWORD },
    });
    assertEquals(changed.status, 200);
    await changed.body?.cancel();
    assertEquals((await f.call("GET", "/api/me", { bearer: token })).status, 401);
    // An admin's reset of someone's password revokes their tokens too.
    const op = await f.addUser("operator", "op@example.org");
    const opToken = await operatorToken(f, op);
    const admin = await f.login(ADMIN, "a new long passphrase");
    const reset = await f.call("PATCH", `/api/users/${op.userId}`, {
      cookie: admin.cookie,
      csrf: admin.csrf,
      body: { password: "reset by the admin" },
    });
    assertEquals(reset.status, 200);
    await reset.body?.cancel();
    assertEquals((await f.call("GET", "/api/me", { bearer: opToken })).status, 401);
  });
});

Deno.test("attack: API token mints another token", async () => {
  await withApi(async (f) => {
    const s = await f.setupAdmin();
    const token = await operatorToken(f, s);
    const minted = await f.call("POST", "/api/me/tokens", {
      bearer: token,
      body: { name: "forever", scope: "operator" },
    });
    assertEquals(minted.status, 403);
    assertEquals((await minted.json()).error.code, "session_required");
    assertEquals(f.users.tokensOf(s.userId).length, 1);
    const listed = await f.call("DELETE", "/api/me/tokens/1", { bearer: token });
    assertEquals(listed.status, 403);
    await listed.body?.cancel();
    // A token also expires, and does no admin work.
    const info = f.users.tokensOf(s.userId)[0];
    assertEquals(info?.expiresMs, f.clock.now + 90 * 86_400_000);
    const users = await f.call("GET", "/api/users", { bearer: token });
    assertEquals(users.status, 403);
    await users.body?.cancel();
    f.clock.now += 90 * 86_400_000;
    assertEquals((await f.call("GET", "/api/me", { bearer: token })).status, 401);
  });
});

Deno.test("attack: API token changes the account email", async () => {
  await withApi(async (f) => {
    const s = await f.setupAdmin();
    const token = await operatorToken(f, s);
    const res = await f.call("PATCH", "/api/me", {
      bearer: token,
      body: { email: "attacker@example.net" },
    });
    assertEquals(res.status, 403);
    await res.body?.cancel();
    assertEquals(f.users.get(s.userId)?.email, ADMIN);
    // A read-only token (the default) changes nothing at all.
    const ro = await f.call("POST", "/api/me/tokens", {
      cookie: s.cookie,
      csrf: s.csrf,
      body: { name: "dashboard" },
    });
    const { token: readOnly, scope } = await ro.json();
    assertEquals(scope, "read-only");
    const patch = await f.call("PATCH", "/api/me", { bearer: readOnly, body: { surname: "X" } });
    assertEquals(patch.status, 403);
    await patch.body?.cancel();
    assertEquals((await f.call("GET", "/api/me", { bearer: readOnly })).status, 200);
  });
});

Deno.test("attack: look-alike email аdmin@ beside admin@", async () => {
  await withApi(async (f) => {
    const s = await f.setupAdmin();
    const create = (email: string) =>
      f.call("POST", "/api/users", {
        cookie: s.cookie,
        csrf: s.csrf,
        body: { name: "Twin", email, password: PASSWORD, role: "viewer" },
      });
    const cyrillic = await create("\u0430dmin@example.org"); // Cyrillic а
    assertEquals(cyrillic.status, 400);
    const err = (await cyrillic.json()).error;
    assertEquals(err.field, "email");
    assertMatch(err.message, /mixes Cyrillic and Latin letters/);
    const fullWidth = await create("ＡＤＭＩＮ@example.org"); // NFKC + case fold: admin@
    assertEquals(fullWidth.status, 409);
    await fullWidth.body?.cancel();
    const greekDomain = await create("someone@ex\u03b1mple.org"); // Greek α in the domain
    assertEquals(greekDomain.status, 400);
    await greekDomain.body?.cancel();
    assertEquals((await create("иван@example.org")).status, 201, "one script per part is fine");
    await f.login("ADMIN@Example.org", PASSWORD);
  });
});

Deno.test("registration without accepting the privacy notice is refused", async () => {
  await withApi(async (f) => {
    const profile = { name: "Ada", email: ADMIN, password: PASSWORD, setupCode: f.setupCode };
    for (const extra of [{}, { acceptPrivacyNotice: false }, { acceptPrivacyNotice: "yes" }]) {
      const res = await f.call("POST", "/api/setup", { body: { ...profile, ...extra } });
      assertEquals([res.status, (await res.json()).error.field], [400, "acceptPrivacyNotice"]);
    }
    assertEquals(f.users.count(), 0);
    const notice = await (await f.call("GET", "/api/setup")).json();
    assertEquals(notice.privacyNotice, PRIVACY_NOTICE);
    const s = await f.setupAdmin();
    assertEquals(f.users.privacyOf(s.userId), {
      version: PRIVACY_NOTICE.version,
      acceptedMs: f.clock.now,
    });
    const inv = await f.call("POST", "/api/invites", {
      cookie: s.cookie,
      csrf: s.csrf,
      body: { role: "viewer" },
    });
    const { token } = await inv.json();
    const guest = { token, name: "Guest", email: "guest@example.org", password: PASSWORD };
    const refused = await f.call("POST", "/api/invites/accept", { body: guest });
    assertEquals([refused.status, (await refused.json()).error.field], [
      400,
      "acceptPrivacyNotice",
    ]);
    const ok = await f.call("POST", "/api/invites/accept", {
      body: { ...guest, acceptPrivacyNotice: true },
    });
    assertEquals(ok.status, 201);
    const exported = await (await f.call("GET", "/api/me/export", {
      cookie: (await f.login("guest@example.org", PASSWORD)).cookie,
    })).json();
    assertEquals(exported.privacyNotice.version, PRIVACY_NOTICE.version);
  });
});

Deno.test("login history older than the period is pruned, suspicious entries keep address and browser", async () => {
  await withApi(async (f) => {
    const s = await f.setupAdmin();
    const day = 86_400_000;
    const now = f.clock.now;
    const row = (reason: string, ageDays: number) =>
      f.users.logins.record({
        userId: s.userId,
        ip: `10.0.0.${ageDays}`,
        userAgent: `UA ${reason}`,
        ok: reason !== "bad_password",
        reason,
        tsMs: now - ageDays * day,
      });
    row("ok", 100);
    row("bad_password", 95);
    row("suspicious", 120);
    row("suspicious", 400);
    row("ok", 10);
    assertEquals(f.users.logins.prune(90, 365, now), 3);
    const left = f.users.logins.of(s.userId).map((h) => [h.reason, h.ip, h.userAgent]);
    assertEquals(left, [
      ["suspicious", "10.0.0.120", "UA suspicious"],
      ["ok", "10.0.0.10", "UA ok"],
      ["ok", "192.168.1.10", "TestBrowser/1"],
    ]);
  });
});

Deno.test("suspicious-login event names no person", async () => {
  await withApi(async (f) => {
    await f.setupAdmin();
    await f.login(ADMIN, PASSWORD, { ip: "203.0.113.7" });
    assertEquals(f.events.length, 1);
    const detail = f.events[0]!.detail;
    const text = JSON.stringify(detail);
    assert(!text.includes("Admin") && !text.includes(ADMIN), text);
    assertMatch(String(detail.subject), /^user-[0-9a-f]{16}$/);
    assertEquals(detail.subject, f.audit.subjectFor(1), "stable per user");
    assertEquals(f.users.logins.of(1).at(-1)?.reason, "suspicious");
  });
});

Deno.test("refused-request counts survive a restart", async () => {
  await withApi(async (f) => {
    const probe = async () =>
      await (await f.call("GET", "/api/me", { ip: "10.6.6.6" })).body?.cancel();
    for (let i = 0; i < 60; i++) await probe();
    const logged = () =>
      f.audit.list({ action: "request.refused" }).filter((e) => e.ip === "10.6.6.6").length;
    assertEquals(logged(), 60);
    await f.restart();
    for (let i = 0; i < 5; i++) await probe();
    assertEquals(logged(), 60, "the budget of the hour is spent, restart or not");
    f.clock.now += 3600_000 + 1;
    await probe();
    const suppressed = f.audit.list({ action: "request.refused.suppressed" });
    assertEquals(suppressed.map((e) => e.target), ["5 more"]);
  });
});
