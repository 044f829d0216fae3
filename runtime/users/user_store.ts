/**
 * The users database (users.sqlite in the data folder, node:sqlite, WAL): accounts, API tokens,
 * sessions and login history. Session ids and API tokens are random and only their SHA-256 is
 * stored, so a copy of the file does not let anyone in. Schema in schema.ts.
 */
import { randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import {
  DEFAULT_SCRYPT,
  hashPassword,
  needsRehash,
  type ScryptParams,
  verifyPassword,
} from "./password.ts";
import { InviteStore } from "./invites.ts";
import { ContactStore } from "./contacts.ts";
import { LoginHistory } from "./login_history.ts";
import { migrateUsers } from "./schema.ts";
import {
  keepReserve,
  type KeepReserveOptions,
  USERS_RESERVE_NAME,
  withReserve,
} from "../storage/disk_reserve.ts";
import { isDiskFull } from "../storage/disk_space.ts";
import type { AdminFields } from "./validate.ts";
import {
  DuplicateEmailError,
  type NewUser,
  type Row,
  type SessionInfo,
  sha256,
  type TokenInfo,
  type TokenScope,
  type User,
  userFromRow,
} from "./user_rows.ts";

export { DuplicateEmailError } from "./user_rows.ts";
export type {
  LoginRecord,
  NewUser,
  SessionInfo,
  TokenInfo,
  TokenScope,
  User,
} from "./user_rows.ts";

const USER_COLS =
  "id, name, email, surname, patronymic, phone, telegram, role, cameras, created_ms, updated_ms, disabled";
const EDITABLE = ["name", "email", "surname", "patronymic", "phone", "telegram", "role"] as const;

export interface UserStoreOptions {
  /** scrypt cost for new hashes; default DEFAULT_SCRYPT. Tests may lower it for speed. */
  readonly scrypt?: ScryptParams;
  /**
   * Keep room for this database on a full disk: a reserve file in this folder (the data
   * folder) is given up when a needed write (a session, an account change) finds the disk full.
   */
  readonly reserveDir?: string;
}

export class UserStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #scrypt: ScryptParams;
  readonly #reserveDir: string | null;
  #dummyHash: string | null = null;
  /** Invitations, in the same database. */
  readonly invites: InviteStore;
  /** Other people's contacts for notifications (name, email, phone), deletable at any time. */
  readonly contacts: ContactStore;
  /** Login attempts: lock-out, rate limits, new-source detection, the user's history. */
  readonly logins: LoginHistory;

  private constructor(
    path: string,
    db: DatabaseSync,
    scrypt: ScryptParams,
    reserveDir: string | null,
  ) {
    this.path = path;
    this.invites = new InviteStore(db);
    this.contacts = new ContactStore(db);
    this.logins = new LoginHistory(db);
    this.#db = db;
    this.#scrypt = scrypt;
    this.#reserveDir = reserveDir;
  }

  /** Runs a write that must happen even on a full disk, with the reserve (when there is one). */
  #write<T>(write: () => T): T {
    return this.#reserveDir ? withReserve(this.#reserveDir, write, USERS_RESERVE_NAME) : write();
  }

  /**
   * Makes sure the reserve is in place (call at start and now and then); false: no room now.
   * `opts`: as storage's keepReserve (e.g. the disk's free-space minimum to leave).
   */
  async keepReserve(opts: KeepReserveOptions = {}): Promise<boolean> {
    return this.#reserveDir === null
      ? true
      : await keepReserve(this.#reserveDir, undefined, USERS_RESERVE_NAME, opts);
  }

  /** Opens (creating if needed) users.sqlite and brings its schema up to date. */
  static open(path: string, options: UserStoreOptions = {}): UserStore {
    const db = new DatabaseSync(path);
    try {
      db.exec(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;" +
          "PRAGMA foreign_keys = ON;",
      );
      migrateUsers(db, path);
      return new UserStore(path, db, options.scrypt ?? DEFAULT_SCRYPT, options.reserveDir ?? null);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  close(): void {
    this.#db.close();
  }

  count(): number {
    return Number((this.#db.prepare("SELECT COUNT(*) AS n FROM users").get() as Row).n);
  }

  countActiveAdmins(): number {
    const sql = "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0";
    return Number((this.#db.prepare(sql).get() as Row).n);
  }

  get(id: number): User | null {
    const row = this.#db.prepare(`SELECT ${USER_COLS} FROM users WHERE id = ?`).get(id);
    return row ? userFromRow(row) : null;
  }

  byEmail(email: string): User | null {
    const row = this.#db.prepare(`SELECT ${USER_COLS} FROM users WHERE email = ?`).get(email);
    return row ? userFromRow(row) : null;
  }

  list(): User[] {
    return this.#db.prepare(`SELECT ${USER_COLS} FROM users ORDER BY id`).all().map(userFromRow);
  }

  async create(fields: NewUser, nowMs: number = Date.now()): Promise<User> {
    if (this.byEmail(fields.email)) throw new DuplicateEmailError(fields.email);
    const user = await this.#insert(fields, nowMs, false);
    if (!user) throw new DuplicateEmailError(fields.email);
    return user;
  }

  /** Creates the user only while there is no user at all (first-run setup); else null. */
  async createFirst(fields: NewUser, nowMs: number = Date.now()): Promise<User | null> {
    return this.count() > 0 ? null : await this.#insert(fields, nowMs, true);
  }

  async #insert(fields: NewUser, nowMs: number, onlyIfEmpty: boolean): Promise<User | null> {
    const hash = await hashPassword(fields.password, this.#scrypt);
    // The check runs inside the INSERT, so two concurrent setups cannot both succeed.
    const row = this.#write(() =>
      this.#db.prepare(
        `INSERT INTO users (name, email, surname, patronymic, phone, telegram, role, cameras,
         password_hash, created_ms, updated_ms, disabled, privacy_version, privacy_accepted_ms)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
       WHERE NOT (? AND EXISTS (SELECT 1 FROM users))
         AND NOT EXISTS (SELECT 1 FROM users WHERE email = ?)
       RETURNING ${USER_COLS}`,
      ).get(
        fields.name,
        fields.email,
        fields.surname ?? null,
        fields.patronymic ?? null,
        fields.phone ?? null,
        fields.telegram ?? null,
        fields.role,
        JSON.stringify(fields.cameras ?? []),
        hash,
        nowMs,
        nowMs,
        fields.disabled ? 1 : 0,
        fields.privacyVersion ?? null,
        fields.privacyVersion ? nowMs : null,
        onlyIfEmpty ? 1 : 0,
        fields.email,
      ) as Row | undefined
    );
    return row ? userFromRow(row) : null;
  }

  /** Changes the given fields; returns the updated user or null if there is no such user. */
  async update(id: number, fields: AdminFields, nowMs: number = Date.now()): Promise<User | null> {
    const current = this.get(id);
    if (!current) return null;
    if (fields.email !== undefined && fields.email !== current.email) {
      const other = this.byEmail(fields.email);
      if (other && other.id !== id) throw new DuplicateEmailError(fields.email);
    }
    const sets: string[] = [];
    const values: (string | number | null)[] = [];
    for (const key of EDITABLE) {
      const value = fields[key];
      if (value !== undefined) {
        sets.push(`${key} = ?`);
        values.push(value);
      }
    }
    if (fields.cameras !== undefined) {
      sets.push("cameras = ?");
      values.push(JSON.stringify(fields.cameras));
    }
    if (fields.disabled !== undefined) {
      sets.push("disabled = ?");
      values.push(fields.disabled ? 1 : 0);
    }
    if (fields.password !== undefined) {
      sets.push("password_hash = ?");
      values.push(await hashPassword(fields.password, this.#scrypt));
    }
    sets.push("updated_ms = ?");
    values.push(nowMs, id);
    this.#write(() =>
      this.#db.prepare(`UPDATE users SET ${sets.join(", ")} WHERE id = ?`).run(...values)
    );
    // A new password (the user's own or an admin's reset) or a disabled account ends every way
    // in that the old password opened: sessions and API tokens.
    if (fields.password !== undefined || fields.disabled === true) {
      this.deleteSessionsOf(id);
      this.#write(() => this.#db.prepare("DELETE FROM api_tokens WHERE user_id = ?").run(id));
    }
    return this.get(id);
  }

  /** The privacy notice version the user accepted at registration, and when; null before. */
  privacyOf(id: number): { version: string; acceptedMs: number } | null {
    const row = this.#db.prepare(
      "SELECT privacy_version, privacy_accepted_ms FROM users WHERE id = ?",
    ).get(id) as Row | undefined;
    if (!row || row.privacy_version == null) return null;
    return { version: String(row.privacy_version), acceptedMs: Number(row.privacy_accepted_ms) };
  }

  /** Removes the user with their sessions, tokens and login history (foreign-key cascade). */
  delete(id: number): boolean {
    return Number(this.#db.prepare("DELETE FROM users WHERE id = ?").run(id).changes) > 0;
  }

  /** Checks the password; a right one stored with weaker parameters is re-hashed. */
  async checkPassword(id: number, password: string): Promise<boolean> {
    const row = this.#db.prepare("SELECT password_hash FROM users WHERE id = ?").get(id) as
      | Row
      | undefined;
    if (!row) return false;
    const stored = String(row.password_hash);
    const ok = await verifyPassword(password, stored);
    if (ok && needsRehash(stored, this.#scrypt)) {
      const hash = await hashPassword(password, this.#scrypt);
      this.#db.prepare("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?")
        .run(hash, id, stored);
    }
    return ok;
  }

  /** Spends the same time as a real check, for logins with an unknown email. */
  async dummyCheck(password: string): Promise<false> {
    this.#dummyHash ??= await hashPassword("not-a-password", this.#scrypt);
    await verifyPassword(password, this.#dummyHash);
    return false;
  }

  // Sessions ----------------------------------------------------------------------------------

  createSession(userId: number, ip: string, userAgent: string, ttlMs: number, nowMs: number): {
    token: string;
    session: SessionInfo;
  } {
    const token = randomBytes(32).toString("base64url");
    this.#write(() =>
      this.#db.prepare(
        `INSERT INTO sessions (id_hash, user_id, created_ms, last_seen_ms, ip, user_agent,
           expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(sha256(token), userId, nowMs, nowMs, ip, userAgent, nowMs + ttlMs)
    );
    return {
      token,
      session: { createdMs: nowMs, lastSeenMs: nowMs, ip, userAgent, expiresMs: nowMs + ttlMs },
    };
  }

  /** The enabled user behind a live session token (and marks it seen), or null. */
  userBySession(token: string, nowMs: number): User | null {
    const hash = sha256(token);
    const row = this.#db.prepare(
      "SELECT user_id FROM sessions WHERE id_hash = ? AND expires_ms > ?",
    ).get(hash, nowMs) as Row | undefined;
    if (!row) return null;
    skipOnFullDisk(() =>
      this.#db.prepare("UPDATE sessions SET last_seen_ms = ? WHERE id_hash = ?").run(nowMs, hash)
    );
    const user = this.get(Number(row.user_id));
    return user && !user.disabled ? user : null;
  }

  deleteSession(token: string): void {
    this.#write(() =>
      this.#db.prepare("DELETE FROM sessions WHERE id_hash = ?").run(sha256(token))
    );
  }

  /** Removes expired sessions; returns how many. Call now and then (e.g. hourly). */
  pruneExpiredSessions(nowMs: number): number {
    const res = this.#db.prepare("DELETE FROM sessions WHERE expires_ms <= ?").run(nowMs);
    return Number(res.changes);
  }

  deleteSessionsOf(userId: number): void {
    this.#write(() => this.#db.prepare("DELETE FROM sessions WHERE user_id = ?").run(userId));
  }

  sessionsOf(userId: number): SessionInfo[] {
    return this.#db.prepare(
      `SELECT created_ms, last_seen_ms, ip, user_agent, expires_ms FROM sessions
       WHERE user_id = ? ORDER BY created_ms`,
    ).all(userId).map((r) => ({
      createdMs: Number(r.created_ms),
      lastSeenMs: Number(r.last_seen_ms),
      ip: String(r.ip),
      userAgent: String(r.user_agent),
      expiresMs: Number(r.expires_ms),
    }));
  }

  // API tokens --------------------------------------------------------------------------------

  /** A new API token with a scope and an expiry; only its hash is kept. */
  createToken(
    userId: number,
    spec: { name: string; scope: TokenScope; ttlMs: number },
    nowMs: number,
  ): { token: string; info: TokenInfo } {
    const token = `nvr_${randomBytes(32).toString("base64url")}`;
    const expiresMs = nowMs + spec.ttlMs;
    const row = this.#write(() =>
      this.#db.prepare(
        `INSERT INTO api_tokens (user_id, name, token_hash, created_ms, scope, expires_ms)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
      ).get(userId, spec.name, sha256(token), nowMs, spec.scope, expiresMs) as Row
    );
    const info: TokenInfo = {
      id: Number(row.id),
      name: spec.name,
      scope: spec.scope,
      createdMs: nowMs,
      expiresMs,
      lastUsedMs: null,
    };
    return { token, info };
  }

  /** The enabled user behind a live (unexpired) API token, with the token's scope; or null. */
  userByToken(token: string, nowMs: number): { user: User; scope: TokenScope } | null {
    const hash = sha256(token);
    const row = this.#db.prepare(
      "SELECT user_id, scope FROM api_tokens WHERE token_hash = ? AND expires_ms > ?",
    ).get(hash, nowMs) as Row | undefined;
    if (!row) return null;
    skipOnFullDisk(() =>
      this.#db.prepare("UPDATE api_tokens SET last_used_ms = ? WHERE token_hash = ?").run(
        nowMs,
        hash,
      )
    );
    const user = this.get(Number(row.user_id));
    return user && !user.disabled ? { user, scope: String(row.scope) as TokenScope } : null;
  }

  deleteToken(userId: number, tokenId: number): boolean {
    const sql = "DELETE FROM api_tokens WHERE id = ? AND user_id = ?";
    return Number(this.#db.prepare(sql).run(tokenId, userId).changes) > 0;
  }

  tokensOf(userId: number): TokenInfo[] {
    return this.#db.prepare(
      `SELECT id, name, scope, created_ms, expires_ms, last_used_ms FROM api_tokens
       WHERE user_id = ? ORDER BY id`,
    ).all(userId).map((r) => ({
      id: Number(r.id),
      name: String(r.name),
      scope: String(r.scope) as TokenScope,
      createdMs: Number(r.created_ms),
      expiresMs: Number(r.expires_ms),
      lastUsedMs: r.last_used_ms == null ? null : Number(r.last_used_ms),
    }));
  }
}

/** A write that may be skipped when the disk is full (last-seen times). */
function skipOnFullDisk(write: () => unknown): void {
  try {
    write();
  } catch (err) {
    if (!isDiskFull(err)) throw err;
  }
}
