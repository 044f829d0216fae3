/**
 * The one writer of the config file. Every change is a read-modify-write under one lock (a
 * promise chain), so two changes at once both land, in order. The file is replaced atomically and
 * durably: a unique temporary file beside it (never a shared name two writers could race on),
 * written and fsynced, the previous file kept as `<file>.bak` (only when it was valid JSON, so a
 * file emptied by a power cut never replaces a good backup), renamed over, and the folder fsynced.
 * A new file is created 0600 (it holds camera and broker passwords); a rewrite keeps the mode the
 * file had. load.ts starts from the `.bak` when the file is found empty or corrupt.
 */
import { dirname } from "node:path";
import type { NvrConfig } from "./types.ts";

export class ConfigStore {
  readonly #path: string | null;
  #current: NvrConfig;
  #chain: Promise<unknown> = Promise.resolve();

  /** `path` null: nothing is written (a daemon started on defaults only). */
  constructor(path: string | null, initial: NvrConfig) {
    this.#path = path;
    this.#current = initial;
  }

  get current(): NvrConfig {
    return this.#current;
  }

  /**
   * Runs `change` on the configuration running now, writes what it returns, then `apply`s it;
   * one at a time. When `change` or the write throws, nothing changes and the error is passed on.
   */
  update(
    change: (current: NvrConfig) => NvrConfig | Promise<NvrConfig>,
    apply: (next: NvrConfig) => Promise<void>,
  ): Promise<NvrConfig> {
    const run = this.#chain.then(async () => {
      const next = await change(this.#current);
      if (this.#path !== null) await writeConfigFile(this.#path, next);
      this.#current = next;
      await apply(next);
      return next;
    });
    this.#chain = run.catch(() => {});
    return run;
  }
}

/** Writes `config` to `path` atomically and durably, keeping the previous file as `.bak`. */
export async function writeConfigFile(path: string, config: NvrConfig): Promise<void> {
  const dir = dirname(path);
  const mode = await Deno.stat(path).then((s) => (s.mode ?? 0o600) & 0o7777, () => 0o600);
  const text = JSON.stringify(config, null, 2) + "\n";
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await writeDurably(temp, new TextEncoder().encode(text), mode);
    const previous = await Deno.readFile(path).catch(() => null);
    if (previous !== null && isJson(previous)) {
      const bakTemp = `${path}.${crypto.randomUUID()}.tmp`;
      await writeDurably(bakTemp, previous, mode);
      await Deno.rename(bakTemp, `${path}.bak`);
    }
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw new Error(
      `cannot write the config file ${path}: ${(err as Error).message}; check that ${dir} is ` +
        "writable by the daemon's user",
      { cause: err },
    );
  }
  await syncFolder(dir);
}

async function writeDurably(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true, mode });
  try {
    await Deno.chmod(path, mode); // the umask may have taken bits off at create
    let written = 0;
    while (written < bytes.byteLength) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
}

/** fsync of the folder, so the renames survive a power cut. */
async function syncFolder(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

function isJson(bytes: Uint8Array): boolean {
  try {
    JSON.parse(new TextDecoder().decode(bytes));
    return true;
  } catch {
    return false;
  }
}
