/** Row types of the index and their mapping from SQLite rows. Used by segment_index.ts. */

export interface SegmentRecord {
  readonly camera: string;
  /** Wall-clock start and end, ms since the epoch. */
  readonly startMs: number;
  readonly endMs: number;
  readonly bytes: number;
  readonly codec: string;
  /** Path relative to the data folder. */
  readonly path: string;
  /** Picture size, when known. */
  readonly width?: number | null;
  readonly height?: number | null;
  /**
   * null (or absent): the times come from a trusted wall clock. "unsynced": recorded before the
   * clock was synced; the times are an estimate (never before the build date) until the boot's
   * clock is synced and the segment re-stamped from its monotonic times.
   */
  readonly clock?: "unsynced" | null;
  readonly bootId?: string | null;
  /** Milliseconds since boot `bootId`, for unsynced segments. */
  readonly monoStartMs?: number | null;
  readonly monoEndMs?: number | null;
}

export interface IndexedSegment extends SegmentRecord {
  readonly id: number;
  readonly width: number | null;
  readonly height: number | null;
  /** Locked (kept by an operator, or exported): retention never deletes it. */
  readonly locked: boolean;
}

/** A time when a camera was not recorded, and why (e.g. "camera-unreachable", "disk-full"). */
export interface GapRecord {
  readonly id: number;
  readonly camera: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly reason: string;
}

/** Something that happened, for a camera or for the whole box (camera null). */
export interface EventRecord {
  readonly id: number;
  readonly camera: string | null;
  readonly tsMs: number;
  readonly kind: string;
  readonly detail: Record<string, unknown>;
}

export interface CameraTotals {
  readonly camera: string;
  /** Bytes and number of all indexed segments of the camera, locked ones included. */
  readonly bytes: number;
  readonly count: number;
  /** Start of the camera's oldest segment. */
  readonly oldestMs: number | null;
}

type Row = Record<string, unknown>;

const nullableNumber = (value: unknown): number | null => value === null ? null : Number(value);

export const SEGMENT_COLUMNS =
  "id, camera, start_ms, end_ms, bytes, codec, path, width, height, locked, clock";

export function segmentFromRow(row: Row): IndexedSegment {
  return {
    id: Number(row.id),
    camera: String(row.camera),
    startMs: Number(row.start_ms),
    endMs: Number(row.end_ms),
    bytes: Number(row.bytes),
    codec: String(row.codec),
    path: String(row.path),
    width: nullableNumber(row.width),
    height: nullableNumber(row.height),
    locked: Number(row.locked) !== 0,
    clock: row.clock === "unsynced" ? "unsynced" : null,
  };
}

export function gapFromRow(row: Row): GapRecord {
  return {
    id: Number(row.id),
    camera: String(row.camera),
    startMs: Number(row.start_ms),
    endMs: Number(row.end_ms),
    reason: String(row.reason),
  };
}

export function eventFromRow(row: Row): EventRecord {
  let detail: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(String(row.detail));
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      detail = parsed as Record<string, unknown>;
    }
  } catch {
    detail = { unparsed: String(row.detail) };
  }
  return {
    id: Number(row.id),
    camera: row.camera === null ? null : String(row.camera),
    tsMs: Number(row.ts_ms),
    kind: String(row.kind),
    detail,
  };
}

export function totalsFromRow(row: Row): CameraTotals {
  return {
    camera: String(row.camera),
    bytes: Number(row.bytes),
    count: Number(row.count),
    oldestMs: nullableNumber(row.oldest_ms),
  };
}

/** Merges lists that are each sorted by (startMs, id) and keeps the first `limit`. */
export function mergeOldest(lists: readonly IndexedSegment[][], limit: number): IndexedSegment[] {
  return lists.flat().sort((a, b) => a.startMs - b.startMs || a.id - b.id).slice(0, limit);
}
