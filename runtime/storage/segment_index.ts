/**
 * The index of finished segments, in SQLite (node:sqlite, WAL). One row a segment; queries by
 * camera and time range use the (camera, start_ms) index.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";

export interface SegmentRecord {
  readonly camera: string;
  /** Wall-clock start and end, ms since the epoch. */
  readonly startMs: number;
  readonly endMs: number;
  readonly bytes: number;
  readonly codec: string;
  /** Path relative to the data folder. */
  readonly path: string;
}

export interface IndexedSegment extends SegmentRecord {
  readonly id: number;
}

const SCHEMA = `
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
`;

export class SegmentIndex {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #range: StatementSync;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO segments (camera, start_ms, end_ms, bytes, codec, path)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(path) DO UPDATE SET end_ms = excluded.end_ms, bytes = excluded.bytes
       RETURNING id`,
    );
    this.#range = db.prepare(
      `SELECT id, camera, start_ms, end_ms, bytes, codec, path FROM segments
       WHERE camera = ? AND end_ms > ? AND start_ms < ? ORDER BY start_ms`,
    );
  }

  /** Opens (creating if needed) the index file. */
  static open(path: string): SegmentIndex {
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    db.exec(SCHEMA);
    return new SegmentIndex(path, db);
  }

  add(segment: SegmentRecord): number {
    const row = this.#insert.get(
      segment.camera,
      segment.startMs,
      segment.endMs,
      segment.bytes,
      segment.codec,
      segment.path,
    ) as { id: number };
    return row.id;
  }

  /** Segments of a camera that overlap [fromMs, toMs), oldest first. */
  range(camera: string, fromMs: number, toMs: number): IndexedSegment[] {
    return this.#range.all(camera, fromMs, toMs).map((row) => ({
      id: Number(row.id),
      camera: String(row.camera),
      startMs: Number(row.start_ms),
      endMs: Number(row.end_ms),
      bytes: Number(row.bytes),
      codec: String(row.codec),
      path: String(row.path),
    }));
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
