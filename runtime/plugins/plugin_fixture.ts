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
      const told = explain ? explain() : [...liveHosts].map((h) => h()).join("\n");
      const more = told ? `\n${told}` : "";
      throw new Error(`timed out after ${ms} ms waiting for ${what}${more}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * What each host started by hostWith and not yet closed says when a wait times out: every
 * plugin's status and the host's last log lines, so a failure shows why (a watchdog kill, a
 * crash, a refused port) instead of only which wait ran out.
 */
const liveHosts = new Set<() => string>();

/** Installs the given source folders into a temp plugins folder and starts a host over it. */
export async function hostWith(
  root: string,
  sources: string[],
  options: Partial<PluginHostOptions> = {},
  settings: Record<string, Record<string, unknown>> = {},
): Promise<{
  host: PluginHost;
  dir: string;
  status: (id: string) => PluginStatus | undefined;
  /** The host's log lines (when the test passed no log of its own). */
  logs: string[];
}> {
  const dir = `${root}/plugins`;
  const ids: string[] = [];
  for (const s of sources) ids.push((await installFromFolder(s, dir)).id);
  const seen: string[] = [];
  const host = new PluginHost({ log: quietLog(seen), dir, restartMs: [60_000], ...options });
  // lastError carries a watchdog's or a crash's reason; the log is the host's own unless the
  // test passed one (then the test holds it).
  const explain = () =>
    `plugins: ${JSON.stringify(host.statuses().map((s) => ({ ...s, readings: undefined })))}` +
    (seen.length ? `\nhost log, last lines:\n  ${seen.slice(-30).join("\n  ")}` : "");
  liveHosts.add(explain);
  const close = host.close.bind(host);
  host.close = async () => {
    liveHosts.delete(explain);
    await close();
  };
  await host.apply(Object.fromEntries(ids.map((id) => [id, {
    enabled: true,
    settings: settings[id] ?? {},
  }])));
  return { host, dir, status: (id) => host.statuses().find((s) => s.id === id), logs: seen };
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
