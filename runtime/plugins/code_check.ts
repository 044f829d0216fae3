/**
 * What a plugin's code may load, checked before it runs (at install and at every start). Deno's
 * permissions do not cover module loading: a static or dynamic import of a local file is read
 * without --allow-read (`import("/etc/nvr/config.json", { with: { type: "json" } })` works under
 * `--deny-read`, Deno 2.9.6). So:
 * - no symbolic links, devices or other special files in the folder;
 * - no dynamic `import(` in any source file (V8 refuses `eval`/`new Function`, child_main.ts
 *   removes `Worker`, so there is no other way to name a module at run time);
 * - the static module graph (`deno info --json`, which also lists JSON and text imports) holds
 *   only files inside the plugin folder and the SDK.
 */
import { importMap, SDK_MODULES } from "./sandbox.ts";

/** Code a plugin may not have; the message names the file and what to change. */
export class PluginCodeError extends Error {
  override name = "PluginCodeError";
}

const SOURCE = /\.(ts|js|mjs|mts|tsx|jsx|cjs|cts)$/;
/** `import(`, with any whitespace or comments between (not `import.meta`, not `import x`). */
const DYNAMIC_IMPORT = /\bimport\s*(?:\/\*[\s\S]*?\*\/\s*|\/\/[^\n]*\n\s*)*\(/;
const MAX_FILES = 200;

/** Every file of the folder (relative paths); throws on links and special files. */
export async function listPluginFiles(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${rel}`)) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isSymlink) {
      throw new PluginCodeError(`${path}: a symbolic link; plugins may hold only plain files`);
    }
    if (entry.isDirectory) out.push(...await listPluginFiles(dir, path));
    else if (entry.isFile) out.push(path);
    else throw new PluginCodeError(`${path}: not a plain file; plugins may hold only plain files`);
    if (out.length > MAX_FILES) {
      throw new PluginCodeError(`more than ${MAX_FILES} files; a plugin is a small folder`);
    }
  }
  return out;
}

export async function checkPluginCode(dir: string, main: string): Promise<void> {
  const root = (await Deno.realPath(dir)).replace(/\/*$/, "/");
  for (const file of await listPluginFiles(root)) {
    if (!SOURCE.test(file)) continue;
    const text = await Deno.readTextFile(`${root}${file}`);
    if (DYNAMIC_IMPORT.test(text)) {
      throw new PluginCodeError(
        `${file}: has a dynamic import(); plugins may load only their own files and the SDK, ` +
          "with static imports",
      );
    }
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "info",
      "--json",
      "--no-config",
      "--no-lock",
      "--no-npm",
      "--no-remote",
      `--import-map=data:application/json,${encodeURIComponent(importMap())}`,
      `${root}${main}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { NO_COLOR: "1", ...denoDir() },
  }).output();
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n")[0] ?? "";
    throw new PluginCodeError(`${main}: its modules could not be read: ${why.slice(0, 300)}`);
  }
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules?: { specifier?: string; error?: string }[];
  };
  const rootUrl = new URL(`file://${root}`).href;
  for (const module of graph.modules ?? []) {
    const specifier = module.specifier ?? "";
    if (module.error) {
      throw new PluginCodeError(`${main}: ${specifier}: ${module.error.slice(0, 300)}`);
    }
    if (specifier.startsWith(rootUrl) || SDK_MODULES.includes(specifier)) continue;
    throw new PluginCodeError(
      `${main} imports ${specifier}: plugins may import only files in their own folder and ` +
        "'nvr-plugin-sdk'",
    );
  }
}

/** DENO_DIR passed on (the image's module cache), so deno finds its cache without HOME. */
export function denoDir(): Record<string, string> {
  try {
    const dir = Deno.env.get("DENO_DIR");
    return dir ? { DENO_DIR: dir } : {};
  } catch {
    return {};
  }
}
