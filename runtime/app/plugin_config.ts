/**
 * The `plugins` config section checked at apply time: each changed entry's settings against the
 * schema in the installed plugin's manifest (config/validate.ts checks only the shape, since the
 * schema lives with the plugin). An entry for a plugin that is not installed is kept unchecked:
 * the host ignores it until the plugin is installed, and checks it then.
 */
import type { PluginConfig } from "../config/types.ts";
import { ConfigError } from "../config/validate.ts";
import { readInstalled, resolveSettings } from "../plugins/mod.ts";

/** One message per changed plugin entry whose settings its manifest refuses. */
export async function pluginSettingProblems(
  current: Readonly<Record<string, PluginConfig>>,
  next: Readonly<Record<string, PluginConfig>>,
  pluginsDir: string,
): Promise<string[]> {
  const changed = Object.entries(next).filter(([id, entry]) =>
    JSON.stringify(entry) !== JSON.stringify(current[id])
  );
  if (changed.length === 0) return [];
  const { installed } = await readInstalled(pluginsDir);
  const problems: string[] = [];
  for (const [id, entry] of changed) {
    const manifest = installed.find((m) => m.id === id);
    if (!manifest) continue;
    try {
      resolveSettings(manifest, entry.settings);
    } catch (err) {
      problems.push(`plugins.${id}.settings: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Throws ConfigError naming each refused plugin setting; returns `next` otherwise. */
export async function checkPluginSettings<T extends { plugins: Record<string, PluginConfig> }>(
  current: T,
  next: T,
  pluginsDir: string,
): Promise<T> {
  const problems = await pluginSettingProblems(current.plugins, next.plugins, pluginsDir);
  if (problems.length > 0) throw new ConfigError("the plugins' settings", problems);
  return next;
}
