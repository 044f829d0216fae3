/**
 * The retention loop: every `intervalSeconds`, and at once on `trigger()` (the recorder calls it
 * when a write fails with ENOSPC and awaits it before retrying), plan with retention_plan.ts and
 * delete: the file first, then its index row. A file already gone is not an error (the row goes
 * too); a file that cannot be deleted keeps its row and is tried again next sweep. Each sweep
 * that deleted or failed something, or is still short of space, adds a "retention" event.
 */
import type { Logger } from "../lib/log.ts";
import { type DiskSpace, diskSpace as statvfsDiskSpace } from "./disk_space.ts";
import type { IndexedSegment } from "./index_rows.ts";
import {
  CAMERA_EVENT_KIND,
  DAY_MS,
  type DeletionReason,
  eventExtraDays,
  maxAgeDays,
  planDeletions,
  type RetentionPolicy,
  type RetentionState,
  shortfall,
} from "./retention_plan.ts";
import type { SegmentIndex } from "./segment_index.ts";
import { thumbnailPath } from "./layout.ts";
import { sleep } from "../lib/sleep.ts";

export * from "./retention_plan.ts";

export interface RetentionDeps {
  /** The index; may throw StorageUnavailableError (the sweep is then skipped). */
  readonly index: () => SegmentIndex;
  readonly dataDir: string;
  readonly policy: RetentionPolicy;
  readonly log: Logger;
  readonly now: () => number;
  /** Free space of the data folder's disk; default: statvfs. */
  readonly diskSpace?: (path: string) => DiskSpace;
  /** Pause between sweeps; default 60 s. */
  readonly intervalSeconds?: number;
  /** Segments read from the index per round of a sweep; default 500. */
  readonly batch?: number;
}

export interface SweepResult {
  readonly deleted: number;
  readonly bytes: number;
  readonly byReason: Readonly<Record<DeletionReason, number>>;
  /** Rows whose file was already gone (the row was removed). */
  readonly missingFiles: number;
  /** Files that could not be deleted (their rows stay). */
  readonly failed: number;
  /** Bytes still over the budget or short of the free-space minimum after the sweep. */
  readonly shortBytes: number;
  /** Why the sweep could not run, e.g. the index is unavailable. */
  readonly error: string | null;
}

export interface RetentionLoop {
  /** Sweeps now, or right after the sweep in progress; resolves when done. Never rejects. */
  trigger(): Promise<SweepResult>;
  /**
   * A segment was just indexed: when recordings are over `storage.maxBytes`, sweep now rather
   * than at the next timed sweep, so they stay within the budget plus about one segment per
   * camera (the timed sweep alone let a minute of the box's whole bitrate through). Cheap: one
   * read of the index's per-camera running totals. Never throws.
   */
  segmentClosed(): void;
  /** Resolves when the loop has stopped after the signal aborted. */
  readonly done: Promise<void>;
}

const DEFAULT_INTERVAL_S = 60;
const DEFAULT_BATCH = 500;

/** Starts the loop; the first sweep runs at once. */
export function runRetention(deps: RetentionDeps, signal: AbortSignal): RetentionLoop {
  let current: Promise<SweepResult> | null = null;
  let queued: Promise<SweepResult> | null = null;
  const start = (): Promise<SweepResult> => {
    const run: Promise<SweepResult> = sweepRetention(deps, signal).finally(() => {
      if (current === run) current = null;
    });
    current = run;
    return run;
  };
  const trigger = (): Promise<SweepResult> => {
    if (signal.aborted) {
      return Promise.resolve({ ...idle(), shortBytes: 0, error: "retention has stopped" });
    }
    if (queued) return queued;
    if (!current) return start();
    queued = current.then(() => {
      queued = null;
      return start();
    });
    return queued;
  };
  const intervalMs = (deps.intervalSeconds ?? DEFAULT_INTERVAL_S) * 1000;
  const done = (async () => {
    while (!signal.aborted) {
      await trigger();
      await sleep(intervalMs, signal);
    }
    await queued;
    await current;
  })();
  const segmentClosed = (): void => {
    const budget = deps.policy.maxBytes;
    if (budget === null || signal.aborted) return;
    try {
      const used = deps.index().totals().reduce((sum, t) => sum + t.bytes, 0);
      if (used > budget) void trigger();
    } catch { /* the index is unavailable: the timed sweep reports it */ }
  };
  return { trigger, segmentClosed, done };
}

interface Tally {
  deleted: number;
  bytes: number;
  byReason: Record<DeletionReason, number>;
  missingFiles: number;
  failed: number;
}

const idle = (): Tally => ({
  deleted: 0,
  bytes: 0,
  byReason: { age: 0, budget: 0, "free-space": 0 },
  missingFiles: 0,
  failed: 0,
});

/** Passes over the final state when segments closed during the sweep (see sweepRetention). */
const FINAL_ROUNDS = 3;

/** One sweep (what the loop runs), on its own; never throws. */
export async function sweepRetention(
  deps: RetentionDeps,
  signal: AbortSignal = new AbortController().signal,
): Promise<SweepResult> {
  const tally = idle();
  let index: SegmentIndex;
  try {
    index = deps.index();
  } catch (err) {
    deps.log.warn("retention skipped: the index is unavailable", { err });
    return { ...tally, shortBytes: 0, error: String(err) };
  }
  try {
    const emptied = new Set<string>();
    const failed = new Set<number>(); // tried once this sweep; not again until the next one
    let short = { budget: 0, freeSpace: 0 };
    let journalTruncated = false;
    // A segment that closes while the sweep runs can leave it short at the end with deletable
    // segments left: sweep again then (bounded), so "still short" means nothing more may go.
    for (let round = 0; round < FINAL_ROUNDS && !signal.aborted; round++) {
      while (!signal.aborted) {
        const now = deps.now();
        const state = loadState(index, deps, now);
        const candidates = state.segments.filter((s) => !failed.has(s.id));
        const plan = planDeletions({ ...state, segments: candidates }, deps.policy, now);
        let removed = 0;
        for (const { segment, reason } of plan) {
          if (signal.aborted) break;
          if (await deleteSegment(index, deps, segment, tally)) {
            removed++;
            tally.byReason[reason]++;
            emptied.add(segment.path.slice(0, segment.path.lastIndexOf("/")));
          } else {
            failed.add(segment.id);
          }
        }
        if (removed === 0) break;
      }
      const now = deps.now();
      short = shortfall(loadState(index, deps, now, 0), deps.policy);
      if (short.freeSpace > 0 && !journalTruncated) {
        // The index's write-ahead log keeps its largest size until truncated: on a small full
        // disk that can be the room a segment needs (power_cut_test's 6 MB volume, under load).
        journalTruncated = true;
        index.truncateJournal();
        short = shortfall(loadState(index, deps, now, 0), deps.policy);
      }
      if (short.budget <= 0 && short.freeSpace <= 0) break;
      const state = loadState(index, deps, now);
      const left = state.segments.filter((s) => !failed.has(s.id));
      if (planDeletions({ ...state, segments: left }, deps.policy, now).length === 0) break;
    }
    await removeEmptyFolders(deps.dataDir, emptied);
    const shortBytes = Math.max(short.budget, short.freeSpace);
    const result: SweepResult = { ...tally, shortBytes, error: null };
    report(index, deps, result, short);
    return result;
  } catch (err) {
    deps.log.error("retention sweep failed", { err });
    return { ...tally, shortBytes: 0, error: String(err) };
  }
}

/** Candidates: per camera the segments past its age, plus the oldest overall when space is short. */
function loadState(
  index: SegmentIndex,
  deps: RetentionDeps,
  now: number,
  batch = deps.batch ?? DEFAULT_BATCH,
): RetentionState {
  const totals = index.totals();
  const usedBytes = totals.reduce((sum, t) => sum + t.bytes, 0);
  let disk: DiskSpace | null = null;
  try {
    disk = (deps.diskSpace ?? statvfsDiskSpace)(deps.dataDir);
  } catch (err) {
    deps.log.warn("free space unknown; the free-space rule is skipped this time", { err });
  }
  if (batch === 0) return { segments: [], usedBytes, disk };
  const segments: IndexedSegment[] = [];
  // Segments past their camera's age that have no event in them; the others of a camera with
  // extra days for events wait for the longer limit (retention_plan.ts `hasEvents`).
  const eventless = new Set<number>();
  for (const { camera } of totals) {
    const days = maxAgeDays(deps.policy, camera);
    if (days === null) continue;
    const extra = eventExtraDays(deps.policy, camera);
    if (extra === 0) {
      segments.push(...index.oldest(batch, { camera, beforeMs: now - days * DAY_MS }));
      continue;
    }
    // Two queries, so that old segments kept for their events never fill the batch and starve
    // the ones without events behind them.
    segments.push(...index.oldest(batch, { camera, beforeMs: now - (days + extra) * DAY_MS }));
    for (
      const s of index.oldest(batch, {
        camera,
        beforeMs: now - days * DAY_MS,
        withoutEvents: CAMERA_EVENT_KIND,
      })
    ) {
      eventless.add(s.id);
      segments.push(s);
    }
  }
  const hasEvents = (s: IndexedSegment) => !eventless.has(s.id);
  const need = shortfall({ usedBytes, disk }, deps.policy);
  const needBytes = Math.max(need.budget, need.freeSpace);
  if (needBytes > 0) {
    // About twice the segments the shortfall needs at the average size, so one round suffices.
    const count = totals.reduce((sum, t) => sum + t.count, 0);
    const average = Math.max(1, usedBytes / Math.max(1, count));
    segments.push(...index.oldest(Math.min(batch, 2 * Math.ceil(needBytes / average) + 16)));
  }
  return { segments, usedBytes, disk, hasEvents };
}

/** Deletes the file, then the row. True when the row went. */
async function deleteSegment(
  index: SegmentIndex,
  deps: RetentionDeps,
  segment: IndexedSegment,
  tally: Tally,
): Promise<boolean> {
  const inside = !segment.path.startsWith("/") && !segment.path.split("/").includes("..");
  if (inside) {
    try {
      await Deno.remove(`${deps.dataDir}/${segment.path}`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        tally.failed++;
        deps.log.warn("cannot delete a segment; it is kept and tried again next sweep", {
          camera: segment.camera,
          path: segment.path,
          err,
        });
        return false;
      }
      tally.missingFiles++;
    }
  } else {
    deps.log.error("index row points outside the data folder; the row is dropped, no file", {
      path: segment.path,
    });
  }
  index.remove(segment.id);
  // Its thumbnail, if one was made, goes with it.
  await Deno.remove(thumbnailPath(deps.dataDir, segment.camera, segment.id)).catch(() => {});
  tally.deleted++;
  tally.bytes += segment.bytes;
  return true;
}

/** Removes hour and day folders left empty (non-recursive removes fail on non-empty ones). */
async function removeEmptyFolders(dataDir: string, folders: Set<string>): Promise<void> {
  const days = new Set<string>();
  for (const folder of folders) {
    if (!folder.startsWith("recordings/")) continue;
    await Deno.remove(`${dataDir}/${folder}`).catch(() => {});
    days.add(folder.slice(0, folder.lastIndexOf("/")));
  }
  for (const day of days) await Deno.remove(`${dataDir}/${day}`).catch(() => {});
}

function report(
  index: SegmentIndex,
  deps: RetentionDeps,
  result: SweepResult,
  short: { budget: number; freeSpace: number },
): void {
  const { deleted, bytes, byReason, missingFiles, failed, shortBytes } = result;
  const detail = { deleted, bytes, byReason, missingFiles, failed, shortBytes };
  if (deleted === 0 && failed === 0 && shortBytes === 0) {
    deps.log.debug("retention sweep: nothing to delete");
    return;
  }
  try {
    index.addEvent({ camera: null, tsMs: deps.now(), kind: "retention", detail });
  } catch (err) {
    deps.log.warn("retention event not recorded", { err, ...detail });
  }
  if (deleted > 0) deps.log.info("retention sweep", detail);
  if (shortBytes > 0) {
    deps.log.warn(
      "still short of space after the sweep (locked or undeletable segments remain): unlock " +
        "segments, raise " +
        "storage.maxBytes, lower storage.minFreeBytes/minFreePercent, or free the disk",
      { overBudgetBytes: short.budget, missingFreeBytes: short.freeSpace },
    );
  }
}
