/**
 * Installing and removing plugins in `<dataDir>/plugins/<id>/`: from a folder on the box or from
 * a tar(.gz) archive whose SHA-256 must match the one given (checked before anything is read).
 * The manifest is read and the code checked (code_check.ts) in a staging folder; only then does
 * it replace the installed one, in one rename. Files are made read-only (0444, folders 0555).
 */
import { checkPluginCode, listPluginFiles } from "./code_check.ts";
import { type Manifest, MANIFEST_FILE, parseManifest } from "./manifest.ts";
import { ArchiveError, readTar, type TarEntry } from "./tar.ts";

export { ArchiveError };

/** The most an archive may weigh, compressed. */
export const MAX_ARCHIVE_BYTES = 8 << 20;

/** The installed plugins, and for each folder that cannot be used, why (by folder name). */
export async function readInstalled(
  dir: string,
): Promise<{ installed: Manifest[]; errors: Map<string, string> }> {
  const installed: Manifest[] = [];
  const errors = new Map<string, string>();
  let names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory && !e.name.startsWith(".")) names.push(e.name);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  names = names.sort();
  for (const name of names) {
    try {
      const manifest = await readManifest(`${dir}/${name}`);
      if (manifest.id !== name) {
        throw new Error(
          `${dir}/${name}: the folder's name is not the manifest's id '${manifest.id}'`,
        );
      }
      installed.push(manifest);
    } catch (err) {
      errors.set(name, (err as Error).message);
    }
  }
  return { installed, errors };
}

export async function readManifest(folder: string): Promise<Manifest> {
  const path = `${folder}/${MANIFEST_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new Error(`${path}: cannot be read (${(err as Error).message}); a plugin needs one`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not JSON (${(err as Error).message})`);
  }
  return parseManifest(raw, path);
}

/** Installs (or replaces) a plugin from a folder; returns its manifest. */
export async function installFromFolder(source: string, pluginsDir: string): Promise<Manifest> {
  const files = await listPluginFiles(source);
  const staging = await stage(pluginsDir);
  try {
    for (const file of files) {
      const target = `${staging}/${file}`;
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.copyFile(`${source}/${file}`, target);
    }
    return await commit(staging, pluginsDir);
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/**
 * Installs (or replaces) a plugin from a tar or tar.gz archive. `sha256` (hex) must match the
 * archive's bytes: a mismatch is refused before the archive is read.
 */
export async function installFromArchive(
  archive: Uint8Array,
  sha256: string,
  pluginsDir: string,
): Promise<Manifest> {
  if (archive.length > MAX_ARCHIVE_BYTES) {
    throw new ArchiveError(`the archive is ${archive.length} bytes; at most ${MAX_ARCHIVE_BYTES}`);
  }
  const actual = await sha256Hex(archive);
  if (!/^[0-9a-f]{64}$/i.test(sha256) || actual !== sha256.toLowerCase()) {
    throw new ArchiveError(
      `the archive's SHA-256 is ${actual}, not the ${JSON.stringify(sha256)} given; ` +
        "nothing was installed (download it again, or check the checksum you were given)",
    );
  }
  const tar = archive[0] === 0x1f && archive[1] === 0x8b ? await gunzip(archive) : archive;
  const entries = stripTop(readTar(tar));
  const staging = await stage(pluginsDir);
  try {
    for (const entry of entries) {
      const target = `${staging}/${entry.path}`;
      if (entry.type === "dir") {
        await Deno.mkdir(target, { recursive: true });
        continue;
      }
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(target, entry.data, { createNew: true });
    }
    return await commit(staging, pluginsDir);
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/** Removes an installed plugin's folder; false when there was none. */
export async function removePlugin(id: string, pluginsDir: string): Promise<boolean> {
  if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(id)) throw new Error(`'${id}' is not a plugin id`);
  const folder = `${pluginsDir}/${id}`;
  try {
    await makeWritable(folder);
    await Deno.remove(folder, { recursive: true });
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const limit = 32 << 20;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  try {
    for await (const chunk of stream) {
      size += chunk.length;
      if (size > limit) throw new ArchiveError(`the archive unpacks to more than ${limit} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError(`the archive is not a readable gzip file (${(err as Error).message})`);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) out.set(c, at), at += c.length;
  return out;
}

/** An archive of one folder holding plugin.json: its contents, one level up. */
function stripTop(entries: TarEntry[]): TarEntry[] {
  if (entries.some((e) => e.path === "plugin.json")) return entries;
  const tops = new Set(entries.map((e) => e.path.split("/")[0]));
  const [top] = tops;
  if (tops.size !== 1 || !entries.some((e) => e.path === `${top}/plugin.json`)) {
    throw new ArchiveError("no plugin.json at the top of the archive or of its one folder");
  }
  return entries.filter((e) => e.path !== top).map((e) => ({
    ...e,
    path: e.path.slice(top!.length + 1),
  }));
}

async function stage(pluginsDir: string): Promise<string> {
  await Deno.mkdir(pluginsDir, { recursive: true, mode: 0o755 });
  return await Deno.makeTempDir({ dir: pluginsDir, prefix: ".staging-" });
}

/** Checks the staged plugin and moves it into place, replacing an installed one. */
async function commit(staging: string, pluginsDir: string): Promise<Manifest> {
  const manifest = await readManifest(staging);
  await checkPluginCode(staging, manifest.main);
  const target = `${pluginsDir}/${manifest.id}`;
  const old = `${pluginsDir}/.old-${manifest.id}-${crypto.randomUUID().slice(0, 8)}`;
  const replaced = await Deno.rename(target, old).then(() => true, (err) => {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  });
  await Deno.rename(staging, target);
  await makeReadOnly(target);
  if (replaced) {
    await makeWritable(old);
    await Deno.remove(old, { recursive: true }).catch(() => {});
  }
  return manifest;
}

async function makeReadOnly(folder: string): Promise<void> {
  for await (const e of Deno.readDir(folder)) {
    const path = `${folder}/${e.name}`;
    if (e.isDirectory) await makeReadOnly(path);
    else await Deno.chmod(path, 0o444);
  }
  await Deno.chmod(folder, 0o555);
}

async function makeWritable(folder: string): Promise<void> {
  await Deno.chmod(folder, 0o755);
  for await (const e of Deno.readDir(folder)) {
    if (e.isDirectory) await makeWritable(`${folder}/${e.name}`);
  }
}
