/**
 * What the auth routes share: the dependencies to inject, the per-request variables, the
 * authenticate/CSRF middleware, `requireRole` and `canSeeCamera` for the routes that come later.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { AuditLog, AuditOutcome } from "../audit/audit_log.ts";
import type { TokenScope, User, UserStore } from "../users/user_store.ts";
import type { Role } from "../users/validate.ts";
import { LoginThrottle } from "../users/login_throttle.ts";
import { isDiskFull } from "../storage/disk_space.ts";
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
  /** Wrong passwords for one account from one address before the delay starts; default 3. */
  readonly freeFailuresPerAccount?: number;
  /** Failures of any kind from one address before the delay starts; default 20. */
  readonly freeFailuresPerIp?: number;
  /** The first delay, doubled with each further failure; default 1 s. */
  readonly throttleBaseMs?: number;
  /** The longest delay; default 15 min. */
  readonly throttleMaxMs?: number;
  readonly maxBodyBytes?: number;
  /** The one-time code that first-run setup needs; without it setup is refused. */
  readonly setupCode?: SetupCodeCheck | null;
}

/** What the setup route needs of the one-time setup code (users/setup_code.ts). */
export interface SetupCodeCheck {
  /** Constant-time comparison with the code. */
  matches(code: string): boolean;
  /** Setup is done: the code is used up (its file deleted). */
  consume(): Promise<void>;
}

export interface AuthVariables {
  user: User;
  /** The session token when the request came with the cookie; null for a Bearer token. */
  sessionToken: string | null;
  /** The API token's scope for a Bearer request; null for a cookie session. */
  tokenScope: TokenScope | null;
}

export type AuthEnv = { Variables: AuthVariables };

export const SESSION_COOKIE = "nvr_session";
export const CSRF_HEADER = "X-CSRF-Token";

export interface AuthSettings {
  readonly now: () => number;
  readonly sessionTtlMs: number;
  readonly maxBodyBytes: number;
  /** Guesses per account and address (`login:<email>|<ip>`, `setup|<ip>`). */
  readonly accountThrottle: LoginThrottle;
  /** Failures of any kind per address (`ip:<ip>`). */
  readonly ipThrottle: LoginThrottle;
}

// One set of throttles per deps object, shared by every route built from it.
const THROTTLES = new WeakMap<AuthDeps, { account: LoginThrottle; ip: LoginThrottle }>();

/** Limits with their defaults filled in. */
export function settings(deps: AuthDeps): AuthSettings {
  let throttles = THROTTLES.get(deps);
  if (!throttles) {
    const baseMs = deps.throttleBaseMs ?? 1000;
    const maxMs = deps.throttleMaxMs ?? 15 * 60_000;
    throttles = {
      account: new LoginThrottle({ free: deps.freeFailuresPerAccount ?? 3, baseMs, maxMs }),
      ip: new LoginThrottle({ free: deps.freeFailuresPerIp ?? 20, baseMs, maxMs }),
    };
    THROTTLES.set(deps, throttles);
  }
  return {
    now: deps.now ?? Date.now,
    sessionTtlMs: deps.sessionTtlMs ?? 7 * 86_400_000,
    maxBodyBytes: deps.maxBodyBytes ?? 64 * 1024,
    accountThrottle: throttles.account,
    ipThrottle: throttles.ip,
  };
}

/**
 * Reserves one attempt for the address and, when given, the account (or setup) key; a throttled
 * attempt is answered 429 with Retry-After, the same whoever is asked about.
 */
export function reserveAttempt(
  deps: AuthDeps,
  c: Context,
  accountKey: string | null,
): void {
  const s = settings(deps);
  const now = s.now();
  const ip = clientIp(deps, c);
  const waitIp = s.ipThrottle.waitMs(`ip:${ip}`, now);
  const waitAccount = accountKey ? s.accountThrottle.waitMs(accountKey, now) : 0;
  const wait = Math.max(waitIp, waitAccount);
  if (wait === 0) {
    s.ipThrottle.reserve([`ip:${ip}`], now);
    if (accountKey) s.accountThrottle.reserve([accountKey], now);
    return;
  }
  const seconds = Math.max(1, Math.ceil(wait / 1000));
  c.header("Retry-After", String(seconds));
  throw new ApiError(
    429,
    "rate_limited",
    `Too many failed attempts; try again in ${seconds} s`,
  );
}

/** The attempt succeeded: the account key starts again, the address gets its attempt back. */
export function attemptSucceeded(deps: AuthDeps, c: Context, accountKey: string | null): void {
  const s = settings(deps);
  s.ipThrottle.release(`ip:${clientIp(deps, c)}`);
  if (accountKey) s.accountThrottle.clear(accountKey);
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
  bestEffort("audit", () =>
    deps.audit.record({
      userId: user?.id ?? null,
      userName: user?.name ?? null,
      action,
      target,
      ip: clientIp(deps, c),
      userAgent: userAgent(c),
      outcome,
      tsMs: settings(deps).now(),
    }));
}

/**
 * Runs a write that may be skipped on a full disk (history, last-seen, audit): signing in and
 * checking a session must keep working so that someone can sign in and free space.
 */
export function bestEffort(what: string, write: () => unknown): void {
  try {
    write();
  } catch (err) {
    if (!isDiskFull(err)) throw err;
    console.warn(`${what} not written: the disk is full (${(err as Error).message})`);
  }
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
      const found = m?.[1] ? deps.users.userByToken(m[1], now()) : null;
      if (!found) {
        throw new ApiError(401, "unauthenticated", "Invalid, expired or revoked API token");
      }
      c.set("user", found.user);
      c.set("sessionToken", null);
      c.set("tokenScope", found.scope);
      if (found.scope === "read-only" && !SAFE_METHODS.has(c.req.method)) {
        audit(deps, c, "access.denied", `${c.req.method} ${c.req.path}`, "denied");
        throw new ApiError(
          403,
          "token_scope",
          "This API token is read-only; create an operator token on your profile page",
        );
      }
      return await next();
    }
    const token = getCookie(c, SESSION_COOKIE);
    const user = token ? deps.users.userBySession(token, now()) : null;
    if (!token || !user) {
      throw new ApiError(401, "unauthenticated", "Log in first (POST /api/auth/login)");
    }
    c.set("user", user);
    c.set("sessionToken", token);
    c.set("tokenScope", null);
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

/**
 * Lets only the given roles through; a refusal is written to the audit log. Admin-only routes
 * need a signed-in session: an API token has at most operator rights.
 */
export function requireRole(deps: AuthDeps, ...roles: Role[]): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const user = c.get("user");
    const viaToken = c.get("tokenScope") !== null;
    if (viaToken && !roles.includes("operator") && !roles.includes("viewer")) {
      audit(deps, c, "access.denied", `${c.req.method} ${c.req.path}`, "denied");
      throw new ApiError(
        403,
        "session_required",
        "API tokens cannot do admin work; sign in with a browser session",
      );
    }
    if (!roles.includes(user.role)) {
      audit(deps, c, "access.denied", `${c.req.method} ${c.req.path}`, "denied");
      throw new ApiError(403, "forbidden", `This needs the role ${roles.join(" or ")}`);
    }
    return await next();
  };
}

/**
 * Only for a signed-in (cookie) session, not an API token: token management, email and
 * password changes. A stolen token cannot make itself permanent or take over the account.
 */
export function requireSession(deps: AuthDeps): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    if (c.get("sessionToken") === null) refuseToken(deps, c);
    return await next();
  };
}

export function refuseToken(deps: AuthDeps, c: Context): never {
  audit(deps, c, "access.denied", `${c.req.method} ${c.req.path}`, "denied");
  throw new ApiError(
    403,
    "session_required",
    "This needs a signed-in browser session; API tokens cannot do it",
  );
}

/** Admins see every camera; operators and viewers only those on their list. */
export function canSeeCamera(user: User, cameraId: string): boolean {
  return user.role === "admin" || user.cameras.includes(cameraId);
}
