/**
 * Login history in users.sqlite: every attempt with IP, User-Agent, outcome and reason. It backs
 * the per-user lock-out, the per-IP rate limit and the new-IP/new-browser check. Rows of a user
 * go with the user (foreign-key cascade); failures for unknown emails keep user_id NULL.
 */
import type { DatabaseSync } from "node:sqlite";
import type { LoginRecord, Row } from "./user_rows.ts";

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

  /** Timestamps of wrong-password attempts for the user since `sinceMs` and its last success. */
  recentFailures(userId: number, sinceMs: number): number[] {
    return this.#db.prepare(
      `SELECT ts_ms FROM login_history WHERE user_id = ? AND ok = 0 AND reason = 'bad_password'
         AND ts_ms > ? AND id > COALESCE((SELECT MAX(id) FROM login_history
                                          WHERE user_id = ? AND ok = 1), 0)
       ORDER BY ts_ms DESC`,
    ).all(userId, sinceMs, userId).map((r) => Number(r.ts_ms));
  }

  failuresFromIp(ip: string, sinceMs: number): number {
    const sql = "SELECT COUNT(*) AS n FROM login_history WHERE ip = ? AND ok = 0 AND ts_ms > ?";
    return Number((this.#db.prepare(sql).get(ip, sinceMs) as Row).n);
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
