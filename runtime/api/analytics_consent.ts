/**
 * Analytics consent, given only here: an admin on the local page reads the notice and switches
 * anonymous usage statistics on or off (`GET/PUT /api/analytics/consent`). Each decision is in
 * the audit log with who, when and which notice version; the fleet and `PUT /api/config` cannot
 * change `analytics.enabled` (config/remote_keys.ts).
 */
import { type Context, Hono } from "hono";
import type { NvrConfig } from "../config/types.ts";
import { audit, type AuthDeps, authenticate, type AuthEnv, requireRole } from "./auth_context.ts";
import { ApiError, readJsonObject } from "./errors.ts";

/** The notice an admin agrees to. A new text gets a new version; consent names the version. */
export const ANALYTICS_NOTICE = {
  version: "2026-12-1",
  text: "With your consent this box sends anonymous usage statistics once a day to the fleet " +
    "(nvr/v1/analytics): counts only — cameras by kind and codec, commands and events by name, " +
    "queue drops, the software version and uptime in days. No names, addresses, URLs, " +
    "recordings, pictures or the device id leave the box for this; the install is counted " +
    "under a random salted hash. You can withdraw consent here at any time.",
} as const;

export interface ConsentDeps {
  readonly auth: AuthDeps;
  readonly config: () => NvrConfig;
  readonly updateConfig: (
    change: (current: NvrConfig) => NvrConfig | Promise<NvrConfig>,
  ) => Promise<NvrConfig>;
}

export function analyticsConsentRoutes(deps: ConsentDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use("*", authenticate(deps.auth));
  const admin = requireRole(deps.auth, "admin");
  const state = (enabled: boolean) => ({ enabled, notice: ANALYTICS_NOTICE });

  app.get("/consent", admin, (c) => c.json(state(deps.config().analytics.enabled)));

  app.put("/consent", admin, async (c: Context<AuthEnv>) => {
    const body = await readJsonObject(c);
    const { enabled, noticeVersion } = body;
    if (typeof enabled !== "boolean") {
      throw new ApiError(400, "invalid", "enabled: give true or false", "enabled");
    }
    if (enabled && noticeVersion !== ANALYTICS_NOTICE.version) {
      throw new ApiError(
        409,
        "notice_changed",
        `noticeVersion: consent is to notice ${ANALYTICS_NOTICE.version}; read it ` +
          "(GET /api/analytics/consent) and send its version",
        "noticeVersion",
      );
    }
    const action = enabled ? "analytics.consent" : "analytics.withdraw";
    const target = `analytics notice ${ANALYTICS_NOTICE.version}`;
    try {
      const next = await deps.updateConfig((cur) => ({ ...cur, analytics: { enabled } }));
      audit(deps.auth, c, action, target, "ok");
      return c.json(state(next.analytics.enabled));
    } catch (err) {
      audit(deps.auth, c, action, target, "failed");
      throw new ApiError(
        500,
        "apply_failed",
        `Consent was not recorded: ${(err as Error).message}`,
      );
    }
  });
  return app;
}
