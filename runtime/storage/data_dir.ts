/** Checks that the data folder can take recordings before anything is written there. */

export class StorageUnavailableError extends Error {
  readonly dataDir: string;
  constructor(dataDir: string, why: string, options?: ErrorOptions) {
    super(
      `Data folder '${dataDir}' cannot be used: ${why}. Mount the recording disk there, or set ` +
        "storage.dataDir (or NVR_DATA_DIR) to a writable folder; recording resumes by itself.",
      options,
    );
    this.name = "StorageUnavailableError";
    this.dataDir = dataDir;
  }
}

/**
 * Creates the folder if its parent exists, then writes and removes a probe file.
 * Throws StorageUnavailableError saying why.
 */
export async function ensureWritable(dataDir: string): Promise<void> {
  try {
    // 0700: recordings, users, the audit log and the fleet queue are the owner's only.
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
    await restrictMode(dataDir, 0o700); // one made before this version, or by hand
    const probe = `${dataDir}/.write-probe-${crypto.randomUUID()}`;
    await Deno.writeTextFile(probe, "ok");
    await Deno.remove(probe);
  } catch (err) {
    const why = err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : err instanceof Deno.errors.NotFound
      ? "it does not exist"
      : err instanceof Deno.errors.NotADirectory
      ? "a path component is a file, not a folder"
      : `${(err as Error).message}`;
    throw new StorageUnavailableError(dataDir, why, { cause: err });
  }
}

/**
 * Makes a database file and its SQLite/KV companions (-wal, -shm, -journal) readable by the
 * daemon's user only (0600): they hold password hashes, the pseudonymisation secret, queued
 * messages. SQLite gives companions created later the main file's mode.
 */
export async function ownerOnly(path: string): Promise<void> {
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    try {
      await Deno.chmod(file, 0o600);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

/**
 * Takes group and other permissions off `path` (to `mode`) when it has any and belongs to this
 * process's user; returns whether it changed. A config file or data folder made by hand, or by an
 * older version, is tightened at start instead of staying readable by everyone.
 */
export async function restrictMode(path: string, mode: 0o600 | 0o700): Promise<boolean> {
  const stat = await Deno.stat(path);
  if (stat.mode === null || (stat.mode & 0o077) === 0 || stat.uid !== Deno.uid()) return false;
  await Deno.chmod(path, mode);
  return true;
}
