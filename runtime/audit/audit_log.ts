/**
 * The audit log of user actions (audit.sqlite in the data folder, node:sqlite, WAL): who (user id
 * and name at the time), what (action, target), when, from which IP and browser, and the outcome.
 * It has its own retention (`pruneOlderThan`). When a user is deleted, `pseudonymiseUser`
 * replaces their id and name by `deleted-user-<8 hex>`, an HMAC of the id under a per-box secret
 * kept in this file, so one person's entries stay linkable to each other but not to them.
 */
import { createHmac, randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";

export type AuditOutcome = "ok" | "denied" | "failed";

export interface AuditInput {
  readonly userId: number | null;
  readonly userName: string | null;
  readonly action: string;
  /** What was acted on, e.g. "user:4" or "camera:gate"; "" when nothing in particular. */
  readonly target: string;
  readonly ip: string;
  readonly userAgent: string;
  readonly outcome: AuditOutcome;
  readonly tsMs?: number;
}

export interface AuditEntry extends AuditInput {
  readonly id: number;
  readonly tsMs: number;
}

export interface AuditQuery {
  readonly from?: number;
  readonly to?: number;
  readonly user?: number;
  readonly action?: string;
  readonly limit?: number;
}

const MIGRATIONS: readonly string[] = [
  `
CREATE TABLE audit (
  id         INTEGER PRIMARY KEY,
  ts_ms      INTEGER NOT NULL,
  user_id    INTEGER NULL,
  user_name  TEXT    NULL,
  action     TEXT    NOT NULL,
  target     TEXT    NOT NULL,
  ip         TEXT    NOT NULL,
  user_agent TEXT    NOT NULL,
  outcome    TEXT    NOT NULL
);
CREATE INDEX audit_ts ON audit (ts_ms);
CREATE INDEX audit_user ON audit (user_id, ts_ms);
CREATE TABLE audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
`,
  // The refused-request budget per address (api/refusal_log.ts), kept across restarts.
  `
CREATE TABLE refusal_budget (
  ip           TEXT    PRIMARY KEY,
  window_start INTEGER NOT NULL,
  used         INTEGER NOT NULL,
  suppressed   INTEGER NOT NULL
) WITHOUT ROWID;
`,
];

/** One address's budget of refused requests written to the log in the current hour. */
export interface RefusalBudget {
  readonly windowStart: number;
  readonly used: number;
  readonly suppressed: number;
}

export const MAX_AUDIT_LIMIT = 10_000;
const DAY_MS = 86_400_000;

function entryFromRow(r: Record<string, unknown>): AuditEntry {
  return {
    id: Number(r.id),
    tsMs: Number(r.ts_ms),
    userId: r.user_id == null ? null : Number(r.user_id),
    userName: r.user_name == null ? null : String(r.user_name),
    action: String(r.action),
    target: String(r.target),
    ip: String(r.ip),
    userAgent: String(r.user_agent),
    outcome: String(r.outcome) as AuditOutcome,
  };
}

const COLS = "id, ts_ms, user_id, user_name, action, target, ip, user_agent, outcome";

export class AuditLog {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #secret: Buffer;

  private constructor(path: string, db: DatabaseSync, secret: Buffer) {
    this.path = path;
    this.#db = db;
    this.#secret = secret;
  }

  /** Opens (creating if needed) the audit database; creates the per-box secret once. */
  static open(path: string): AuditLog {
    const db = new DatabaseSync(path);
    try {
      db.exec(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
      );
      db.exec("BEGIN IMMEDIATE");
      try {
        const row = db.prepare("PRAGMA user_version").get() as { user_version: number };
        const from = Number(row.user_version);
        if (from > MIGRATIONS.length) {
          throw new Error(
            `Audit log '${path}' has schema version ${from}, newer than this firmware knows ` +
              `(${MIGRATIONS.length}). Update the firmware, or move the file aside.`,
          );
        }
        MIGRATIONS.slice(from).forEach((sql, i) => {
          db.exec(sql);
          db.exec(`PRAGMA user_version = ${from + i + 1}`);
        });
        db.prepare("INSERT OR IGNORE INTO audit_meta (key, value) VALUES ('secret', ?)").run(
          randomBytes(32).toString("base64url"),
        );
        db.exec("COMMIT");
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
      const secret = db.prepare("SELECT value FROM audit_meta WHERE key = 'secret'").get() as {
        value: string;
      };
      return new AuditLog(path, db, Buffer.from(secret.value, "base64url"));
    } catch (err) {
      db.close();
      throw err;
    }
  }

  close(): void {
    this.#db.close();
  }

  record(e: AuditInput): number {
    const row = this.#db.prepare(
      `INSERT INTO audit (ts_ms, user_id, user_name, action, target, ip, user_agent, outcome)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ).get(
      e.tsMs ?? Date.now(),
      e.userId,
      e.userName,
      e.action,
      e.target,
      e.ip,
      e.userAgent,
      e.outcome,
    ) as { id: number };
    return Number(row.id);
  }

  /** Entries in [from, to), newest first, optionally of one user or one action. */
  list(q: AuditQuery = {}): AuditEntry[] {
    const limit = Math.min(Math.max(1, q.limit ?? 1000), MAX_AUDIT_LIMIT);
    return this.#db.prepare(
      `SELECT ${COLS} FROM audit
       WHERE ts_ms >= ? AND ts_ms < ? AND (? IS NULL OR user_id = ?) AND (? IS NULL OR action = ?)
       ORDER BY ts_ms DESC, id DESC LIMIT ?`,
    ).all(
      q.from ?? 0,
      q.to ?? Number.MAX_SAFE_INTEGER,
      q.user ?? null,
      q.user ?? null,
      q.action ?? null,
      q.action ?? null,
      limit,
    ).map(entryFromRow);
  }

  /** Entries done by the user or about them (target "user:<id>"), oldest first. */
  about(userId: number): AuditEntry[] {
    return this.#db.prepare(
      `SELECT ${COLS} FROM audit WHERE user_id = ? OR target = ? ORDER BY ts_ms, id`,
    ).all(userId, `user:${userId}`).map(entryFromRow);
  }

  /** The matching entries as a JSON document for download. */
  exportJson(q: AuditQuery = {}): string {
    return JSON.stringify({ exportedMs: Date.now(), entries: this.list(q) }, null, 2);
  }

  /** Deletes entries (and refusal budgets) older than `days` days; returns how many entries. */
  pruneOlderThan(days: number, nowMs: number = Date.now()): number {
    const cutoff = nowMs - days * DAY_MS;
    this.#db.prepare("DELETE FROM refusal_budget WHERE window_start < ?").run(cutoff);
    const res = this.#db.prepare("DELETE FROM audit WHERE ts_ms < ?").run(cutoff);
    return Number(res.changes);
  }

  refusalBudget(ip: string): RefusalBudget | null {
    const r = this.#db.prepare(
      "SELECT window_start, used, suppressed FROM refusal_budget WHERE ip = ?",
    ).get(ip);
    return r
      ? {
        windowStart: Number(r.window_start),
        used: Number(r.used),
        suppressed: Number(r.suppressed),
      }
      : null;
  }

  saveRefusalBudget(ip: string, b: RefusalBudget): void {
    this.#db.prepare(
      `INSERT INTO refusal_budget (ip, window_start, used, suppressed) VALUES (?, ?, ?, ?)
       ON CONFLICT (ip) DO UPDATE SET window_start = excluded.window_start,
         used = excluded.used, suppressed = excluded.suppressed`,
    ).run(ip, b.windowStart, b.used, b.suppressed);
  }

  pseudonymFor(userId: number): string {
    const mac = createHmac("sha256", this.#secret).update(String(userId)).digest("hex");
    return `deleted-user-${mac.slice(0, 8)}`;
  }

  /**
   * The pseudonymous id the fleet sees for a user (e.g. in suspicious-login events): an HMAC of
   * the id under this box's secret, stable per user, not linkable to the person without the box.
   */
  subjectFor(userId: number): string {
    const mac = createHmac("sha256", this.#secret).update(`subject:${userId}`).digest("hex");
    return `user-${mac.slice(0, 16)}`;
  }

  /** Replaces the user's id and name (and "user:<id>" targets) by a stable pseudonym. */
  pseudonymiseUser(userId: number): number {
    const pseudonym = this.pseudonymFor(userId);
    const a = this.#db.prepare(
      "UPDATE audit SET user_id = NULL, user_name = ? WHERE user_id = ?",
    ).run(pseudonym, userId);
    const b = this.#db.prepare("UPDATE audit SET target = ? WHERE target = ?").run(
      `user:${pseudonym}`,
      `user:${userId}`,
    );
    return Number(a.changes) + Number(b.changes);
  }
}
