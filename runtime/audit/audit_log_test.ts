import { assert, assertEquals } from "../testing/assert.ts";
import { AuditLog } from "./audit_log.ts";

const base = { ip: "10.0.0.9", userAgent: "UA", outcome: "ok" as const, target: "" };

Deno.test("audit log filters, exports, prunes and pseudonymises", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/audit.sqlite`;
  const log = AuditLog.open(path);
  try {
    const day = 86_400_000;
    const now = 100 * day;
    log.record({ ...base, userId: 1, userName: "Anna", action: "login", tsMs: now - 40 * day });
    log.record({ ...base, userId: 1, userName: "Anna", action: "me.update", tsMs: now - day });
    log.record({
      ...base,
      userId: 2,
      userName: "Boris",
      action: "user.update",
      target: "user:1",
      tsMs: now,
    });
    assertEquals(log.list({ user: 1 }).map((e) => e.action), ["me.update", "login"]);
    assertEquals(log.list({ action: "login" }).length, 1);
    assertEquals(log.list({ from: now - 2 * day, to: now }).length, 1);
    assertEquals(log.about(1).length, 3);
    assertEquals(JSON.parse(log.exportJson()).entries.length, 3);

    const pseudonym = log.pseudonymFor(1);
    assert(/^deleted-user-[0-9a-f]{8}$/.test(pseudonym), pseudonym);
    assertEquals(log.pseudonymiseUser(1), 3);
    assertEquals(log.about(1), []);
    const all = log.list();
    assert(!JSON.stringify(all).includes("Anna"));
    assertEquals(all.find((e) => e.action === "user.update")?.target, `user:${pseudonym}`);
    assertEquals(all.filter((e) => e.userName === pseudonym).length, 2);
    assertEquals(log.pruneOlderThan(30, now), 1);
    assertEquals(log.list().length, 2);
  } finally {
    log.close();
  }
  // The per-box secret survives reopening, so the pseudonym is stable.
  const again = AuditLog.open(path);
  try {
    assertEquals(again.pseudonymFor(1), again.pseudonymFor(1));
    assertEquals(again.list().filter((e) => e.userName?.startsWith("deleted-user-")).length, 1);
  } finally {
    again.close();
    await Deno.remove(dir, { recursive: true });
  }
});
