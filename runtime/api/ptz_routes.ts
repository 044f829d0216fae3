/**
 * Pan, tilt, zoom and presets of a camera (mounted at /api/cameras):
 *
 *   GET  /:camera/ptz                       presets and where the head points (page: show PTZ?)
 *   POST /:camera/ptz/move                  {pan?, tilt?, zoom?, timeoutMs?}: a continuous move
 *   POST /:camera/ptz/stop
 *   GET  /:camera/ptz/presets
 *   POST /:camera/ptz/presets               {name, preset?}: save here (a new one or over `preset`)
 *   POST /:camera/ptz/presets/:preset/goto
 *
 * Only operators and admins, and only for a camera they have (others get 404, as everywhere).
 * Every move, stop, go-to and save is in the audit log with its outcome; the bodies are read with
 * the same schema as the fleet `ptz` command (lib/ptz_request.ts).
 */
import { type Context, Hono } from "hono";
import type { NvrConfig } from "../config/types.ts";
import { type PtzRequest, readPtzRequest } from "../lib/ptz_request.ts";
import { PtzError, type PtzService } from "../onvif/ptz.ts";
import {
  audit,
  type AuthDeps,
  authenticate,
  type AuthEnv,
  canSeeCamera,
  requireRole,
} from "./auth_context.ts";
import { ApiError, readJsonObject } from "./errors.ts";

export interface PtzRoutesDeps {
  readonly auth: AuthDeps;
  readonly config: () => NvrConfig;
  /** Absent: every PTZ route answers 409 ptz_unavailable. */
  readonly ptz?: Pick<PtzService, "run" | "status"> | undefined;
}

/** Maps a PtzError to the API's answer. */
export function ptzApiError(err: unknown): ApiError {
  if (err instanceof PtzError) {
    switch (err.kind) {
      case "unknown-camera":
        return new ApiError(404, "not_found", err.message);
      case "no-onvif":
      case "no-ptz":
        return new ApiError(409, "ptz_unavailable", err.message);
      case "camera-failed":
        return new ApiError(502, "ptz_failed", err.message);
    }
  }
  return new ApiError(502, "ptz_failed", `PTZ failed: ${(err as Error)?.message ?? err}`);
}

export function ptzRoutes(deps: PtzRoutesDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use("*", authenticate(deps.auth));
  const operator = requireRole(deps.auth, "admin", "operator");

  // deno-lint-ignore no-explicit-any
  type C = Context<AuthEnv, any>;
  /** The camera of the path, when it exists and the user has it; 404 otherwise. */
  const camera = (c: C): string => {
    const id = c.req.param("camera") ?? "";
    const exists = deps.config().cameras.some((x) => x.id === id);
    if (!exists || !canSeeCamera(c.get("user"), id)) {
      audit(deps.auth, c, "ptz.denied", `camera:${id.slice(0, 64)}`, "denied");
      throw new ApiError(404, "not_found", `No camera '${id.slice(0, 64)}'`);
    }
    return id;
  };
  const service = () => {
    if (!deps.ptz) {
      throw new ApiError(409, "ptz_unavailable", "PTZ is not available on this box");
    }
    return deps.ptz;
  };
  const read = (action: string, fields: Record<string, unknown>): PtzRequest => {
    const r = readPtzRequest(action, fields);
    if (r.ok) return r.request;
    const first = r.errors[0]!;
    throw new ApiError(
      400,
      "invalid",
      r.errors.map((e) => `${e.field}: ${e.message}`).join("; "),
      first.field,
    );
  };
  /** Runs an audited request: every outcome is written, refusals included. */
  const act = async (c: C, id: string, req: PtzRequest, target = `camera:${id}`) => {
    const action = `ptz.${req.action}`;
    try {
      const result = await service().run(id, req);
      audit(deps.auth, c, action, target, "ok");
      return c.json({ camera: id, ...result });
    } catch (err) {
      audit(deps.auth, c, action, target, "failed");
      throw err instanceof ApiError ? err : ptzApiError(err);
    }
  };
  /** Reads the body, auditing a refused one as the action it tried. */
  const body = async (c: C, id: string, action: string, extra: Record<string, unknown> = {}) => {
    try {
      return read(action, { ...await readJsonObject(c), ...extra });
    } catch (err) {
      audit(deps.auth, c, `ptz.${action}`, `camera:${id}`, "denied");
      throw err;
    }
  };

  app.get("/:camera/ptz", operator, async (c) => {
    const id = camera(c);
    try {
      return c.json({ camera: id, ...await service().status(id) });
    } catch (err) {
      throw err instanceof ApiError ? err : ptzApiError(err);
    }
  });
  app.post("/:camera/ptz/move", operator, async (c) => {
    const id = camera(c);
    return await act(c, id, await body(c, id, "move"));
  });
  app.post("/:camera/ptz/stop", operator, async (c) => {
    const id = camera(c);
    return await act(c, id, { action: "stop" });
  });
  app.get("/:camera/ptz/presets", operator, async (c) => {
    const id = camera(c);
    try {
      return c.json({ camera: id, ...await service().run(id, { action: "presets" }) });
    } catch (err) {
      throw ptzApiError(err);
    }
  });
  app.post("/:camera/ptz/presets", operator, async (c) => {
    const id = camera(c);
    const req = await body(c, id, "save");
    return await act(c, id, req, `camera:${id} preset:${req.action === "save" ? req.name : ""}`);
  });
  app.post("/:camera/ptz/presets/:preset/goto", operator, async (c) => {
    const id = camera(c);
    const token = c.req.param("preset");
    let req: PtzRequest;
    try {
      req = read("goto", { preset: token });
    } catch (err) {
      audit(deps.auth, c, "ptz.goto", `camera:${id}`, "denied");
      throw err;
    }
    return await act(c, id, req, `camera:${id} preset:${token}`);
  });
  return app;
}

/** The ONVIF target of a configured camera: its onvif.url with the ONVIF or camera credentials. */
export function ptzTarget(
  config: NvrConfig,
  camera: string,
): { url: string; username: string | null; password: string | null } | null | undefined {
  const cam = config.cameras.find((c) => c.id === camera);
  if (cam === undefined) return undefined;
  if (!cam.onvif) return null;
  const own = cam.onvif.username !== null;
  return {
    url: cam.onvif.url,
    username: own ? cam.onvif.username : cam.username,
    password: own ? cam.onvif.password : cam.password,
  };
}
