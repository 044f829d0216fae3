/**
 * The local HTTP API. Only liveness is served without authentication; everything else arrives
 * with users and roles (see issue 5).
 */
import { Hono } from "hono";

export interface ApiDeps {
  /** Seconds since the daemon started, for the liveness answer. */
  readonly uptimeSeconds: () => number;
}

export function createApp(deps: ApiDeps): Hono {
  const app = new Hono();
  // Liveness only: no detail about cameras or disks, since anyone on the LAN may ask.
  app.get("/healthz", (c) => c.json({ status: "ok", uptimeSeconds: deps.uptimeSeconds() }));
  app.notFound((c) => c.json({ error: { code: "not_found", message: "No such route" } }, 404));
  app.onError((err, c) => {
    return c.json({ error: { code: "internal", message: err.message } }, 500);
  });
  return app;
}
