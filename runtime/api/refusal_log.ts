/**
 * Every refused /api request goes to the audit log (who if known, what, from where, which
 * browser): anonymous probes, path-traversal and injection attempts answered 400/404, oversized
 * bodies, rate limits; a signed-in user's 409 (a state answer, not an attack) is left out. A budget per address keeps a LAN scan from flooding the log: past it, one
 * "request.refused.suppressed" line per address and hour says how many were left out. The budget
 * is kept in the audit database, so a restart does not give a scanner a fresh one.
 */
import type { MiddlewareHandler } from "hono";
import type { RefusalBudget } from "../audit/audit_log.ts";
import { type AuthDeps, clientIp, settings, userAgent } from "./auth_context.ts";

const REFUSED = new Set([400, 401, 403, 404, 405, 409, 413, 429]);
/**
 * 409 answers "not in this state" (a camera without PTZ, an email already taken) to a signed-in
 * user who may ask: not a security event, and the page's own requests would fill the log (each
 * visit to a camera without PTZ did). Anonymous 409s (setup again, an invitation used twice) stay.
 */
const ROUTINE_WHEN_SIGNED_IN = new Set([409]);
const PER_ADDRESS_PER_HOUR = 60;
const HOUR_MS = 3600_000;

export function refusalLog(deps: AuthDeps): MiddlewareHandler {
  const now = settings(deps).now;
  return async (c, next) => {
    await next();
    const status = c.res.status;
    if (!REFUSED.has(status)) return;
    if (ROUTINE_WHEN_SIGNED_IN.has(status) && c.get("user") !== undefined) return;
    const ip = clientIp(deps, c);
    const t = now();
    let slot: RefusalBudget | null = null;
    try {
      slot = deps.audit.refusalBudget(ip);
    } catch { /* the audit log is unavailable: a fresh budget */ }
    if (!slot || t - slot.windowStart > HOUR_MS) {
      if (slot && slot.suppressed > 0) {
        record(deps, ip, c, "request.refused.suppressed", `${slot.suppressed} more`, t);
      }
      slot = { windowStart: t, used: 0, suppressed: 0 };
    }
    const over = slot.used >= PER_ADDRESS_PER_HOUR;
    const next_ = over
      ? { ...slot, suppressed: slot.suppressed + 1 }
      : { ...slot, used: slot.used + 1 };
    try {
      deps.audit.saveRefusalBudget(ip, next_);
    } catch { /* the audit log is unavailable (full disk): the refusal itself stands */ }
    if (over) return;
    const path = c.req.path.slice(0, 200);
    record(deps, ip, c, "request.refused", `${c.req.method} ${path} → ${status}`, t);
  };
}

function record(
  deps: AuthDeps,
  ip: string,
  c: Parameters<MiddlewareHandler>[0],
  action: string,
  target: string,
  tsMs: number,
): void {
  const user = c.get("user") as { id: number; name: string } | undefined;
  try {
    deps.audit.record({
      userId: user?.id ?? null,
      userName: user?.name ?? null,
      action,
      target,
      ip,
      userAgent: userAgent(c),
      outcome: "denied",
      tsMs,
    });
  } catch { /* the audit log is unavailable; the refusal itself stands */ }
}
