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
    await Deno.mkdir(dataDir, { recursive: true });
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
