/**
 * For plugin tests: a plugin folder written from a code string, a host over a temp plugins
 * folder, and a bounded wait for a condition. Real processes, real files.
 */
import { createLogger, type Logger } from "../lib/log.ts";
import { installFromFolder } from "./install.ts";
import { PluginHost, type PluginHostOptions, type PluginStatus } from "./plugin_host.ts";

export const REPO = new URL("../../", import.meta.url).pathname;

/** Writes a plugin folder (plugin.json + main.ts); returns its path. */
export async function writePlugin(
  parent: string,
  manifest: Record<string, unknown>,
  main: string,
  extra: Record<string, string> = {},
): Promise<string> {
  const dir = `${parent}/src-${manifest.id}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/plugin.json`, JSON.stringify(manifest));
  await Deno.writeTextFile(`${dir}/main.ts`, main);
  for (const [name, text] of Object.entries(extra)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

/** A test plugin whose start() body is `body` (ctx in scope). */
export function pluginCode(body: string): string {
  return `import { definePlugin } from "nvr-plugin-sdk";
import manifest from "./plugin.json" with { type: "json" };
export const plugin = definePlugin({ manifest, async start(ctx) {
${body}
} });
`;
}

export function quietLog(lines: string[] = []): Logger {
  return createLogger({ level: "debug", sink: (l) => lines.push(l) });
}

/** Polls `check` every 50 ms until it returns a value, up to `ms` (generous: loaded machines). */
export async function waitFor<T>(
  what: string,
  check: () => T | null | undefined | false,
  ms = 60_000,
  explain?: () => string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) {
      const more = explain ? `\n${explain()}` : "";
      throw new Error(`timed out after ${ms} ms waiting for ${what}${more}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Installs the given source folders into a temp plugins folder and starts a host over it. */
export async function hostWith(
  root: string,
  sources: string[],
  options: Partial<PluginHostOptions> = {},
  settings: Record<string, Record<string, unknown>> = {},
): Promise<{ host: PluginHost; dir: string; status: (id: string) => PluginStatus | undefined }> {
  const dir = `${root}/plugins`;
  const ids: string[] = [];
  for (const s of sources) ids.push((await installFromFolder(s, dir)).id);
  const host = new PluginHost({
    log: quietLog(),
    dir,
    restartMs: [60_000],
    ...options,
  });
  await host.apply(Object.fromEntries(ids.map((id) => [id, {
    enabled: true,
    settings: settings[id] ?? {},
  }])));
  return { host, dir, status: (id) => host.statuses().find((s) => s.id === id) };
}

/** Removes a temp tree, read-only installed plugins included. */
export async function removeTree(root: string): Promise<void> {
  const writable = async (dir: string) => {
    await Deno.chmod(dir, 0o755).catch(() => {});
    for await (const e of Deno.readDir(dir)) if (e.isDirectory) await writable(`${dir}/${e.name}`);
  };
  await writable(root).catch(() => {});
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
