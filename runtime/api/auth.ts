/**
 * The users/auth/audit part of the local API as one Hono app, mounted by the daemon with
 * `app.route("/api", createAuthApp(deps))`. Setup, login and accepting an invitation are public; every other route goes
 * through `authenticate` (session cookie + CSRF, or Bearer API token).
 */
import type { Context } from "hono";
import { Hono } from "hono";
import type { User } from "../users/user_store.ts";
import {
  PROFILE_KEYS,
  rejectUnknown,
  requireFields,
  validateProfile,
  validEmail,
  validPassword,
} from "../users/validate.ts";
import { auditRoutes } from "./audit_routes.ts";
import {
  attemptSucceeded,
  audit,
  type AuthDeps,
  authenticate,
  type AuthEnv,
  bestEffort,
  clientIp,
  reserveAttempt,
  settings,
  userAgent,
} from "./auth_context.ts";
import { ApiError, handleApiError, jsonBodyLimit, readJsonObject } from "./errors.ts";
import { acceptInvite, inviteAdminRoutes } from "./invites_routes.ts";
import { meRoutes } from "./me_routes.ts";
import { ALL_PATHS, openApiDocument } from "./openapi.ts";
import { VERSION } from "../lib/version.ts";
import { endSessionCookie, startSession } from "./session_cookie.ts";
import { userRoutes } from "./users_routes.ts";
import { acceptedPrivacy } from "./privacy_notice.ts";
import { PRIVACY_NOTICE } from "../users/privacy.ts";
import { contactRoutes } from "./contacts_routes.ts";

export type { AuthDeps } from "./auth_context.ts";
export { canSeeCamera, requireRole } from "./auth_context.ts";

export function createAuthApp(deps: AuthDeps): Hono<AuthEnv> {
  const s = settings(deps);
  const app = new Hono<AuthEnv>();
  app.onError(handleApiError);
  app.use(
    "*",
    jsonBodyLimit(s.maxBodyBytes),
  );

  // Whether first-run setup is still open, so the page offers it only then, and the privacy
  // notice to accept. Anyone may ask: a POST would tell them the same.
  app.get(
    "/setup",
    (c) => c.json({ open: deps.users.count() === 0, privacyNotice: PRIVACY_NOTICE }),
  );

  app.post("/setup", async (c) => {
    const body = await readJsonObject(c);
    rejectUnknown(body, [...PROFILE_KEYS, "password", "setupCode", "acceptPrivacyNotice"]);
    requireFields(body, ["name", "email", "password", "setupCode"]);
    const profile = validateProfile(body);
    const password = validPassword(body.password);
    if (deps.users.count() > 0) {
      throw new ApiError(409, "already_set_up", "Setup is done; log in, or ask an admin");
    }
    // The code is guessed at like a password: throttled per address, compared in constant time.
    const key = `setup|${clientIp(deps, c)}`;
    reserveAttempt(deps, c, key);
    if (typeof body.setupCode !== "string" || !deps.setupCode?.matches(body.setupCode)) {
      audit(deps, c, "setup", "setup:bad_code", "failed", null);
      throw new ApiError(
        403,
        "bad_setup_code",
        "setupCode: wrong setup code. It is printed when the recorder starts, in a line " +
          "'setup code: …' (console and journal), and kept in the file setup-code in the data folder",
        "setupCode",
      );
    }
    attemptSucceeded(deps, c, key);
    const privacyVersion = acceptedPrivacy(body);
    const user = await deps.users.createFirst({
      ...profile,
      name: profile.name ?? "",
      email: profile.email ?? "",
      password,
      role: "admin",
      privacyVersion,
    }, s.now());
    if (!user) {
      throw new ApiError(409, "already_set_up", "Setup is done; log in, or ask an admin");
    }
    await deps.setupCode?.consume();
    audit(deps, c, "setup", `user:${user.id}`, "ok", user);
    return c.json({ user }, 201);
  });

  app.post("/auth/login", async (c) => {
    const body = await readJsonObject(c);
    rejectUnknown(body, ["email", "password"]);
    requireFields(body, ["email", "password"]);
    const email = validEmail(body.email);
    if (typeof body.password !== "string") {
      throw new ApiError(400, "invalid", "password: expected a string", "password");
    }
    return await login(deps, c, email, body.password);
  });

  app.post("/invites/accept", acceptInvite(deps));

  // Everything registered after this line needs a logged-in user.
  app.use("*", authenticate(deps));

  app.post("/auth/logout", (c) => {
    const token = c.get("sessionToken");
    if (token) deps.users.deleteSession(token);
    endSessionCookie(c);
    audit(deps, c, "logout", "", "ok");
    return c.body(null, 204);
  });

  app.get("/openapi.json", (c) => c.json(openApiDocument(VERSION, ALL_PATHS)));
  app.route("/me", meRoutes(deps));
  app.route("/users", userRoutes(deps));
  app.route("/audit", auditRoutes(deps));
  app.route("/invites", inviteAdminRoutes(deps));
  app.route("/contacts", contactRoutes(deps));
  return app;
}

async function login(deps: AuthDeps, c: Context, email: string, password: string) {
  const s = settings(deps);
  const now = s.now();
  const ip = clientIp(deps, c);
  const ua = userAgent(c);
  // Reserved before anything is looked up or derived: concurrent guesses are counted at once,
  // and the answer (429 + Retry-After) is the same for accounts that exist and those that do not.
  const key = `login:${email}|${ip}`;
  try {
    reserveAttempt(deps, c, key);
  } catch (err) {
    audit(deps, c, "login", "login:rate_limited", "denied", null);
    throw err;
  }
  const fail = (userId: number | null, reason: string, who: User | null) => {
    bestEffort(
      "login history",
      () => deps.users.logins.record({ userId, ip, userAgent: ua, ok: false, reason, tsMs: now }),
    );
    audit(deps, c, "login", `login:${reason}`, "failed", who);
  };
  const wrong = new ApiError(401, "bad_credentials", "Wrong email or password");
  const user = deps.users.byEmail(email);
  if (!user) {
    await deps.users.dummyCheck(password);
    fail(null, "unknown_user", null);
    throw wrong;
  }
  const ok = await deps.users.checkPassword(user.id, password);
  if (!ok || user.disabled) {
    fail(user.id, ok ? "disabled" : "bad_password", user);
    throw wrong;
  }
  attemptSucceeded(deps, c, key);
  const known = deps.users.logins.knownSources(user.id, ip, ua);
  const suspicious = known.any && (!known.ip || !known.userAgent);
  bestEffort("login history", () =>
    deps.users.logins.record({
      userId: user.id,
      ip,
      userAgent: ua,
      ok: true,
      reason: suspicious ? "suspicious" : "ok",
      tsMs: now,
    }));
  audit(deps, c, "login", "", "ok", user);
  if (suspicious) {
    // The fleet gets a pseudonym (stable per box and user), never the person's name or email.
    const detail = {
      userId: user.id,
      subject: deps.audit.subjectFor(user.id),
      ip,
      userAgent: ua,
      newIp: !known.ip,
      newBrowser: !known.userAgent,
      tsMs: now,
    };
    audit(deps, c, "login.suspicious", `user:${user.id}`, "ok", user);
    deps.onEvent?.("suspicious-login", detail);
  }
  const csrfToken = startSession(deps, c, user);
  return c.json({ user, csrfToken });
}
