/** Storage: the data folder's layout, its writability check and the segment index. */
export * from "./layout.ts";
export { ensureWritable, StorageUnavailableError } from "./data_dir.ts";
export { type IndexedSegment, SegmentIndex, type SegmentRecord } from "./segment_index.ts";
