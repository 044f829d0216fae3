/** Users admin (admins only): list, create, change, delete. The last admin cannot be removed. */
import { Hono } from "hono";
import type { User } from "../users/user_store.ts";
import {
  PROFILE_KEYS,
  rejectUnknown,
  requireFields,
  validateAdminFields,
  validPassword,
  validRole,
} from "../users/validate.ts";
import { audit, type AuthDeps, type AuthEnv, requireRole, settings } from "./auth_context.ts";
import { ApiError, readJsonObject } from "./errors.ts";

const ADMIN_KEYS = [...PROFILE_KEYS, "role", "cameras", "disabled", "password"];

function targetUser(deps: AuthDeps, raw: string): User {
  const id = Number(raw);
  const user = Number.isSafeInteger(id) && id > 0 ? deps.users.get(id) : null;
  if (!user) throw new ApiError(404, "not_found", `No user with id ${raw}`);
  return user;
}

function refuseLastAdmin(deps: AuthDeps, user: User): void {
  if (user.role === "admin" && !user.disabled && deps.users.countActiveAdmins() <= 1) {
    throw new ApiError(
      409,
      "last_admin",
      `${user.email} is the last active admin; make another user admin first`,
    );
  }
}

export function userRoutes(deps: AuthDeps): Hono<AuthEnv> {
  const s = settings(deps);
  const app = new Hono<AuthEnv>();
  app.use("*", requireRole(deps, "admin"));

  app.get("/", (c) => c.json({ users: deps.users.list() }));

  app.post("/", async (c) => {
    const body = await readJsonObject(c);
    rejectUnknown(body, ADMIN_KEYS);
    requireFields(body, ["name", "email", "password", "role"]);
    const fields = validateAdminFields(body);
    const user = await deps.users.create({
      ...fields,
      name: fields.name ?? "",
      email: fields.email ?? "",
      role: validRole(body.role),
      password: validPassword(body.password),
    }, s.now());
    audit(deps, c, "user.create", `user:${user.id}`, "ok");
    return c.json({ user }, 201);
  });

  app.patch("/:id", async (c) => {
    const target = targetUser(deps, c.req.param("id"));
    const body = await readJsonObject(c);
    rejectUnknown(body, ADMIN_KEYS);
    const fields = validateAdminFields(body);
    if ((fields.role && fields.role !== "admin") || fields.disabled === true) {
      refuseLastAdmin(deps, target);
    }
    const user = await deps.users.update(target.id, fields, s.now());
    audit(deps, c, "user.update", `user:${target.id}`, "ok");
    return c.json({ user });
  });

  app.delete("/:id", (c) => {
    const target = targetUser(deps, c.req.param("id"));
    refuseLastAdmin(deps, target);
    audit(deps, c, "user.delete", `user:${target.id}`, "ok");
    deps.audit.pseudonymiseUser(target.id);
    deps.users.delete(target.id);
    return c.body(null, 204);
  });

  return app;
}
