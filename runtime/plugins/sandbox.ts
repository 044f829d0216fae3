/**
 * The `deno run` command line of a plugin process, from its manifest: reading its own folder and
 * the manifest's read paths, nothing else allowed; network, subprocesses, FFI, environment, system information, writes
 * and remote imports denied outright (a `--deny-*` wins over anything); no prompt; no config file,
 * lock file, npm or remote code (it never fetches anything); the V8 heap capped and code from
 * strings refused. Pure: tested by comparing argv.
 */
import type { Manifest } from "./manifest.ts";

/** The SDK the plugin imports as `nvr-plugin-sdk`. */
export const SDK_URL = new URL("./sdk.ts", import.meta.url).href;
/** The modules of the SDK a plugin's graph may contain besides its own folder. */
export const SDK_MODULES: readonly string[] = [
  SDK_URL,
  new URL("./protocol.ts", import.meta.url).href,
];
export const CHILD_MAIN = new URL("./child_main.ts", import.meta.url).href;

/** The import map every plugin gets: only the SDK's name. */
export function importMap(): string {
  return JSON.stringify({ imports: { "nvr-plugin-sdk": SDK_URL } });
}

export const DENIED_FLAGS: readonly string[] = [
  "--deny-net",
  "--deny-run",
  "--deny-ffi",
  "--deny-env",
  "--deny-sys",
  "--deny-write",
  "--deny-import",
];

/** Where the manifest's /sys paths are on this machine (tests: a fixture tree). */
export function readPaths(manifest: Manifest, sysRoot: string): string[] {
  const root = sysRoot.replace(/\/+$/, "");
  return manifest.permissions.read.map((p) => root + p.slice("/sys".length));
}

/** The arguments after the deno binary. `pluginDir` is the installed folder. */
export function sandboxArgs(manifest: Manifest, pluginDir: string, sysRoot = "/sys"): string[] {
  const main = new URL(manifest.main, `file://${pluginDir.replace(/\/*$/, "/")}`).href;
  // Its own folder too: child_main.ts loads the plugin with a computed import(), which Deno
  // checks against read permission (the folder is read-only and holds only the plugin).
  if (/[,\0]/.test(pluginDir + sysRoot)) {
    throw new RangeError(`${pluginDir}: a plugin folder's path may not hold a comma`);
  }
  const read = [pluginDir.replace(/\/+$/, ""), ...readPaths(manifest, sysRoot)];
  return [
    "run",
    "--no-prompt",
    "--no-config",
    "--no-lock",
    "--no-npm",
    "--no-remote",
    "--cached-only",
    "--no-check",
    `--import-map=data:application/json,${encodeURIComponent(importMap())}`,
    ...DENIED_FLAGS,
    `--allow-read=${read.join(",")}`,
    `--v8-flags=--max-old-space-size=${manifest.memoryMb},--disallow-code-generation-from-strings`,
    CHILD_MAIN,
    main,
  ];
}
