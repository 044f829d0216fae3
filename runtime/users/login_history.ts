/**
 * Login history in users.sqlite: every attempt with IP, User-Agent, outcome and reason (a
 * successful login from a new place has reason "suspicious"). It backs the new-IP/new-browser
 * check and the user's own history, and is pruned after a configured period (`prune`); the
 * throttle of guesses is login_throttle.ts. Rows of a user
 * go with the user (foreign-key cascade); failures for unknown emails keep user_id NULL.
 */
import type { DatabaseSync } from "node:sqlite";
import type { LoginRecord, Row } from "./user_rows.ts";

const DAY_MS = 86_400_000;

export class LoginHistory {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  record(rec: LoginRecord): void {
    this.#db.prepare(
      `INSERT INTO login_history (user_id, ip, user_agent, ok, reason, ts_ms)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(rec.userId, rec.ip, rec.userAgent, rec.ok ? 1 : 0, rec.reason, rec.tsMs);
  }

  /**
   * Deletes attempts older than `days` days; successful logins marked suspicious (reason
   * "suspicious") keep their address and browser up to `suspiciousDays`, as evidence. Returns
   * how many rows went.
   */
  prune(days: number, suspiciousDays: number, nowMs: number): number {
    const res = this.#db.prepare(
      `DELETE FROM login_history
       WHERE ts_ms < ? AND (reason <> 'suspicious' OR ts_ms < ?)`,
    ).run(nowMs - days * DAY_MS, nowMs - Math.max(days, suspiciousDays) * DAY_MS);
    return Number(res.changes);
  }

  /** Whether the user ever logged in successfully, and from this IP / with this browser. */
  knownSources(userId: number, ip: string, userAgent: string): {
    any: boolean;
    ip: boolean;
    userAgent: boolean;
  } {
    const r = this.#db.prepare(
      `SELECT COUNT(*) AS n, COALESCE(SUM(ip = ?), 0) AS ip, COALESCE(SUM(user_agent = ?), 0) AS ua
       FROM login_history WHERE user_id = ? AND ok = 1`,
    ).get(ip, userAgent, userId) as Row;
    return { any: Number(r.n) > 0, ip: Number(r.ip) > 0, userAgent: Number(r.ua) > 0 };
  }

  of(userId: number): LoginRecord[] {
    return this.#db.prepare(
      `SELECT user_id, ip, user_agent, ok, reason, ts_ms FROM login_history
       WHERE user_id = ? ORDER BY ts_ms, id`,
    ).all(userId).map((r) => ({
      userId: r.user_id == null ? null : Number(r.user_id),
      ip: String(r.ip),
      userAgent: String(r.user_agent),
      ok: Number(r.ok) !== 0,
      reason: String(r.reason),
      tsMs: Number(r.ts_ms),
    }));
  }
}
