/**
 * Sensor plugins for admins (`/api/plugins`): list them with their state and last readings,
 * install one (an uploaded tar(.gz) archive with its SHA-256, or by name a plugin folder the
 * image ships: never a path from the network), enable, disable, configure and remove. Every
 * change is audited; the daemon's `PluginAdmin` (app/plugin_admin.ts) does the work, through the
 * one config writer for `plugins.<id>`.
 */
import { type Context, Hono } from "hono";
import { audit, type AuthDeps, authenticate, type AuthEnv, requireRole } from "./auth_context.ts";
import { ApiError, jsonBodyLimit, readJsonObject } from "./errors.ts";

/** Why a plugin change was refused: "invalid" → 400, "not-found" → 404. */
export class PluginRefused extends Error {
  override name = "PluginRefused";
  constructor(readonly kind: "invalid" | "not-found", message: string, readonly field?: string) {
    super(message);
  }
}

/** What the page shows of one plugin. */
export type PluginView = Record<string, unknown> & { readonly id: string };

export interface PluginAdmin {
  list(): Promise<PluginView[]>;
  installArchive(archive: Uint8Array, sha256: string): Promise<{ id: string; version: string }>;
  /** A plugin folder the image ships, by its name (e.g. "serial-sensor"). */
  installShipped(name: string): Promise<{ id: string; version: string }>;
  /**
   * `enabled`, `settings` (the whole settings object), `cameras` (its alarms' cameras) and/or
   * `keepMinutes` of an installed plugin.
   */
  configure(
    id: string,
    change: {
      enabled?: boolean;
      settings?: Record<string, unknown>;
      cameras?: readonly string[];
      keepMinutes?: number;
    },
  ): Promise<PluginView>;
  /** Stops it, removes its folder and its config entry; false when it was not installed. */
  remove(id: string): Promise<boolean>;
}

/** An uploaded archive is at most 8 MiB; base64 in JSON makes it 4/3 of that, plus the rest. */
const INSTALL_BODY_BYTES = 12 * 1024 * 1024;
const ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

export function pluginRoutes(deps: { auth: AuthDeps; plugins: PluginAdmin }): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use("*", authenticate(deps.auth));
  const admin = requireRole(deps.auth, "admin");
  const { plugins } = deps;

  /** Runs a change, auditing it as `action` on `target`; maps refusals to 400/404. */
  const change = async <T>(
    c: Context<AuthEnv>,
    action: string,
    target: string,
    work: () => Promise<T>,
  ): Promise<T> => {
    try {
      const result = await work();
      audit(deps.auth, c, action, target, "ok");
      return result;
    } catch (err) {
      audit(deps.auth, c, action, target, "failed");
      if (err instanceof PluginRefused) {
        throw new ApiError(
          err.kind === "not-found" ? 404 : 400,
          err.kind === "not-found" ? "not_found" : "invalid_plugin",
          err.message,
          err.field,
        );
      }
      throw new ApiError(500, "plugin_failed", `The plugin was not changed: ${err}`);
    }
  };
  const idOf = (c: Context<AuthEnv>) => {
    const id = c.req.param("id") ?? "";
    if (!ID.test(id)) throw new ApiError(404, "not_found", `No plugin '${id}'`);
    return id;
  };

  app.get("/", admin, async (c) => c.json({ plugins: await plugins.list() }));

  app.post("/", admin, jsonBodyLimit(INSTALL_BODY_BYTES), async (c) => {
    const body = await readJsonObject(c);
    const { archive, sha256, shipped } = body;
    const unknown = Object.keys(body).filter((k) => !["archive", "sha256", "shipped"].includes(k));
    if (unknown.length > 0) {
      throw new ApiError(
        400,
        "invalid",
        `${unknown[0]}: unknown; give {archive (base64), sha256} or {shipped: "<name>"}`,
        unknown[0],
      );
    }
    if (typeof shipped === "string" && archive === undefined) {
      if (!ID.test(shipped)) {
        throw new ApiError(
          400,
          "invalid",
          `shipped: ${JSON.stringify(shipped)} is not the name of a plugin the image ships ` +
            "(a name, not a path)",
          "shipped",
        );
      }
      const installed = await change(
        c,
        "plugin.install",
        `shipped ${shipped}`,
        () => plugins.installShipped(shipped),
      );
      return c.json(installed, 201);
    }
    if (typeof archive !== "string" || typeof sha256 !== "string") {
      throw new ApiError(
        400,
        "invalid",
        "give {archive: <the tar or tar.gz file, base64>, sha256: <its SHA-256, hex>} or " +
          '{shipped: "<name>"}',
        "archive",
      );
    }
    let bytes: Uint8Array;
    try {
      bytes = Uint8Array.from(atob(archive), (ch) => ch.charCodeAt(0));
    } catch {
      throw new ApiError(400, "invalid", "archive: not base64", "archive");
    }
    const installed = await change(
      c,
      "plugin.install",
      `archive sha256 ${sha256.slice(0, 64)}`,
      () => plugins.installArchive(bytes, sha256),
    );
    return c.json(installed, 201);
  });

  app.put("/:id", admin, jsonBodyLimit(64 * 1024), async (c) => {
    const id = idOf(c);
    const body = await readJsonObject(c);
    const { enabled, settings, cameras, keepMinutes } = body;
    for (const key of Object.keys(body)) {
      if (!["enabled", "settings", "cameras", "keepMinutes"].includes(key)) {
        throw new ApiError(
          400,
          "invalid",
          `${key}: unknown; give enabled, settings, cameras and/or keepMinutes`,
          key,
        );
      }
    }
    // cameras and keepMinutes are checked with the whole configuration (unknown camera, range).
    if (cameras !== undefined && (!Array.isArray(cameras) || cameras.length > 64)) {
      throw new ApiError(400, "invalid", "cameras: give a list of camera ids", "cameras");
    }
    if (keepMinutes !== undefined && typeof keepMinutes !== "number") {
      throw new ApiError(
        400,
        "invalid",
        "keepMinutes: give a whole number of minutes",
        "keepMinutes",
      );
    }
    if (enabled !== undefined && typeof enabled !== "boolean") {
      throw new ApiError(400, "invalid", "enabled: give true or false", "enabled");
    }
    if (
      settings !== undefined &&
      (typeof settings !== "object" || settings === null || Array.isArray(settings))
    ) {
      throw new ApiError(400, "invalid", "settings: give an object of setting → value", "settings");
    }
    const action = enabled === true
      ? "plugin.enable"
      : enabled === false
      ? "plugin.disable"
      : "plugin.configure";
    const view = await change(c, action, `plugin ${id}`, () =>
      plugins.configure(id, {
        ...(enabled === undefined ? {} : { enabled }),
        ...(settings === undefined ? {} : { settings: settings as Record<string, unknown> }),
        ...(cameras === undefined ? {} : { cameras: cameras as string[] }),
        ...(keepMinutes === undefined ? {} : { keepMinutes: keepMinutes as number }),
      }));
    return c.json(view);
  });

  app.delete("/:id", admin, async (c) => {
    const id = idOf(c);
    const removed = await change(c, "plugin.remove", `plugin ${id}`, () => plugins.remove(id));
    if (!removed) throw new ApiError(404, "not_found", `No plugin '${id}' is installed`);
    return c.body(null, 204);
  });
  return app;
}
