/**
 * Room kept for the index on a full disk. Recorders write until the disk is full; when retention
 * then finds nothing it may delete (every recording kept), SQLite cannot grow its WAL and even
 * the operator's "release" fails with "database or disk is full" (seen here). A small file in
 * the data folder holds the room: an index write that fails because the disk is full gives it up
 * and tries once more; it is made again when there is space.
 */
import { type DiskSpace, diskSpace as statvfsDiskSpace, isDiskFull } from "./disk_space.ts";

export const RESERVE_NAME = ".index-reserve";
/** The users database's own reserve, so that people can still sign in on a full disk. */
export const USERS_RESERVE_NAME = ".users-reserve";
/** Enough WAL for a few thousand changed rows (4 KiB pages). */
export const RESERVE_BYTES = 512 * 1024;

const CHUNK = new Uint8Array(64 * 1024);

export interface KeepReserveOptions {
  /**
   * Bytes the disk must still have free once the reserve is made, from its size (the retention's
   * free-space minimum). Default: none.
   */
  readonly leaveFree?: (totalBytes: number) => number;
  /** Free space of the data folder's disk; default: statvfs. */
  readonly diskSpace?: (path: string) => DiskSpace;
}

/**
 * Makes sure the reserve is in place in `dataDir` (written out, not sparse, so the room is
 * really taken). Returns false when the disk has no room for it now; nothing is left half made.
 *
 * With `leaveFree`, the reserve is made again only when the disk keeps that much free after it.
 * Else, on a disk short of space (an operator just released kept recordings, freeing the reserve
 * to do it), the reserve took back the room released for recording: the camera's next write hit
 * a full disk, retention deleted the released recordings to pay for the reserve, and the camera
 * was stuck on a full disk again (seen in the disk-full power-cut test under load).
 */
export async function keepReserve(
  dataDir: string,
  bytes = RESERVE_BYTES,
  name = RESERVE_NAME,
  opts: KeepReserveOptions = {},
): Promise<boolean> {
  const path = `${dataDir}/${name}`;
  try {
    if ((await Deno.stat(path)).size >= bytes) return true;
  } catch { /* not there */ }
  if (opts.leaveFree) {
    const disk = (opts.diskSpace ?? statvfsDiskSpace)(dataDir);
    if (disk.availableBytes < bytes + opts.leaveFree(disk.totalBytes)) return false;
  }
  const partial = `${path}.new`;
  try {
    using file = await Deno.open(partial, { write: true, create: true, truncate: true });
    for (let left = bytes; left > 0; left -= CHUNK.length) {
      const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      for (let done = 0; done < piece.length;) done += await file.write(piece.subarray(done));
    }
    await file.sync();
    await Deno.rename(partial, path);
    return true;
  } catch (err) {
    await Deno.remove(partial).catch(() => {});
    if (isDiskFull(err)) return false;
    throw err;
  }
}

/**
 * Runs an index write; if it fails because the disk is full, gives up the reserve and runs it
 * once more. A second failure says what to do.
 */
export function withReserve<T>(dataDir: string, write: () => T, name = RESERVE_NAME): T {
  try {
    return write();
  } catch (err) {
    if (!isDiskFull(err)) throw err;
    try {
      Deno.removeSync(`${dataDir}/${name}`);
    } catch { /* already used */ }
    try {
      return write();
    } catch (again) {
      if (!isDiskFull(again)) throw again;
      throw new DiskFullError(dataDir, again);
    }
  }
}

export class DiskFullError extends Error {
  constructor(dataDir: string, cause: unknown) {
    super(
      `The recording disk (${dataDir}) is full and the index cannot be changed; free space on ` +
        "it (files that are not recordings), then try again",
      { cause },
    );
    this.name = "DiskFullError";
  }
}
