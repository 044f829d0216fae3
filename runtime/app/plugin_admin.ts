/**
 * What the API routes (`/api/plugins`) and the fleet command `plugin` do to plugins, in one place:
 * install (an archive with its SHA-256, an archive downloaded over https with its size and
 * SHA-256, or a folder the image ships, by name), enable, disable, configure (through the one
 * config writer, `plugins.<id>`, checked against the manifest's schema) and remove.
 */
import type { NvrConfig, PluginConfig } from "../config/types.ts";
import { ConfigError } from "../config/validate.ts";
import { PluginRefused, type PluginView } from "../api/plugins_routes.ts";
import {
  ArchiveError,
  installFromArchive,
  installFromFolder,
  ManifestError,
  PluginCodeError,
  type PluginHost,
  readInstalled,
  removePlugin,
} from "../plugins/mod.ts";
import { MAX_ARCHIVE_BYTES } from "../plugins/install.ts";
import { downloadBundle, DownloadError } from "../update/download.ts";
import { type Json, type PluginCommand, ProtocolError } from "../fleet/mod.ts";

export interface PluginAdminDeps {
  readonly host: PluginHost;
  /** `<dataDir>/plugins`. */
  readonly dir: string;
  /** Folder of the plugins the image ships (installable by name). */
  readonly shippedDir: string;
  readonly config: () => NvrConfig;
  readonly updateConfig: (
    change: (current: NvrConfig) => NvrConfig | Promise<NvrConfig>,
  ) => Promise<NvrConfig>;
  /** CA files trusted for downloads besides the system's (the fleet's CA). */
  readonly caFiles?: readonly string[];
}

const ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

export class PluginAdminImpl {
  readonly #d: PluginAdminDeps;
  #installing: Promise<unknown> = Promise.resolve();
  constructor(deps: PluginAdminDeps) {
    this.#d = deps;
  }

  async list(): Promise<PluginView[]> {
    const { installed } = await readInstalled(this.#d.dir);
    const config = this.#d.config().plugins;
    return this.#d.host.statuses().map((s) => {
      const manifest = installed.find((m) => m.id === s.id);
      return {
        ...s,
        enabled: config[s.id]?.enabled ?? false,
        settings: config[s.id]?.settings ?? {},
        cameras: config[s.id]?.cameras ?? [],
        keepMinutes: config[s.id]?.keepMinutes ?? 0,
        schema: manifest?.settings ?? {},
        permissions: manifest?.permissions ?? { read: [], devices: [] },
      };
    });
  }

  installArchive(archive: Uint8Array, sha256: string): Promise<{ id: string; version: string }> {
    return this.#install(() => installFromArchive(archive, sha256, this.#d.dir));
  }

  installShipped(name: string): Promise<{ id: string; version: string }> {
    if (!ID.test(name)) {
      return Promise.reject(new PluginRefused("invalid", `'${name}' is not a plugin name`));
    }
    return this.#install(async () => {
      const folder = `${this.#d.shippedDir}/${name}`;
      if (!(await Deno.stat(folder).then((s) => s.isDirectory, () => false))) {
        throw new PluginRefused("not-found", `the image ships no plugin '${name}'`, "shipped");
      }
      return installFromFolder(folder, this.#d.dir);
    });
  }

  /** Downloads an archive (https only; size and SHA-256 checked) and installs it. */
  installUrl(
    ref: { url: string; size: number; sha256: string },
  ): Promise<{ id: string; version: string }> {
    if (ref.size > MAX_ARCHIVE_BYTES) {
      return Promise.reject(
        new PluginRefused("invalid", `size: at most ${MAX_ARCHIVE_BYTES} bytes for a plugin`),
      );
    }
    return this.#install(async () => {
      const dir = `${this.#d.dir}/.download`;
      try {
        const file = await downloadBundle(ref, {
          dir,
          attempts: 3,
          ...(this.#d.caFiles ? { caFiles: this.#d.caFiles } : {}),
        });
        return await installFromArchive(await Deno.readFile(file), ref.sha256, this.#d.dir);
      } catch (err) {
        if (err instanceof DownloadError) throw new PluginRefused("invalid", err.message);
        throw err;
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    });
  }

  async configure(
    id: string,
    change: {
      enabled?: boolean;
      settings?: Record<string, unknown>;
      cameras?: readonly string[];
      keepMinutes?: number;
    },
  ): Promise<PluginView> {
    const { installed } = await readInstalled(this.#d.dir);
    if (!installed.some((m) => m.id === id)) {
      throw new PluginRefused("not-found", `no plugin '${id}' is installed`);
    }
    try {
      await this.#d.updateConfig((cur) => {
        const was: PluginConfig = cur.plugins[id] ??
          { enabled: false, settings: {}, cameras: [], keepMinutes: 0 };
        // Checked with the rest of the configuration (config/validate.ts) before it applies.
        const entry = {
          enabled: change.enabled ?? was.enabled,
          settings: (change.settings ?? was.settings) as PluginConfig["settings"],
          cameras: change.cameras ?? was.cameras,
          keepMinutes: change.keepMinutes ?? was.keepMinutes,
        };
        return { ...cur, plugins: { ...cur.plugins, [id]: entry } };
      });
    } catch (err) {
      if (err instanceof ConfigError) {
        throw new PluginRefused("invalid", err.problems.join("; "), "settings");
      }
      throw err;
    }
    return (await this.list()).find((v) => v.id === id) ?? { id };
  }

  async remove(id: string): Promise<boolean> {
    if (!ID.test(id)) return false;
    const config = this.#d.config();
    if (config.plugins[id]) {
      await this.#d.updateConfig((cur) => {
        const { [id]: _gone, ...rest } = cur.plugins;
        return { ...cur, plugins: rest };
      });
    }
    const removed = await removePlugin(id, this.#d.dir);
    await this.#d.host.apply(this.#d.config().plugins);
    return removed;
  }

  /** The fleet's `plugin` command; a refusal is a ProtocolError "refused" naming why. */
  async command(command: PluginCommand): Promise<Json> {
    try {
      switch (command.action) {
        case "install":
          return { ...await this.installUrl(command) };
        case "enable":
        case "disable":
          await this.configure(command.id, { enabled: command.action === "enable" });
          return { id: command.id, enabled: command.action === "enable" };
        case "configure":
          await this.configure(command.id, { settings: command.settings });
          return { id: command.id, settings: { ...command.settings } };
        case "remove":
          if (!(await this.remove(command.id))) {
            throw new PluginRefused("not-found", `no plugin '${command.id}' is installed`);
          }
          return { id: command.id, removed: true };
      }
    } catch (err) {
      if (err instanceof PluginRefused) throw new ProtocolError("refused", err.message);
      throw err;
    }
  }

  /** One install at a time; the host then runs the new code as the config says. */
  #install(
    work: () => Promise<{ id: string; version: string }>,
  ): Promise<{ id: string; version: string }> {
    const run = this.#installing.then(async () => {
      let manifest;
      try {
        manifest = await work();
      } catch (err) {
        if (
          err instanceof ArchiveError || err instanceof ManifestError ||
          err instanceof PluginCodeError
        ) {
          throw new PluginRefused("invalid", err.message);
        }
        throw err;
      }
      await this.#d.host.apply(this.#d.config().plugins);
      return { id: manifest.id, version: manifest.version };
    });
    this.#installing = run.catch(() => {});
    return run;
  }
}
