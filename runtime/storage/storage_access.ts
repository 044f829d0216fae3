/**
 * Guarded access to the data folder: the mount guard and the writability check before anything
 * is written, and the index opened on first use (so a disk mounted after start-up is picked up).
 * The daemon and each recorder worker make their own.
 */
import type { StorageConfig } from "../config/types.ts";
import { ensureWritable, StorageUnavailableError } from "./data_dir.ts";
import { indexPath } from "./layout.ts";
import { requireMounted } from "./mount_guard.ts";
import { SegmentIndex } from "./segment_index.ts";

export interface StorageAccess {
  /** Throws StorageUnavailableError when the data folder must not or cannot be written. */
  checkStorage(): Promise<void>;
  /** The index; throws StorageUnavailableError while the folder cannot be used. */
  index(): SegmentIndex;
  close(): void;
}

export function storageAccess(storage: StorageConfig, procRoot = "/proc"): StorageAccess {
  const { dataDir, requireMount } = storage;
  let index: SegmentIndex | null = null;
  /** The index file held open, as device and inode. */
  let opened: string | null = null;
  const identity = (): string | null => {
    try {
      const s = Deno.statSync(indexPath(dataDir));
      return `${s.dev}:${s.ino}`;
    } catch {
      return null;
    }
  };
  return {
    async checkStorage() {
      requireMounted(dataDir, requireMount, procRoot);
      await ensureWritable(dataDir);
      // A disk that went away and came back (a USB SSD re-plugged is another device) holds
      // another index file than the one open, whose rows would go to the vanished disk (seen in
      // power_cut_test.ts): open the one on the disk now.
      if (index && identity() !== opened) {
        try {
          index.close();
        } catch { /* its disk is gone */ }
        index = null;
      }
    },
    index() {
      if (index) return index;
      requireMounted(dataDir, requireMount, procRoot);
      try {
        index = SegmentIndex.open(indexPath(dataDir));
        opened = identity();
      } catch (err) {
        throw new StorageUnavailableError(dataDir, `the index cannot be opened (${err})`, {
          cause: err,
        });
      }
      return index;
    },
    close() {
      index?.close();
      index = null;
    },
  };
}
