/**
 * Registration by invitation. Admins: `GET/POST /api/invites`, `DELETE /api/invites/:id`.
 * Public: `POST /api/invites/accept` with the token and the invitee's own profile and password;
 * wrong tokens count as failed logins for the per-IP rate limit.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import {
  FieldError,
  PROFILE_KEYS,
  rejectUnknown,
  requireFields,
  validateProfile,
  validCameras,
  validEmail,
  validPassword,
  validRole,
} from "../users/validate.ts";
import {
  attemptSucceeded,
  audit,
  type AuthDeps,
  type AuthEnv,
  bestEffort,
  clientIp,
  requireRole,
  reserveAttempt,
  settings,
  userAgent,
} from "./auth_context.ts";
import { ApiError, readJsonObject } from "./errors.ts";
import { acceptedPrivacy } from "./privacy_notice.ts";

const INVITE_TTL_MS = 7 * 86_400_000;

export function inviteAdminRoutes(deps: AuthDeps): Hono<AuthEnv> {
  const s = settings(deps);
  const app = new Hono<AuthEnv>();
  app.use("*", requireRole(deps, "admin"));
  app.get("/", (c) => c.json({ invites: deps.users.invites.pending(s.now()) }));
  app.post("/", async (c) => {
    const body = await readJsonObject(c);
    rejectUnknown(body, ["role", "cameras", "email"]);
    requireFields(body, ["role"]);
    const spec = {
      role: validRole(body.role),
      cameras: "cameras" in body ? validCameras(body.cameras) : [],
      email: body.email === undefined || body.email === null ? null : validEmail(body.email),
      createdBy: c.get("user").id,
    };
    const { token, invite } = deps.users.invites.create(spec, INVITE_TTL_MS, s.now());
    audit(deps, c, "invite.create", `invite:${invite.id}`, "ok");
    return c.json({ token, ...invite }, 201);
  });
  app.delete("/:id", (c) => {
    const id = Number(c.req.param("id"));
    if (!Number.isSafeInteger(id) || !deps.users.invites.revoke(id)) {
      throw new ApiError(404, "not_found", `No invitation with id ${c.req.param("id")}`);
    }
    audit(deps, c, "invite.revoke", `invite:${id}`, "ok");
    return c.body(null, 204);
  });
  return app;
}

/** Handler for the public POST /api/invites/accept. */
export function acceptInvite(deps: AuthDeps): (c: Context) => Promise<Response> {
  const s = settings(deps);
  return async (c) => {
    const now = s.now();
    const ip = clientIp(deps, c);
    const body = await readJsonObject(c);
    rejectUnknown(body, ["token", ...PROFILE_KEYS, "password", "acceptPrivacyNotice"]);
    requireFields(body, ["token", "name", "email", "password"]);
    const profile = validateProfile(body);
    const password = validPassword(body.password);
    const privacyVersion = acceptedPrivacy(body);
    const token = typeof body.token === "string" ? body.token : "";
    reserveAttempt(deps, c, null); // a wrong token is a failure of this address
    const invite = deps.users.invites.peek(token, now);
    if (!invite) {
      bestEffort("login history", () =>
        deps.users.logins.record({
          userId: null,
          ip,
          userAgent: userAgent(c),
          ok: false,
          reason: "bad_invite",
          tsMs: now,
        }));
      audit(deps, c, "invite.accept", "invite:unknown", "failed", null);
      throw new ApiError(
        404,
        "invite_invalid",
        "token: this invitation is unknown, used or expired; ask an admin for a new one",
        "token",
      );
    }
    attemptSucceeded(deps, c, null);
    if (invite.email !== null && invite.email !== profile.email) {
      throw new FieldError("email", `this invitation is for ${invite.email}`);
    }
    const claimed = deps.users.invites.claim(token, now);
    if (!claimed) throw new ApiError(409, "invite_invalid", "token: invitation already used");
    try {
      const user = await deps.users.create({
        ...profile,
        name: profile.name ?? "",
        email: profile.email ?? "",
        password,
        role: claimed.role,
        cameras: [...claimed.cameras],
        privacyVersion,
      }, now);
      audit(deps, c, "invite.accept", `user:${user.id}`, "ok", user);
      return c.json({ user }, 201);
    } catch (err) {
      deps.users.invites.release(claimed.id);
      throw err;
    }
  };
}
