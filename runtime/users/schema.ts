/**
 * Schema of users.sqlite as numbered migrations (PRAGMA user_version = last applied). Shipped
 * migrations are never edited: a change is a new migration at the end.
 */
import type { DatabaseSync } from "node:sqlite";

export const USER_MIGRATIONS: readonly string[] = [
  `
CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL,
  email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
  surname       TEXT    NULL,
  patronymic    TEXT    NULL,
  phone         TEXT    NULL,
  telegram      TEXT    NULL,
  role          TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  cameras       TEXT    NOT NULL DEFAULT '[]',
  password_hash TEXT    NOT NULL,
  created_ms    INTEGER NOT NULL,
  updated_ms    INTEGER NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE api_tokens (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         TEXT    NOT NULL,
  token_hash   TEXT    NOT NULL UNIQUE,
  created_ms   INTEGER NOT NULL,
  last_used_ms INTEGER NULL
);
CREATE TABLE sessions (
  id_hash      TEXT    PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_ms   INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  ip           TEXT    NOT NULL,
  user_agent   TEXT    NOT NULL,
  expires_ms   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE login_history (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NULL REFERENCES users (id) ON DELETE CASCADE,
  ip         TEXT    NOT NULL,
  user_agent TEXT    NOT NULL,
  ok         INTEGER NOT NULL,
  reason     TEXT    NOT NULL,
  ts_ms      INTEGER NOT NULL
);
CREATE INDEX login_history_user ON login_history (user_id, ts_ms);
CREATE INDEX login_history_ip ON login_history (ip, ts_ms);
`,
  `
CREATE TABLE invites (
  id          INTEGER PRIMARY KEY,
  token_hash  TEXT    NOT NULL UNIQUE,
  role        TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  cameras     TEXT    NOT NULL DEFAULT '[]',
  email       TEXT    NULL,
  created_by  INTEGER NULL REFERENCES users (id) ON DELETE SET NULL,
  created_ms  INTEGER NOT NULL,
  expires_ms  INTEGER NOT NULL,
  used_ms     INTEGER NULL
);
`,
  `
CREATE TABLE contacts (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL,
  email       TEXT    NULL,
  phone       TEXT    NULL,
  created_by  INTEGER NULL REFERENCES users (id) ON DELETE SET NULL,
  created_ms  INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL
);
`,
  // Accepted privacy notice; API tokens with a scope and an expiry (old ones: 90 days from
  // creation, operator rights at most); login history pruned by time.
  `
ALTER TABLE users ADD COLUMN privacy_version TEXT NULL;
ALTER TABLE users ADD COLUMN privacy_accepted_ms INTEGER NULL;
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'operator'
  CHECK (scope IN ('read-only', 'operator'));
ALTER TABLE api_tokens ADD COLUMN expires_ms INTEGER NOT NULL DEFAULT 0;
UPDATE api_tokens SET expires_ms = created_ms + 90 * 86400000;
CREATE INDEX login_history_ts ON login_history (ts_ms);
`,
];

/** users.sqlite was written by a newer firmware. */
export class UsersTooNewError extends Error {
  readonly path: string;
  constructor(path: string, found: number, known: number) {
    super(
      `Users database '${path}' has schema version ${found}, but this firmware knows up to ` +
        `${known}. Update the firmware; do not delete the file (it holds the accounts).`,
    );
    this.name = "UsersTooNewError";
    this.path = path;
  }
}

export function migrateUsers(db: DatabaseSync, path: string): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    const row = db.prepare("PRAGMA user_version").get() as { user_version: number } | undefined;
    const from = Number(row?.user_version ?? 0);
    if (from > USER_MIGRATIONS.length) {
      throw new UsersTooNewError(path, from, USER_MIGRATIONS.length);
    }
    USER_MIGRATIONS.slice(from).forEach((sql, i) => {
      db.exec(sql);
      db.exec(`PRAGMA user_version = ${from + i + 1}`);
    });
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
