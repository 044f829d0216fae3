/**
 * Invitations: an admin creates a single-use, expiring link token with the role and cameras the
 * new account will get (and optionally the email it must use); the invitee accepts it with their
 * own name, email and password. Only the token's SHA-256 is stored.
 */
import { randomBytes } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { type Row, sha256 } from "./user_rows.ts";
import type { Role } from "./validate.ts";

export interface Invite {
  readonly id: number;
  readonly role: Role;
  readonly cameras: readonly string[];
  /** When set, the account must use this email. */
  readonly email: string | null;
  readonly createdBy: number | null;
  readonly createdMs: number;
  readonly expiresMs: number;
  readonly usedMs: number | null;
}

const COLS = "id, role, cameras, email, created_by, created_ms, expires_ms, used_ms";

function inviteFromRow(r: Row): Invite {
  return {
    id: Number(r.id),
    role: String(r.role) as Role,
    cameras: JSON.parse(String(r.cameras)) as string[],
    email: r.email == null ? null : String(r.email),
    createdBy: r.created_by == null ? null : Number(r.created_by),
    createdMs: Number(r.created_ms),
    expiresMs: Number(r.expires_ms),
    usedMs: r.used_ms == null ? null : Number(r.used_ms),
  };
}

export class InviteStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  create(
    spec: { role: Role; cameras: readonly string[]; email: string | null; createdBy: number },
    ttlMs: number,
    nowMs: number,
  ): { token: string; invite: Invite } {
    const token = `inv_${randomBytes(24).toString("base64url")}`;
    const row = this.#db.prepare(
      `INSERT INTO invites (token_hash, role, cameras, email, created_by, created_ms, expires_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ${COLS}`,
    ).get(
      sha256(token),
      spec.role,
      JSON.stringify(spec.cameras),
      spec.email,
      spec.createdBy,
      nowMs,
      nowMs + ttlMs,
    ) as Row;
    return { token, invite: inviteFromRow(row) };
  }

  /** Invitations not yet used nor expired, oldest first. */
  pending(nowMs: number): Invite[] {
    return this.#db.prepare(
      `SELECT ${COLS} FROM invites WHERE used_ms IS NULL AND expires_ms > ? ORDER BY id`,
    ).all(nowMs).map(inviteFromRow);
  }

  /** The usable invitation behind a token, or null (unknown, used or expired). */
  peek(token: string, nowMs: number): Invite | null {
    const row = this.#db.prepare(
      `SELECT ${COLS} FROM invites WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ?`,
    ).get(sha256(token), nowMs);
    return row ? inviteFromRow(row) : null;
  }

  /** Marks the invitation used, atomically: only one of two concurrent accepts gets it. */
  claim(token: string, nowMs: number): Invite | null {
    const row = this.#db.prepare(
      `UPDATE invites SET used_ms = ? WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ?
       RETURNING ${COLS}`,
    ).get(nowMs, sha256(token), nowMs);
    return row ? inviteFromRow(row) : null;
  }

  /** Makes a claimed invitation usable again (the account could not be created). */
  release(id: number): void {
    this.#db.prepare("UPDATE invites SET used_ms = NULL WHERE id = ?").run(id);
  }

  revoke(id: number): boolean {
    return Number(this.#db.prepare("DELETE FROM invites WHERE id = ?").run(id).changes) > 0;
  }
}
