/**
 * A user's own data: view, edit, export (JSON) and delete, and their API tokens. Deleting removes
 * the account with its sessions, tokens and login history and pseudonymises the audit entries.
 */
import { Hono } from "hono";
import {
  FieldError,
  PROFILE_KEYS,
  rejectUnknown,
  requireFields,
  validateProfile,
  validPassword,
} from "../users/validate.ts";
import {
  audit,
  type AuthDeps,
  type AuthEnv,
  csrfFor,
  refuseToken,
  requireSession,
  settings,
} from "./auth_context.ts";
import { TOKEN_SCOPES, type TokenScope } from "../users/user_rows.ts";

const DAY_MS = 86_400_000;
/** API tokens live 90 days unless asked otherwise, a year at most. */
const TOKEN_DAYS = { default: 90, max: 365 };
import { ApiError, readJsonObject } from "./errors.ts";
import { endSessionCookie, startSession } from "./session_cookie.ts";

async function confirmPassword(deps: AuthDeps, userId: number, value: unknown, field: string) {
  if (typeof value !== "string" || !(await deps.users.checkPassword(userId, value))) {
    throw new ApiError(403, "bad_password", `${field}: wrong password`, field);
  }
}

export function meRoutes(deps: AuthDeps): Hono<AuthEnv> {
  const s = settings(deps);
  const app = new Hono<AuthEnv>();

  app.get("/", (c) => {
    const token = c.get("sessionToken");
    return c.json({ user: c.get("user"), ...(token ? { csrfToken: csrfFor(token) } : {}) });
  });

  app.patch("/", async (c) => {
    const me = c.get("user");
    const body = await readJsonObject(c);
    rejectUnknown(body, [...PROFILE_KEYS, "password", "currentPassword"]);
    const fields = { ...validateProfile(body) } as Parameters<typeof deps.users.update>[1];
    const changesEmail = fields.email !== undefined && fields.email !== me.email;
    if ((changesEmail || "password" in body) && c.get("sessionToken") === null) {
      refuseToken(deps, c);
    }
    if ("password" in body) {
      fields.password = validPassword(body.password);
      requireFields(body, ["currentPassword"]);
      await confirmPassword(deps, me.id, body.currentPassword, "currentPassword");
    }
    const user = await deps.users.update(me.id, fields, s.now());
    if (!user) throw new ApiError(404, "not_found", "Your account no longer exists");
    audit(deps, c, "me.update", `user:${me.id}`, "ok");
    // A new password ends every session, this one too: start a fresh one for a cookie client.
    const csrfToken = fields.password !== undefined && c.get("sessionToken")
      ? startSession(deps, c, user)
      : undefined;
    return c.json({ user, ...(csrfToken ? { csrfToken } : {}) });
  });

  app.delete("/", async (c) => {
    const me = c.get("user");
    const body = await readJsonObject(c);
    rejectUnknown(body, ["password"]);
    requireFields(body, ["password"]);
    await confirmPassword(deps, me.id, body.password, "password");
    if (me.role === "admin" && deps.users.countActiveAdmins() <= 1 && deps.users.count() > 1) {
      throw new ApiError(
        409,
        "last_admin",
        "You are the last admin; make another user admin before deleting your account",
      );
    }
    audit(deps, c, "me.delete", `user:${me.id}`, "ok");
    deps.audit.pseudonymiseUser(me.id);
    deps.users.delete(me.id);
    endSessionCookie(c);
    return c.body(null, 204);
  });

  app.get("/export", (c) => {
    const me = c.get("user");
    audit(deps, c, "me.export", `user:${me.id}`, "ok");
    const data = {
      exportedMs: s.now(),
      profile: me,
      privacyNotice: deps.users.privacyOf(me.id),
      apiTokens: deps.users.tokensOf(me.id),
      sessions: deps.users.sessionsOf(me.id),
      loginHistory: deps.users.logins.of(me.id),
      audit: deps.audit.about(me.id),
    };
    c.header("Content-Disposition", `attachment; filename="my-data-user-${me.id}.json"`);
    return c.json(data);
  });

  app.use("/tokens", requireSession(deps));
  app.use("/tokens/*", requireSession(deps));
  app.post("/tokens", async (c) => {
    const me = c.get("user");
    const body = await readJsonObject(c);
    rejectUnknown(body, ["name", "scope", "expiresInDays"]);
    requireFields(body, ["name"]);
    const name = typeof body.name === "string" ? body.name.trim() : "";
    if (name.length < 1 || name.length > 100) {
      throw new FieldError("name", "must be a string of 1 to 100 characters");
    }
    const scope = body.scope ?? "read-only";
    if (!(TOKEN_SCOPES as readonly unknown[]).includes(scope)) {
      throw new FieldError("scope", `must be one of ${TOKEN_SCOPES.join(", ")}`);
    }
    const days = body.expiresInDays ?? TOKEN_DAYS.default;
    if (!Number.isInteger(days) || (days as number) < 1 || (days as number) > TOKEN_DAYS.max) {
      throw new FieldError(
        "expiresInDays",
        `must be a whole number of days, 1 to ${TOKEN_DAYS.max}`,
      );
    }
    const spec = { name, scope: scope as TokenScope, ttlMs: (days as number) * DAY_MS };
    const { token, info } = deps.users.createToken(me.id, spec, s.now());
    audit(deps, c, "token.create", `token:${info.id}`, "ok");
    return c.json({ token, ...info }, 201);
  });

  app.delete("/tokens/:id", (c) => {
    const id = Number(c.req.param("id"));
    if (!Number.isSafeInteger(id) || !deps.users.deleteToken(c.get("user").id, id)) {
      throw new ApiError(404, "not_found", `You have no API token with id ${c.req.param("id")}`);
    }
    audit(deps, c, "token.delete", `token:${id}`, "ok");
    return c.body(null, 204);
  });

  return app;
}
