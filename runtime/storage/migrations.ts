/**
 * The index schema as numbered migrations. `PRAGMA user_version` holds the number of the last one
 * applied; `migrate()` applies the missing ones in one transaction when the index is opened.
 * Migrations are never edited once shipped: a change is a new migration at the end.
 */
import type { DatabaseSync } from "node:sqlite";

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/** The index was written by a newer firmware than this one. */
export class IndexTooNewError extends Error {
  readonly path: string;
  constructor(path: string, found: number, known: number) {
    super(
      `Index '${path}' has schema version ${found}, but this firmware knows versions up to ` +
        `${known}. Update the firmware, or move the index aside to start a new one ` +
        "(the recordings stay on disk).",
    );
    this.name = "IndexTooNewError";
    this.path = path;
  }
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "segments (the schema before numbered migrations, so old files match it)",
    sql: `
CREATE TABLE IF NOT EXISTS segments (
  id       INTEGER PRIMARY KEY,
  camera   TEXT    NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms   INTEGER NOT NULL,
  bytes    INTEGER NOT NULL,
  codec    TEXT    NOT NULL,
  path     TEXT    NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS segments_camera_start ON segments (camera, start_ms);
`,
  },
  {
    version: 2,
    description: "picture size, locks, gaps, events; per-camera totals and the longest segment",
    sql: `
ALTER TABLE segments ADD COLUMN width  INTEGER NULL;
ALTER TABLE segments ADD COLUMN height INTEGER NULL;
ALTER TABLE segments ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;

CREATE TABLE gaps (
  id       INTEGER PRIMARY KEY,
  camera   TEXT    NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms   INTEGER NOT NULL,
  reason   TEXT    NOT NULL
);
CREATE INDEX gaps_camera_start ON gaps (camera, start_ms);

CREATE TABLE events (
  id     INTEGER PRIMARY KEY,
  camera TEXT    NULL,
  ts_ms  INTEGER NOT NULL,
  kind   TEXT    NOT NULL,
  detail TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX events_ts ON events (ts_ms);

-- Kept by triggers so that retention reads usage without scanning every segment.
CREATE TABLE camera_totals (
  camera TEXT    PRIMARY KEY,
  bytes  INTEGER NOT NULL,
  count  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO camera_totals (camera, bytes, count)
  SELECT camera, SUM(bytes), COUNT(*) FROM segments GROUP BY camera;

-- The longest segment ever indexed bounds the start of a time-range search.
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta (key, value)
  SELECT 'max_segment_ms', COALESCE(MAX(end_ms - start_ms), 0) FROM segments;

CREATE TRIGGER segments_totals_insert AFTER INSERT ON segments BEGIN
  INSERT INTO camera_totals (camera, bytes, count) VALUES (new.camera, new.bytes, 1)
    ON CONFLICT (camera) DO UPDATE SET bytes = bytes + excluded.bytes, count = count + 1;
  UPDATE meta SET value = new.end_ms - new.start_ms
    WHERE key = 'max_segment_ms' AND value < new.end_ms - new.start_ms;
END;
CREATE TRIGGER segments_totals_delete AFTER DELETE ON segments BEGIN
  UPDATE camera_totals SET bytes = bytes - old.bytes, count = count - 1
    WHERE camera = old.camera;
  DELETE FROM camera_totals WHERE camera = old.camera AND count <= 0;
END;
CREATE TRIGGER segments_totals_update AFTER UPDATE OF camera, bytes, start_ms, end_ms ON segments
BEGIN
  UPDATE camera_totals SET bytes = bytes - old.bytes, count = count - 1
    WHERE camera = old.camera;
  DELETE FROM camera_totals WHERE camera = old.camera AND count <= 0;
  INSERT INTO camera_totals (camera, bytes, count) VALUES (new.camera, new.bytes, 1)
    ON CONFLICT (camera) DO UPDATE SET bytes = bytes + excluded.bytes, count = count + 1;
  UPDATE meta SET value = new.end_ms - new.start_ms
    WHERE key = 'max_segment_ms' AND value < new.end_ms - new.start_ms;
END;
`,
  },
  {
    version: 3,
    description: "segments recorded before the clock was synced: flag, boot id, monotonic times",
    sql: `
-- clock NULL: the wall clock was trusted; 'unsynced': start_ms/end_ms are an estimate, and
-- mono_*_ms (ms since boot boot_id) place the segment once that boot's clock is synced.
ALTER TABLE segments ADD COLUMN clock TEXT NULL;
ALTER TABLE segments ADD COLUMN boot_id TEXT NULL;
ALTER TABLE segments ADD COLUMN mono_start_ms INTEGER NULL;
ALTER TABLE segments ADD COLUMN mono_end_ms INTEGER NULL;
CREATE INDEX segments_unsynced ON segments (boot_id) WHERE clock IS NOT NULL;
`,
  },
];

export const SCHEMA_VERSION: number = MIGRATIONS.length;

function userVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number } | undefined;
  return Number(row?.user_version ?? 0);
}

/**
 * Brings the database to SCHEMA_VERSION in one transaction (all or nothing), taking the write
 * lock first so that two processes opening the same file do not both migrate.
 * Returns the versions before and after. Throws IndexTooNewError for a newer file.
 */
export function migrate(
  db: DatabaseSync,
  path: string,
  migrations: readonly Migration[] = MIGRATIONS,
): { from: number; to: number } {
  const latest = migrations.length;
  db.exec("BEGIN IMMEDIATE");
  try {
    const from = userVersion(db);
    if (from > latest) throw new IndexTooNewError(path, from, latest);
    for (const migration of migrations.slice(from)) {
      db.exec(migration.sql);
      db.exec(`PRAGMA user_version = ${migration.version}`);
    }
    db.exec("COMMIT");
    return { from, to: Math.max(from, latest) };
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
