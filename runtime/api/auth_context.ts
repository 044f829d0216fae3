/**
 * What the auth routes share: the dependencies to inject, the per-request variables, the
 * authenticate/CSRF middleware, `requireRole` and `canSeeCamera` for the routes that come later.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { AuditLog, AuditOutcome } from "../audit/audit_log.ts";
import type { User, UserStore } from "../users/user_store.ts";
import type { Role } from "../users/validate.ts";
import { ApiError } from "./errors.ts";

export interface AuthDeps {
  readonly users: UserStore;
  readonly audit: AuditLog;
  /** Receives `suspicious-login` (and later other) events, e.g. to forward to the fleet. */
  readonly onEvent?: (kind: string, detail: Record<string, unknown>) => void;
  /** Secure cookie flag: true, false (plain-http LAN), or "auto" = when the request is https. */
  readonly secureCookies?: boolean | "auto";
  /** Client address; default: Deno.serve's remoteAddr passed as Hono's env, else "unknown". */
  readonly clientIp?: (c: Context) => string;
  readonly now?: () => number;
  readonly sessionTtlMs?: number;
  readonly maxFailuresPerUser?: number;
  readonly lockoutMs?: number;
  readonly maxFailuresPerIp?: number;
  readonly ipWindowMs?: number;
  readonly maxBodyBytes?: number;
}

export interface AuthVariables {
  user: User;
  /** The session token when the request came with the cookie; null for a Bearer token. */
  sessionToken: string | null;
}

export type AuthEnv = { Variables: AuthVariables };

export const SESSION_COOKIE = "nvr_session";
export const CSRF_HEADER = "X-CSRF-Token";

export interface AuthSettings {
  readonly now: () => number;
  readonly sessionTtlMs: number;
  readonly maxFailuresPerUser: number;
  readonly lockoutMs: number;
  readonly maxFailuresPerIp: number;
  readonly ipWindowMs: number;
  readonly maxBodyBytes: number;
}

/** Limits with their defaults filled in. */
export function settings(deps: AuthDeps): AuthSettings {
  return {
    now: deps.now ?? Date.now,
    sessionTtlMs: deps.sessionTtlMs ?? 7 * 86_400_000,
    maxFailuresPerUser: deps.maxFailuresPerUser ?? 5,
    lockoutMs: deps.lockoutMs ?? 15 * 60_000,
    maxFailuresPerIp: deps.maxFailuresPerIp ?? 20,
    ipWindowMs: deps.ipWindowMs ?? 15 * 60_000,
    maxBodyBytes: deps.maxBodyBytes ?? 64 * 1024,
  };
}

export function clientIp(deps: AuthDeps, c: Context): string {
  if (deps.clientIp) return deps.clientIp(c);
  const env = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return env?.remoteAddr?.hostname ?? "unknown";
}

export function userAgent(c: Context): string {
  return (c.req.header("User-Agent") ?? "").slice(0, 512);
}

/** The CSRF token of a session: derived from the secret session id, so nothing to store. */
export function csrfFor(sessionToken: string): string {
  return createHash("sha256").update(`csrf:${sessionToken}`).digest("base64url");
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Writes an audit entry for the request's user (or `who`), IP and browser. */
export function audit(
  deps: AuthDeps,
  c: Context,
  action: string,
  target: string,
  outcome: AuditOutcome,
  who?: { id: number; name: string } | null,
): void {
  const user = who === undefined ? (c.get("user") as User | undefined) : who;
  deps.audit.record({
    userId: user?.id ?? null,
    userName: user?.name ?? null,
    action,
    target,
    ip: clientIp(deps, c),
    userAgent: userAgent(c),
    outcome,
    tsMs: settings(deps).now(),
  });
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Resolves the user from `Authorization: Bearer <api token>` or the session cookie; 401 without
 * either. Cookie-authenticated state-changing requests must carry the session's CSRF token.
 */
export function authenticate(deps: AuthDeps): MiddlewareHandler<AuthEnv> {
  const { now } = settings(deps);
  return async (c, next) => {
    // Sub-apps mounted under one /api each authenticate; the first one's answer stands.
    if (c.get("user") !== undefined) return await next();
    const auth = c.req.header("Authorization");
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      const user = m?.[1] ? deps.users.userByToken(m[1], now()) : null;
      if (!user) throw new ApiError(401, "unauthenticated", "Invalid or revoked API token");
      c.set("user", user);
      c.set("sessionToken", null);
      return await next();
    }
    const token = getCookie(c, SESSION_COOKIE);
    const user = token ? deps.users.userBySession(token, now()) : null;
    if (!token || !user) {
      throw new ApiError(401, "unauthenticated", "Log in first (POST /api/auth/login)");
    }
    c.set("user", user);
    c.set("sessionToken", token);
    if (!SAFE_METHODS.has(c.req.method)) {
      const sent = c.req.header(CSRF_HEADER) ?? "";
      if (!sameSecret(sent, csrfFor(token))) {
        audit(deps, c, "csrf.refused", `${c.req.method} ${c.req.path}`, "denied");
        throw new ApiError(
          403,
          "csrf",
          `Missing or wrong ${CSRF_HEADER} header; use the csrfToken from login or GET /api/me`,
        );
      }
    }
    return await next();
  };
}

/** Lets only the given roles through; a refusal is written to the audit log. */
export function requireRole(deps: AuthDeps, ...roles: Role[]): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const user = c.get("user");
    if (!roles.includes(user.role)) {
      audit(deps, c, "access.denied", `${c.req.method} ${c.req.path}`, "denied");
      throw new ApiError(403, "forbidden", `This needs the role ${roles.join(" or ")}`);
    }
    return await next();
  };
}

/** Admins see every camera; operators and viewers only those on their list. */
export function canSeeCamera(user: User, cameraId: string): boolean {
  return user.role === "admin" || user.cameras.includes(cameraId);
}
