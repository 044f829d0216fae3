/**
 * The local HTTP API. Liveness (/healthz) is served without authentication; the users/auth/audit
 * routes under /api (auth.ts) are mounted when `auth` deps are given.
 */
import { Hono } from "hono";
import { type AuthDeps, createAuthApp } from "./auth.ts";
import { handleApiError } from "./errors.ts";
import { audit, authenticate, canSeeCamera, requireRole } from "./auth_context.ts";
import { createRecordingsApp, type RecordingsDeps } from "./recordings.ts";
import { createSystemApp, type SystemDeps } from "./system.ts";
import { createWebApp } from "../web/mod.ts";
import { refusalLog } from "./refusal_log.ts";
import { lanGuard } from "./lan_guard.ts";

export interface ApiDeps {
  /** Seconds since the daemon started, for the liveness answer. */
  readonly uptimeSeconds: () => number;
  /** When given, the users/auth/audit API is served under /api (see auth.ts). */
  readonly auth?: AuthDeps;
  /** Cameras and recordings under /api, for signed-in users who may see each camera. */
  readonly recordings?: Omit<RecordingsDeps, "access">;
  /** Health, configuration and server-sent events under /api (see system.ts). */
  readonly system?: Omit<SystemDeps, "auth">;
  /**
   * The box's own names for `Host` and `Origin` (own_names.ts); default: localhost, 127.0.0.1
   * and ::1 only.
   */
  readonly allowedHosts?: () => ReadonlySet<string>;
}

const LOOPBACK: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "::1"]);

export function createApp(deps: ApiDeps): Hono {
  const app = new Hono();
  // First: DNS rebinding and cross-site posts are refused before any route sees them.
  app.use("*", lanGuard({ allowedHosts: deps.allowedHosts ?? (() => LOOPBACK) }));
  // Liveness only: no detail about cameras or disks, since anyone on the LAN may ask.
  app.get("/healthz", (c) => c.json({ status: "ok", uptimeSeconds: deps.uptimeSeconds() }));
  const auth = deps.auth;
  if (auth) {
    app.use("/api/*", refusalLog(auth));
    app.route("/api", createAuthApp(auth));
    if (deps.recordings) {
      const recordings = createRecordingsApp({
        ...deps.recordings,
        access: {
          requireUser: authenticate(auth),
          requireOperator: requireRole(auth, "admin", "operator"),
          audit: (c, action, target) => audit(auth, c, action, target, "ok"),
          canSee: (c, camera) => {
            const user = c.get("user") as Parameters<typeof canSeeCamera>[0] | undefined;
            return user !== undefined && canSeeCamera(user, camera);
          },
        },
      });
      recordings.onError(handleApiError);
      app.route("/api", recordings);
    }
    if (deps.system) app.route("/api", createSystemApp({ ...deps.system, auth }));
  }
  // The web page: static, public, all assets bundled (the LAN may have no internet).
  app.route("/", createWebApp());
  app.notFound((c) => c.json({ error: { code: "not_found", message: "No such route" } }, 404));
  app.onError(handleApiError);
  return app;
}
