/** The session cookie: HttpOnly, SameSite=Strict, Secure when configured or served over https. */
import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import type { User } from "../users/user_store.ts";
import {
  type AuthDeps,
  clientIp,
  csrfFor,
  SESSION_COOKIE,
  settings,
  userAgent,
} from "./auth_context.ts";

/** Starts a session for `user`: sets the cookie and returns the CSRF token for it. */
export function startSession(deps: AuthDeps, c: Context, user: User): string {
  const s = settings(deps);
  const { token } = deps.users.createSession(
    user.id,
    clientIp(deps, c),
    userAgent(c),
    s.sessionTtlMs,
    s.now(),
  );
  const secure = deps.secureCookies === undefined || deps.secureCookies === "auto"
    ? new URL(c.req.url).protocol === "https:"
    : deps.secureCookies;
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    secure,
    sameSite: "Strict",
    path: "/",
    maxAge: Math.floor(s.sessionTtlMs / 1000),
  });
  return csrfFor(token);
}

export function endSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/" });
}
