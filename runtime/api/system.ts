/**
 * The box itself for the local API: `GET /api/health` (any signed-in user; cameras they may not
 * see are left out), `GET/PUT /api/config` (admins; secrets redacted on the way out, the same
 * validation as the config file on the way in, audited) and `GET /api/events`, server-sent
 * camera/recording/sensor events from the index as they happen, filtered by camera access and
 * resumable with `Last-Event-ID`, and `GET /api/events/recent`, the last events with the same
 * filter, for a page that opens with the history. Mounted by the daemon with
 * `app.route("/api", createSystemApp(deps))`.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import { analyticsConsentRoutes } from "./analytics_consent.ts";
import { cameraAdminRoutes } from "./camera_admin.ts";
import { type PluginAdmin, pluginRoutes } from "./plugins_routes.ts";
import { ptzRoutes, type PtzRoutesDeps } from "./ptz_routes.ts";
import { applyConfigChange, settingsRoutes } from "./settings_routes.ts";
import { remoteConfig } from "../config/remote_keys.ts";
import type { NvrConfig } from "../config/types.ts";
import { redactConfig } from "../fleet/redact.ts";
import type { Health } from "../health/types.ts";
import type { EventRecord, SegmentIndex } from "../storage/mod.ts";
import type { User } from "../users/user_store.ts";
import {
  type AuthDeps,
  authenticate,
  type AuthEnv,
  canSeeCamera,
  requireRole,
  settings,
} from "./auth_context.ts";
import { ApiError, handleApiError, jsonBodyLimit } from "./errors.ts";

export interface SystemDeps {
  /** Users, sessions and the audit log (the same deps as the auth routes). */
  readonly auth: AuthDeps;
  /** One health sample (collectHealth with the recorder's camera statuses). */
  readonly health: () => Promise<Health>;
  /** The configuration running now. */
  readonly config: () => NvrConfig;
  /**
   * The daemon's: runs `change` on the configuration in the file under one lock, writes the
   * result, restarts the recorders and tells the fleet. Errors thrown by `change` pass through.
   */
  readonly updateConfig: (
    change: (current: NvrConfig) => NvrConfig | Promise<NvrConfig>,
  ) => Promise<NvrConfig>;
  readonly index: () => SegmentIndex;
  /** Pan/tilt/zoom of ONVIF cameras (`/api/cameras/:camera/ptz…`); absent: refused. */
  readonly ptz?: PtzRoutesDeps["ptz"] | undefined;
  /** Sensor plugins (`/api/plugins`); absent: those routes are not served. */
  readonly plugins?: PluginAdmin;
  /** How often the event stream looks for new events; default 1000 ms. */
  readonly eventPollMs?: number;
  /** Keep-alive comment on an idle event stream every this many ms; default 15 000. */
  readonly keepAliveMs?: number;
}

/** How many events `GET /api/events/recent` answers by default, and at most. */
export const EVENT_HISTORY_DEFAULT = 100;
export const EVENT_HISTORY_MAX = 500;
/** How far back a `Last-Event-ID` resume looks for missed events. */
export const EVENT_RESUME_WINDOW_MS = 3600_000;
/** Events are stamped by the writer's clock when written; this covers a late write. */
const EVENT_SLACK_MS = 60_000;
const FAR_FUTURE_MS = 8.64e15;

export function createSystemApp(deps: SystemDeps): Hono<AuthEnv> {
  const s = settings(deps.auth);
  const app = new Hono<AuthEnv>();
  app.onError(handleApiError);
  const check = authenticate(deps.auth);
  // Mounted after the auth routes, whose `authenticate` (CSRF included) already ran for /api/*:
  // one session lookup per request is enough.
  const signedIn: MiddlewareHandler<AuthEnv> = async (c, next) =>
    c.get("user") === undefined ? await check(c, next) : await next();
  const admin = requireRole(deps.auth, "admin");

  app.route("/cameras", cameraAdminRoutes(deps));
  app.route("/cameras", ptzRoutes(deps));
  app.route("/analytics", analyticsConsentRoutes(deps));
  app.route("/settings", settingsRoutes(deps));
  if (deps.plugins) app.route("/plugins", pluginRoutes({ auth: deps.auth, plugins: deps.plugins }));

  app.get("/health", signedIn, async (c) => {
    const user = c.get("user");
    const health = await deps.health();
    return c.json({ ...health, cameras: health.cameras.filter((h) => canSeeCamera(user, h.id)) });
  });

  app.get("/config", signedIn, admin, (c) => c.json({ config: redactConfig(deps.config()) }));

  app.put(
    "/config",
    signedIn,
    admin,
    jsonBodyLimit(s.maxBodyBytes),
    async (c) => {
      let raw: unknown;
      try {
        raw = await c.req.json();
      } catch {
        throw new ApiError(
          400,
          "invalid_json",
          "The request body must be the configuration (JSON)",
        );
      }
      // Only the keys of config/remote_keys.ts may change; secrets shown redacted stay as they were.
      return await applyConfigChange(deps, c, (current) =>
        remoteConfig(raw, current, {
          by: "through the API",
          source: "the configuration sent to PUT /api/config",
          markerFrom: "GET /api/config",
        }));
    },
  );

  // The recent history, so the events page opens with what happened before it was opened.
  app.get("/events/recent", signedIn, (c) => {
    const user = c.get("user");
    const raw = c.req.query("limit") ?? String(EVENT_HISTORY_DEFAULT);
    const limit = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
    if (!(limit >= 1 && limit <= EVENT_HISTORY_MAX)) {
      throw new ApiError(
        400,
        "bad_limit",
        `limit must be a whole number from 1 to ${EVENT_HISTORY_MAX}; got '${raw}'`,
      );
    }
    const cameras = user.role === "admin" ? undefined : user.cameras;
    const events = deps.index().recentEvents(limit, cameras).filter((e) => canSeeEvent(user, e));
    return c.json({ events });
  });

  app.get("/events", signedIn, (c) => {
    const user = c.get("user");
    const resumeRaw = c.req.header("Last-Event-ID");
    const resumeFrom = resumeRaw !== undefined && /^\d{1,15}$/.test(resumeRaw)
      ? Number(resumeRaw)
      : null;
    return streamSSE(c, async (stream) => {
      await streamEvents(stream, deps, user, resumeFrom, s.now);
    });
  });

  return app;
}

/** Whether `user` may see an event: box-wide events (camera null) everyone, else by camera. */
export function canSeeEvent(user: User, event: EventRecord): boolean {
  return event.camera === null || canSeeCamera(user, event.camera);
}

async function streamEvents(
  stream: SSEStreamingApi,
  deps: SystemDeps,
  user: User,
  resumeFrom: number | null,
  now: () => number,
): Promise<void> {
  const pollMs = deps.eventPollMs ?? 1000;
  const keepAliveMs = deps.keepAliveMs ?? 15_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  stream.onAbort(() => {
    clearTimeout(timer);
    wake?.();
  });
  const pause = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, pollMs);
    });

  const connected = now();
  let since = connected - (resumeFrom === null ? EVENT_SLACK_MS : EVENT_RESUME_WINDOW_MS);
  let last = resumeFrom ??
    Math.max(0, ...deps.index().events(since, FAR_FUTURE_MS).map((e) => e.id));
  let quietSince = connected;
  await stream.writeSSE({ event: "ready", data: JSON.stringify({ lastEventId: last }) });
  while (!stream.aborted && !stream.closed) {
    const fresh = deps.index().events(since, FAR_FUTURE_MS).filter((e) => e.id > last);
    for (const event of fresh) {
      last = Math.max(last, event.id);
      if (!canSeeEvent(user, event)) continue;
      await stream.writeSSE({ id: String(event.id), data: JSON.stringify(event) });
      quietSince = now();
    }
    if (now() - quietSince >= keepAliveMs) {
      await stream.write(": keep-alive\n\n");
      quietSince = now();
    }
    // Keep the query small: only the last minute (plus anything newer) from now on.
    since = Math.max(since, now() - EVENT_SLACK_MS);
    if (stream.aborted) break;
    await pause();
  }
}
