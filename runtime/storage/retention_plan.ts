/**
 * The retention policy as a pure function: which segments go, and why. Per camera, segments
 * older than its retention go ("age"); then, while the recordings are over their byte budget
 * ("budget") or the disk has less free space than the minimum ("free-space"), the oldest
 * segments of any camera go. Locked segments never go. A camera may keep segments with events of
 * its own (ONVIF motion, inputs: index kind CAMERA_EVENT_KIND) some days longer than the rest; the
 * budget and free-space rules still take the oldest first. No I/O here: retention.ts runs it.
 */
import type { CameraConfig, StorageConfig } from "../config/types.ts";
import type { IndexedSegment } from "./index_rows.ts";

export const DAY_MS = 86_400_000;

/** The index kind of a camera's own event (motion, digital input, …; app/camera_events.ts). */
export const CAMERA_EVENT_KIND = "camera-event";

export interface RetentionPolicy {
  /** Most bytes the recordings may take; null: no budget. */
  readonly maxBytes: number | null;
  /** Free space to keep on the disk: the larger of the two. */
  readonly minFreeBytes: number;
  readonly minFreePercent: number;
  /** Default maximum age in days; null: keep until the space is needed. */
  readonly retentionDays: number | null;
  /** Per-camera maximum age in days, overriding retentionDays. */
  readonly cameraRetentionDays: Readonly<Record<string, number>>;
  /** Per camera: days longer that segments with one of its events are kept (absent: 0). */
  readonly cameraEventExtraDays?: Readonly<Record<string, number>>;
}

export interface RetentionState {
  /** Segments that may go, in any order; locked ones are skipped. */
  readonly segments: readonly IndexedSegment[];
  /** Bytes of every indexed segment, locked ones included. */
  readonly usedBytes: number;
  /** The disk holding the data folder; null when unknown (the free-space rule is skipped). */
  readonly disk: { readonly totalBytes: number; readonly availableBytes: number } | null;
  /**
   * Whether a camera event falls inside the segment; asked only for cameras with extra days for
   * events. Absent: none has (all go at the camera's age).
   */
  readonly hasEvents?: (segment: IndexedSegment) => boolean;
}

export type DeletionReason = "age" | "budget" | "free-space";

export interface Deletion {
  readonly segment: IndexedSegment;
  readonly reason: DeletionReason;
}

/** The policy the config asks for. */
export function retentionPolicy(
  config: { readonly storage: StorageConfig; readonly cameras: readonly CameraConfig[] },
): RetentionPolicy {
  const cameraRetentionDays: Record<string, number> = {};
  const cameraEventExtraDays: Record<string, number> = {};
  for (const camera of config.cameras) {
    if (camera.retentionDays !== null) cameraRetentionDays[camera.id] = camera.retentionDays;
    if (camera.eventRetentionExtraDays) {
      cameraEventExtraDays[camera.id] = camera.eventRetentionExtraDays;
    }
  }
  return {
    maxBytes: config.storage.maxBytes,
    minFreeBytes: config.storage.minFreeBytes,
    minFreePercent: config.storage.minFreePercent,
    retentionDays: config.storage.retentionDays,
    cameraRetentionDays,
    ...(Object.keys(cameraEventExtraDays).length ? { cameraEventExtraDays } : {}),
  };
}

/** Maximum age of a camera's recordings in days, or null for no limit. */
export function maxAgeDays(policy: RetentionPolicy, camera: string): number | null {
  return policy.cameraRetentionDays[camera] ?? policy.retentionDays;
}

/** Days longer a camera keeps segments with its events (0: none). */
export function eventExtraDays(policy: RetentionPolicy, camera: string): number {
  return policy.cameraEventExtraDays?.[camera] ?? 0;
}

/** Free bytes the disk must keep. */
export function requiredFreeBytes(policy: RetentionPolicy, totalBytes: number): number {
  return Math.max(policy.minFreeBytes, Math.ceil(totalBytes * policy.minFreePercent / 100));
}

/** Bytes that must still go to meet the budget and the free-space minimum (0 when met). */
export function shortfall(
  state: Pick<RetentionState, "usedBytes" | "disk">,
  policy: RetentionPolicy,
): { readonly budget: number; readonly freeSpace: number } {
  const budget = policy.maxBytes === null ? 0 : Math.max(0, state.usedBytes - policy.maxBytes);
  const freeSpace = state.disk === null
    ? 0
    : Math.max(0, requiredFreeBytes(policy, state.disk.totalBytes) - state.disk.availableBytes);
  return { budget, freeSpace };
}

/**
 * The deletions the policy asks for at `nowMs`: first every segment past its camera's age (its
 * end older than the limit; for a segment with events, the limit plus the camera's extra days), then the oldest segments across cameras until the budget and the
 * free-space minimum are met, counting the bytes of earlier deletions as freed.
 */
export function planDeletions(
  state: RetentionState,
  policy: RetentionPolicy,
  nowMs: number,
): Deletion[] {
  const byId = new Map<number, IndexedSegment>();
  for (const segment of state.segments) if (!segment.locked) byId.set(segment.id, segment);
  const oldestFirst = [...byId.values()].sort((a, b) => a.startMs - b.startMs || a.id - b.id);

  const deletions: Deletion[] = [];
  const taken = new Set<number>();
  let freed = 0;
  for (const segment of oldestFirst) {
    const days = maxAgeDays(policy, segment.camera);
    const extra = eventExtraDays(policy, segment.camera);
    const kept = (limitDays: number) => segment.endMs > nowMs - limitDays * DAY_MS;
    if (days === null || kept(days)) continue;
    if (extra > 0 && kept(days + extra) && (state.hasEvents?.(segment) ?? false)) continue;
    deletions.push({ segment, reason: "age" });
    taken.add(segment.id);
    freed += segment.bytes;
  }

  const need = shortfall(state, policy);
  let budget = need.budget - freed;
  let freeSpace = need.freeSpace - freed;
  for (const segment of oldestFirst) {
    if (budget <= 0 && freeSpace <= 0) break;
    if (taken.has(segment.id)) continue;
    deletions.push({ segment, reason: budget > 0 ? "budget" : "free-space" });
    budget -= segment.bytes;
    freeSpace -= segment.bytes;
  }
  return deletions;
}
