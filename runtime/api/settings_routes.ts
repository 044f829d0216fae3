/**
 * The Settings form's API (admins): `GET /api/settings/schema`, what the form may edit
 * (config/settings_schema.ts: exactly the allowlisted keys, with types, bounds, defaults, values
 * now and descriptions), and `PATCH /api/settings`, only the changed keys, applied to the running
 * configuration under the config file's lock and validated like `PUT /api/config` (remoteConfig
 * stays the authority; each problem comes back with the form's key). Both changes audited as
 * `config.change`. Mounted by system.ts with `app.route("/settings", settingsRoutes(deps))`.
 */
import { type Context, Hono } from "hono";
import { ConfigError } from "../config/validate.ts";
import { remoteConfig } from "../config/remote_keys.ts";
import { formKey, settingsChange, settingsSchema } from "../config/settings_schema.ts";
import type { NvrConfig } from "../config/types.ts";
import { redactConfig } from "../fleet/redact.ts";
import { audit, type AuthDeps, authenticate, type AuthEnv, requireRole } from "./auth_context.ts";
import { ApiError, handleApiError, jsonBodyLimit, type Problem, readJsonObject } from "./errors.ts";

export interface ConfigChangeDeps {
  readonly auth: AuthDeps;
  readonly config: () => NvrConfig;
  /** The daemon's: runs `change` under the config file's lock, writes and applies the result. */
  readonly updateConfig: (
    change: (current: NvrConfig) => NvrConfig | Promise<NvrConfig>,
  ) => Promise<NvrConfig>;
}

/** A PATCH body of every form field of 64 cameras is about 40 KiB. */
const SETTINGS_BODY_BYTES = 256 * 1024;

export function settingsRoutes(deps: ConfigChangeDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.onError(handleApiError);
  app.use("*", authenticate(deps.auth));
  const admin = requireRole(deps.auth, "admin");

  app.get("/schema", admin, (c) => c.json(settingsSchema(deps.config())));

  app.patch("/", admin, jsonBodyLimit(SETTINGS_BODY_BYTES), async (c) => {
    const body = await readJsonObject(c);
    const unknown = Object.keys(body).filter((k) => k !== "changes");
    if (unknown.length > 0) {
      throw new ApiError(400, "invalid", `${unknown[0]}: unknown; send { "changes": {…} }`);
    }
    const source = "the settings sent to PATCH /api/settings";
    return await applyConfigChange(
      deps,
      c,
      (current) =>
        remoteConfig(settingsChange(body.changes, current, source), current, {
          by: "through the API",
          source,
          markerFrom: "GET /api/config",
        }),
      formKey,
    );
  });
  return app;
}

/**
 * Runs `build` on the running configuration under the config file's lock and applies its result;
 * a ConfigError is a 400 `invalid_config` naming each key (as `fieldOf` names it for the caller)
 * and changes nothing. Audited either way.
 */
export async function applyConfigChange(
  deps: ConfigChangeDeps,
  c: Context<AuthEnv>,
  build: (current: NvrConfig) => NvrConfig,
  fieldOf: (key: string, cameras: NvrConfig["cameras"]) => string = (key) => key,
): Promise<Response> {
  const refuse = (problems: readonly string[], current: NvrConfig): never => {
    audit(deps.auth, c, "config.change", "config", "failed");
    const listed: Problem[] = problems.map((p) => {
      const colon = p.indexOf(": ");
      return colon > 0
        ? { field: fieldOf(p.slice(0, colon), current.cameras), message: p.slice(colon + 2) }
        : { message: p };
    });
    throw new ApiError(
      400,
      "invalid_config",
      `The configuration was not changed: ${problems.join("; ")}`,
      listed[0]?.field,
      listed,
    );
  };
  let config: NvrConfig;
  try {
    config = await deps.updateConfig((current) => {
      try {
        return build(current);
      } catch (err) {
        if (err instanceof ConfigError) return refuse(err.problems, current);
        throw err;
      }
    });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    audit(deps.auth, c, "config.change", "config", "failed");
    throw new ApiError(
      500,
      "apply_failed",
      `The configuration is valid but could not be applied: ${(err as Error).message}`,
    );
  }
  audit(deps.auth, c, "config.change", "config", "ok");
  return c.json({ config: redactConfig(config) });
}
