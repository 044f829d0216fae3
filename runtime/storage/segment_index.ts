/**
 * The index of finished segments, gaps and events, in SQLite (node:sqlite, WAL). The schema is in
 * migrations.ts. Time-range queries use the (camera, start_ms) index, bounded below by the
 * longest segment ever indexed so that they read only the rows they return.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { migrate } from "./migrations.ts";
import {
  type CameraTotals,
  eventFromRow,
  type EventRecord,
  gapFromRow,
  type GapRecord,
  type IndexedSegment,
  mergeOldest,
  SEGMENT_COLUMNS,
  segmentFromRow,
  type SegmentRecord,
  totalsFromRow,
} from "./index_rows.ts";

export type {
  CameraTotals,
  EventRecord,
  GapRecord,
  IndexedSegment,
  SegmentRecord,
} from "./index_rows.ts";

/** No segment has this id (it was deleted, or never existed). */
export class UnknownSegmentError extends Error {
  readonly id: number;
  constructor(id: number) {
    super(`No segment with id ${id} in the index; it may have been deleted by retention.`);
    this.name = "UnknownSegmentError";
    this.id = id;
  }
}

const MAX_SPAN = "(SELECT value FROM meta WHERE key = 'max_segment_ms')";
const FAR_FUTURE_MS = Number.MAX_SAFE_INTEGER;

const SQL = {
  insert: `INSERT INTO segments (camera, start_ms, end_ms, bytes, codec, path, width, height,
      clock, boot_id, mono_start_ms, mono_end_ms)
    VALUES ($camera, $start, $end, $bytes, $codec, $path, $width, $height,
      $clock, $boot, $monoStart, $monoEnd)
    ON CONFLICT (path) DO UPDATE SET end_ms = excluded.end_ms, bytes = excluded.bytes,
      width = COALESCE(excluded.width, width), height = COALESCE(excluded.height, height)
    RETURNING id`,
  range: `SELECT ${SEGMENT_COLUMNS} FROM segments
    WHERE camera = $camera AND start_ms >= $from - ${MAX_SPAN} AND start_ms < $to
      AND end_ms > $from
    ORDER BY start_ms, id`,
  newestAfter: `SELECT ${SEGMENT_COLUMNS} FROM segments WHERE id > $after
    ORDER BY id DESC LIMIT $limit`,
  countAfter: "SELECT COUNT(*) AS n FROM segments WHERE id > $after",
  maxId: "SELECT COALESCE(MAX(id), 0) AS id FROM segments",
  lastEnd: `SELECT MAX(end_ms) AS end_ms FROM segments
    WHERE camera = $camera
      AND start_ms >= (SELECT MAX(start_ms) FROM segments WHERE camera = $camera) - ${MAX_SPAN}`,
  firstStart: `SELECT MIN(start_ms) AS start_ms FROM segments
    WHERE camera = $camera AND start_ms >= $from`,
  oldest: `SELECT ${SEGMENT_COLUMNS} FROM segments
    WHERE camera = $camera AND locked = 0 AND start_ms < $before AND end_ms <= $before
    ORDER BY start_ms, id LIMIT $limit`,
  // Past its age and without a camera event of $kind inside it (retention by events).
  oldestWithoutEvents: `SELECT ${SEGMENT_COLUMNS} FROM segments
    WHERE camera = $camera AND locked = 0 AND start_ms < $before AND end_ms <= $before
      AND NOT EXISTS (SELECT 1 FROM events e WHERE e.kind = $kind AND e.camera = segments.camera
        AND e.ts_ms >= segments.start_ms AND e.ts_ms <= segments.end_ms)
    ORDER BY start_ms, id LIMIT $limit`,
  totals: `SELECT camera, bytes, count,
      (SELECT MIN(start_ms) FROM segments s WHERE s.camera = t.camera) AS oldest_ms
    FROM camera_totals t WHERE count > 0 ORDER BY camera`,
  cameras: "SELECT camera FROM camera_totals WHERE count > 0 ORDER BY camera",
  lock: "UPDATE segments SET locked = $locked WHERE id = $id",
  lockRange: `UPDATE segments SET locked = $locked
    WHERE camera = $camera AND start_ms >= $from - ${MAX_SPAN} AND start_ms < $to
      AND end_ms > $from`,
  remove: "DELETE FROM segments WHERE id = ?",
  // A boot's unsynced segments placed by its synced clock: wall = mono + (syncWall − syncMono).
  restamp: `UPDATE segments SET start_ms = mono_start_ms + $offset, end_ms = mono_end_ms + $offset,
      clock = NULL
    WHERE clock = 'unsynced' AND boot_id = $boot AND mono_start_ms IS NOT NULL
      AND mono_end_ms IS NOT NULL`,
  newestEnd: `SELECT MAX(end_ms) AS end_ms FROM segments
    WHERE NOT (clock IS NOT NULL AND boot_id IS $boot)`,
  hasPath: "SELECT 1 AS found FROM segments WHERE path = ?",
  byId: `SELECT ${SEGMENT_COLUMNS} FROM segments WHERE id = ?`,
  addGap: `INSERT INTO gaps (camera, start_ms, end_ms, reason) VALUES (?, ?, ?, ?) RETURNING id`,
  gaps: `SELECT id, camera, start_ms, end_ms, reason FROM gaps
    WHERE camera = ? AND start_ms < ? AND end_ms > ? ORDER BY start_ms, id`,
  addEvent: `INSERT INTO events (camera, ts_ms, kind, detail) VALUES (?, ?, ?, ?) RETURNING id`,
  events: `SELECT id, camera, ts_ms, kind, detail FROM events
    WHERE ts_ms >= $from AND ts_ms < $to AND ($camera IS NULL OR camera = $camera)
    ORDER BY ts_ms, id`,
  // A camera's marks on the timeline: its own events and the box-wide sensor alarms (plugins'
  // events have no camera; a door opening matters next to every camera's recording).
  cameraMarks: `SELECT id, camera, ts_ms, kind, detail FROM events
    WHERE ts_ms >= $from AND ts_ms < $to
      AND (camera = $camera OR (camera IS NULL AND kind = 'sensor-alarm'
        AND (json_extract(detail, '$.cameras') IS NULL
          OR EXISTS (SELECT 1 FROM json_each(detail, '$.cameras') WHERE value = $camera))))
    ORDER BY ts_ms, id`,
  // Newest first; $cameras is a JSON array of the cameras to include, or null for all of them
  // (box-wide events, camera NULL, always come along).
  recentEvents: `SELECT id, camera, ts_ms, kind, detail FROM events
    WHERE $cameras IS NULL OR camera IS NULL OR camera IN (SELECT value FROM json_each($cameras))
    ORDER BY id DESC LIMIT $limit`,
} as const;

type Statements = { readonly [K in keyof typeof SQL]: StatementSync };

export class SegmentIndex {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #q: Statements;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
    const entries = Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)]);
    this.#q = Object.fromEntries(entries) as Statements;
  }

  /** Opens (creating if needed) the index file and brings its schema up to date. */
  static open(path: string): SegmentIndex {
    const db = new DatabaseSync(path);
    try {
      db.exec(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
      );
      migrate(db, path);
      return new SegmentIndex(path, db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Adds a finished segment (or updates the one at the same path); returns its id. */
  add(segment: SegmentRecord): number {
    const row = this.#q.insert.get({
      camera: segment.camera,
      start: segment.startMs,
      end: segment.endMs,
      bytes: segment.bytes,
      codec: segment.codec,
      path: segment.path,
      width: segment.width ?? null,
      height: segment.height ?? null,
      clock: segment.clock ?? null,
      boot: segment.bootId ?? null,
      monoStart: segment.monoStartMs ?? null,
      monoEnd: segment.monoEndMs ?? null,
    }) as { id: number };
    return Number(row.id);
  }

  /** Segments of a camera that overlap [fromMs, toMs), oldest first. */
  range(camera: string, fromMs: number, toMs: number): IndexedSegment[] {
    return this.#q.range.all({ camera, from: fromMs, to: toMs }).map(segmentFromRow);
  }

  /**
   * Start of the camera's first segment that starts at or after `fromMs`, or null: one seek in
   * the (camera, start_ms) index, so walking the days with recordings costs one seek a day.
   */
  firstStartFrom(camera: string, fromMs: number): number | null {
    const row = this.#q.firstStart.get({ camera, from: fromMs }) as
      | { start_ms: number | null }
      | undefined;
    return row?.start_ms == null ? null : Number(row.start_ms);
  }

  /**
   * Segments added after the one with id `afterId` (ids only grow), newest first, at most
   * `limit`, and how many there are in all (the thumbnail queue's view of what closed).
   */
  newestAfter(afterId: number, limit: number): { segments: IndexedSegment[]; total: number } {
    const segments = this.#q.newestAfter.all({ after: afterId, limit }).map(segmentFromRow);
    const row = this.#q.countAfter.get({ after: afterId }) as { n: number };
    return { segments, total: Number(row.n) };
  }

  /** The highest segment id, 0 when there is none. */
  maxId(): number {
    return Number((this.#q.maxId.get() as { id: number }).id);
  }

  /** One segment by id, or null. */
  segment(id: number): IndexedSegment | null {
    const row = this.#q.byId.get(id);
    return row ? segmentFromRow(row) : null;
  }

  /** End of the camera's latest segment, or null when it has none. */
  lastSegmentEnd(camera: string): number | null {
    const row = this.#q.lastEnd.get({ camera }) as { end_ms: number | null } | undefined;
    return row?.end_ms == null ? null : Number(row.end_ms);
  }

  /**
   * Unlocked segments, oldest first: of one camera, or of all cameras merged by start time.
   * `beforeMs` keeps only segments that ended at or before it; `withoutEvents` (an event kind)
   * only segments of one camera with no event of that kind inside them.
   */
  oldest(
    limit: number,
    opts: { camera?: string; beforeMs?: number; withoutEvents?: string } = {},
  ): IndexedSegment[] {
    const before = opts.beforeMs ?? FAR_FUTURE_MS;
    const kind = opts.withoutEvents;
    const ofCamera = (camera: string) =>
      (kind === undefined
        ? this.#q.oldest.all({ camera, before, limit })
        : this.#q.oldestWithoutEvents.all({ camera, before, limit, kind })).map(segmentFromRow);
    if (kind !== undefined && opts.camera === undefined) {
      throw new RangeError("oldest: withoutEvents needs a camera");
    }
    if (opts.camera !== undefined) return ofCamera(opts.camera);
    const cameras = this.#q.cameras.all().map((row) => String(row.camera));
    return mergeOldest(cameras.map(ofCamera), limit);
  }

  /** Bytes, count and oldest start per camera (locked segments included). */
  totals(): CameraTotals[] {
    return this.#q.totals.all().map(totalsFromRow);
  }

  /** Locks (retention keeps it) or unlocks a segment. Throws UnknownSegmentError. */
  setLocked(id: number, locked: boolean): void {
    const { changes } = this.#q.lock.run({ id, locked: locked ? 1 : 0 });
    if (Number(changes) === 0) throw new UnknownSegmentError(id);
  }

  /**
   * Locks (or unlocks) every segment of `camera` that overlaps [fromMs, toMs), in one statement;
   * returns how many segments that is.
   */
  setLockedRange(camera: string, fromMs: number, toMs: number, locked: boolean): number {
    const { changes } = this.#q.lockRange.run({
      camera,
      from: fromMs,
      to: toMs,
      locked: locked ? 1 : 0,
    });
    return Number(changes);
  }

  /** Removes a segment's row (not its file). Removing a missing id does nothing. */
  remove(id: number): void {
    this.#q.remove.run(id);
  }

  /**
   * Re-stamps every unsynced segment of boot `bootId` with `offsetMs` (syncWall − syncMono), in
   * one transaction; the files keep their names (unsynced names carry no date). Returns how many.
   */
  restamp(bootId: string, offsetMs: number): number {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const { changes } = this.#q.restamp.run({ boot: bootId, offset: Math.round(offsetMs) });
      this.#db.exec("COMMIT");
      return Number(changes);
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
  }

  /**
   * The newest end of any segment except the unsynced ones of boot `bootId` (whose times are
   * estimates made from this): where that boot's estimates start. null for an empty index.
   */
  newestEnd(bootId: string): number | null {
    const row = this.#q.newestEnd.get({ boot: bootId }) as { end_ms: number | null } | undefined;
    return row?.end_ms == null ? null : Number(row.end_ms);
  }

  hasPath(path: string): boolean {
    return this.#q.hasPath.get(path) !== undefined;
  }

  addGap(gap: { camera: string; startMs: number; endMs: number; reason: string }): number {
    if (!(gap.endMs >= gap.startMs)) {
      throw new RangeError(
        `Gap of camera '${gap.camera}' ends (${gap.endMs}) before it starts (${gap.startMs}).`,
      );
    }
    const row = this.#q.addGap.get(gap.camera, gap.startMs, gap.endMs, gap.reason) as {
      id: number;
    };
    return Number(row.id);
  }

  /** Gaps of a camera that overlap [fromMs, toMs), oldest first. */
  gaps(camera: string, fromMs: number, toMs: number): GapRecord[] {
    return this.#q.gaps.all(camera, toMs, fromMs).map(gapFromRow);
  }

  addEvent(
    event: { camera: string | null; tsMs: number; kind: string; detail?: Record<string, unknown> },
  ): number {
    const detail = JSON.stringify(event.detail ?? {});
    const row = this.#q.addEvent.get(event.camera, event.tsMs, event.kind, detail) as {
      id: number;
    };
    return Number(row.id);
  }

  /** Events in [fromMs, toMs), oldest first; with `camera`, only that camera's events. */
  events(fromMs: number, toMs: number, camera?: string): EventRecord[] {
    return this.#q.events.all({ from: fromMs, to: toMs, camera: camera ?? null }).map(
      eventFromRow,
    );
  }

  /**
   * Events in [fromMs, toMs) to mark on `camera`'s timeline: its own, and box-wide sensor alarms
   * that name no cameras or name this one (a plugin's `cameras`).
   */
  cameraMarks(fromMs: number, toMs: number, camera: string): EventRecord[] {
    return this.#q.cameraMarks.all({ from: fromMs, to: toMs, camera }).map(eventFromRow);
  }

  /**
   * The last `limit` events, newest first; with `cameras`, only box-wide events and those
   * cameras' events (the filter is in the query, so a viewer still gets up to `limit`).
   */
  recentEvents(limit: number, cameras?: readonly string[]): EventRecord[] {
    return this.#q.recentEvents.all({
      limit,
      cameras: cameras === undefined ? null : JSON.stringify(cameras),
    }).map(eventFromRow);
  }

  /** The query plan SQLite picks for `range()`; tests check it uses the camera/start index. */
  explainRange(): string[] {
    return this.#db.prepare(`EXPLAIN QUERY PLAN ${SQL.range}`)
      .all({ camera: "", from: 0, to: 0 })
      .map((row) => String(row.detail));
  }

  /**
   * Gives the write-ahead log's disk space back (a TRUNCATE checkpoint): between checkpoints the
   * log keeps its largest size, which on a full disk is room that recordings cannot use. Best
   * effort: another connection's open read may hold the log; it shrinks at a later call.
   */
  truncateJournal(): void {
    try {
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch { /* busy, or the file cannot be changed now: nothing lost, the log stays as it was */ }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
