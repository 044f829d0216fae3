/**
 * Storage: the data folder's layout, its writability and mount checks, the segment index, free
 * space and retention.
 */
export * from "./layout.ts";
export { ensureWritable, StorageUnavailableError } from "./data_dir.ts";
export {
  type CameraTotals,
  type EventRecord,
  type GapRecord,
  type IndexedSegment,
  SegmentIndex,
  type SegmentRecord,
  UnknownSegmentError,
} from "./segment_index.ts";
export { IndexTooNewError, SCHEMA_VERSION } from "./migrations.ts";
export { type DiskSpace, diskSpace, DiskSpaceError, isDiskFull } from "./disk_space.ts";
export {
  DiskFullError,
  keepReserve,
  RESERVE_BYTES,
  RESERVE_NAME,
  withReserve,
} from "./disk_reserve.ts";
export { checkMount, type MountEntry, type MountStatus, requireMounted } from "./mount_guard.ts";
export {
  CAMERA_EVENT_KIND,
  type Deletion,
  type DeletionReason,
  planDeletions,
  requiredFreeBytes,
  type RetentionDeps,
  type RetentionLoop,
  type RetentionPolicy,
  retentionPolicy,
  type RetentionState,
  runRetention,
  type SweepResult,
  sweepRetention,
} from "./retention.ts";
export { type Fmp4Scan, scanFmp4 } from "../media/fmp4/scan.ts";
export {
  removeTrimLeftovers,
  TRIM_SUFFIX,
  type TrimResult,
  trimToFirstKeyframe,
} from "../media/fmp4/trim.ts";
export { type StorageAccess, storageAccess } from "./storage_access.ts";
