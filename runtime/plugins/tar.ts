/**
 * A tar reader for plugin archives, as strict as an archive from anywhere must be: plain files and
 * folders only (no links, devices or pax/long-name records), relative names without `..`, bounded
 * count and size. Pure: bytes in, entries out; RangeError-style messages name the entry.
 */

export interface TarEntry {
  /** Relative path, '/'-separated, no trailing slash. */
  readonly path: string;
  readonly type: "file" | "dir";
  readonly data: Uint8Array;
}

export class ArchiveError extends Error {
  override name = "ArchiveError";
}

const decoder = new TextDecoder();

function field(block: Uint8Array, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return decoder.decode(end < 0 ? raw : raw.subarray(0, end));
}

/** A relative path made safe, or an ArchiveError naming it. */
export function safePath(name: string): string {
  const path = name.replace(/\/+$/, "").replace(/^\.\//, "");
  const parts = path.split("/");
  if (
    path === "" || name.startsWith("/") || parts.some((p) => p === ".." || p === "" || p === ".") ||
    /[\0\\]/.test(path)
  ) {
    throw new ArchiveError(
      `entry ${JSON.stringify(name)}: not a plain relative path (absolute, '..', '.' or empty ` +
        "parts are refused); pack the plugin folder's files with relative names",
    );
  }
  return path;
}

export function readTar(
  bytes: Uint8Array,
  limits: { maxEntries: number; maxBytes: number } = { maxEntries: 200, maxBytes: 32 << 20 },
): TarEntry[] {
  const entries: TarEntry[] = [];
  let total = 0;
  for (let at = 0; at + 512 <= bytes.length;) {
    const block = bytes.subarray(at, at + 512);
    if (block.every((b) => b === 0)) break; // end of archive
    const name = field(block, 0, 100);
    const prefix = field(block, 345, 155);
    const full = prefix && field(block, 257, 5) === "ustar" ? `${prefix}/${name}` : name;
    const size = parseInt(field(block, 124, 12).trim() || "0", 8);
    const flag = String.fromCharCode(block[156] ?? 0);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new ArchiveError(`entry ${JSON.stringify(full)}: unreadable size`);
    }
    const dataAt = at + 512;
    at = dataAt + Math.ceil(size / 512) * 512;
    if (at > bytes.length + 512 || dataAt + size > bytes.length) {
      throw new ArchiveError(`entry ${JSON.stringify(full)}: the archive ends inside it`);
    }
    const path = safePath(full);
    if (flag === "5") {
      entries.push({ path, type: "dir", data: new Uint8Array() });
    } else if (flag === "0" || flag === "\0") {
      total += size;
      if (total > limits.maxBytes) {
        throw new ArchiveError(`the files hold more than ${limits.maxBytes} bytes`);
      }
      entries.push({ path, type: "file", data: bytes.slice(dataAt, dataAt + size) });
    } else {
      const what: Record<string, string> = {
        "1": "a hard link",
        "2": "a symbolic link",
        "3": "a device",
        "4": "a device",
        "6": "a FIFO",
        "x": "a pax header",
        "g": "a pax header",
        "L": "a GNU long name",
        "K": "a GNU long link",
      };
      throw new ArchiveError(
        `entry ${JSON.stringify(full)}: ${what[flag] ?? `type '${flag}'`}; plugin archives ` +
          "hold only plain files and folders (tar --format=ustar, short names)",
      );
    }
    if (entries.length > limits.maxEntries) {
      throw new ArchiveError(`more than ${limits.maxEntries} entries`);
    }
  }
  return entries;
}

/** Writes a ustar archive (for tests and tools): plain files, names under 100 characters. */
export function writeTar(
  files: readonly { path: string; data: Uint8Array | string }[],
): Uint8Array {
  const enc = new TextEncoder();
  const blocks: Uint8Array[] = [];
  for (const f of files) {
    const data = typeof f.data === "string" ? enc.encode(f.data) : f.data;
    const h = new Uint8Array(512);
    h.set(enc.encode(f.path).subarray(0, 100), 0);
    h.set(enc.encode("0000644\0"), 100);
    h.set(enc.encode("0000000\0"), 108);
    h.set(enc.encode("0000000\0"), 116);
    h.set(enc.encode(data.length.toString(8).padStart(11, "0") + "\0"), 124);
    h.set(enc.encode("00000000000\0"), 136);
    h.set(enc.encode("        "), 148);
    h[156] = 0x30;
    h.set(enc.encode("ustar\0"), 257);
    h.set(enc.encode("00"), 263);
    const sum = h.reduce((a, b) => a + b, 0);
    h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    blocks.push(h);
    const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
    padded.set(data);
    blocks.push(padded);
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const b of blocks) out.set(b, at), at += b.length;
  return out;
}
