/** The audit log for admins: `GET /api/audit?from=&to=&user=&action=&limit=` and its export. */
import type { Context } from "hono";
import { Hono } from "hono";
import type { AuditQuery } from "../audit/audit_log.ts";
import { MAX_AUDIT_LIMIT } from "../audit/audit_log.ts";
import { FieldError } from "../users/validate.ts";
import { audit, type AuthDeps, type AuthEnv, requireRole } from "./auth_context.ts";

function intParam(c: Context, key: string, min: number, max: number): number | undefined {
  const raw = c.req.query(key);
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new FieldError(key, `must be a whole number from ${min} to ${max}`);
  }
  return n;
}

function parseQuery(c: Context): AuditQuery {
  const known = ["from", "to", "user", "action", "limit"];
  for (const key of Object.keys(c.req.query())) {
    if (!known.includes(key)) throw new FieldError(key, `unknown filter; use ${known.join(", ")}`);
  }
  const q: { -readonly [K in keyof AuditQuery]: AuditQuery[K] } = {};
  const from = intParam(c, "from", 0, Number.MAX_SAFE_INTEGER);
  const to = intParam(c, "to", 0, Number.MAX_SAFE_INTEGER);
  const user = intParam(c, "user", 1, Number.MAX_SAFE_INTEGER);
  const limit = intParam(c, "limit", 1, MAX_AUDIT_LIMIT);
  const action = c.req.query("action");
  if (from !== undefined) q.from = from;
  if (to !== undefined) q.to = to;
  if (user !== undefined) q.user = user;
  if (limit !== undefined) q.limit = limit;
  if (action) {
    if (action.length > 64) throw new FieldError("action", "must be at most 64 characters");
    q.action = action;
  }
  return q;
}

export function auditRoutes(deps: AuthDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use("*", requireRole(deps, "admin"));
  app.get("/", (c) => c.json({ entries: deps.audit.list(parseQuery(c)) }));
  app.get("/export", (c) => {
    const q = parseQuery(c);
    audit(deps, c, "audit.export", "", "ok");
    c.header("Content-Disposition", 'attachment; filename="audit.json"');
    c.header("Content-Type", "application/json");
    return c.body(deps.audit.exportJson(q));
  });
  return app;
}
