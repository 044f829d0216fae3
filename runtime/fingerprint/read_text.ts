/**
 * Reading the small text files the kernel exposes (/sys, /proc, /run/udev) where a missing or
 * unreadable file is an answer ("not here"), not an error.
 */

/** The file's text, or null when it is missing, unreadable (root only) or not a file. */
export async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (
      err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied ||
      err instanceof Deno.errors.IsADirectory || err instanceof Deno.errors.NotADirectory
    ) {
      return null;
    }
    // sysfs attributes may fail with EIO/ENODATA/EINVAL (e.g. a thermal sensor that is off).
    if (err instanceof Error && /os error (5|22|61|95)\b/.test(err.message)) return null;
    throw err;
  }
}

/** The trimmed text with devicetree NULs and padding removed, or null when empty or absent. */
export async function readValue(path: string): Promise<string | null> {
  const text = await readTextOrNull(path);
  if (text === null) return null;
  const value = (text.split("\0")[0] ?? "").trim();
  return value === "" ? null : value;
}

/** Entry names of a folder, sorted; empty when it does not exist or cannot be read. */
export async function listDir(path: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(path)) names.push(e.name);
  } catch (err) {
    if (
      err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied ||
      err instanceof Deno.errors.NotADirectory
    ) {
      return [];
    }
    throw err;
  }
  return names.sort();
}

/** Whether a path exists (following symlinks). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** `Key : value` lines (cpuinfo, meminfo): the value of the first line whose key is `key`. */
export function colonField(text: string, key: string): string | null {
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i < 0) continue;
    if (line.slice(0, i).trim() === key) {
      const v = line.slice(i + 1).trim();
      return v === "" ? null : v;
    }
  }
  return null;
}
