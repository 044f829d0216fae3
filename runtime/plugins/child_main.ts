/**
 * The first module of every plugin process (started by host.ts with the manifest's permissions
 * only): closes what Deno's permissions do not, then loads the plugin and runs it.
 *
 * Deno does not check read permission when it loads a module, so `import("/etc/nvr/config.json",
 * { with: { type: "json" } })` would read any file (measured under Deno 2.9.6). The host refuses
 * plugin code with a dynamic `import(` or a static import outside the plugin folder before it
 * starts it (code_check.ts), V8 refuses code made from strings (`eval`, `new Function`), and here,
 * before any plugin code runs, `Worker` (which would load a module from a `data:` URL) is removed.
 *
 * Usage: deno run <sandbox flags> child_main.ts <file URL of the plugin's main module>
 */
import { runPlugin } from "./sdk.ts";

for (const name of ["Worker", "SharedWorker"]) {
  Object.defineProperty(globalThis, name, {
    value: undefined,
    writable: false,
    configurable: false,
  });
}

const main = Deno.args[0];
if (!main?.startsWith("file:///")) {
  throw new Error("child_main.ts: expected the file URL of the plugin's main module");
}
const mod = await import(main);
const plugin = mod.plugin;
if (typeof plugin?.start !== "function") {
  throw new Error(
    `${main} exports no plugin: export const plugin = definePlugin({ manifest, start })`,
  );
}
await runPlugin(plugin);
