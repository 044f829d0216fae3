/**
 * Notification contacts (admins and operators): list, add, change, delete. Only a name and an
 * email or phone number are kept; every change is audited without the personal data itself.
 */
import { Hono } from "hono";
import type { ContactFields } from "../users/contacts.ts";
import { rejectUnknown, validateProfile } from "../users/validate.ts";
import { audit, type AuthDeps, type AuthEnv, requireRole, settings } from "./auth_context.ts";
import { ApiError, readJsonObject } from "./errors.ts";

const KEYS = ["name", "email", "phone"] as const;

function contactId(raw: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new ApiError(404, "not_found", `No contact ${raw}`);
  }
  return id;
}

function fields(body: Record<string, unknown>): ContactFields {
  rejectUnknown(body, [...KEYS]);
  // null removes an email or phone; the profile checks only see values to validate.
  const present = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null));
  const profile = validateProfile(present);
  return {
    ...(profile.name !== undefined ? { name: profile.name } : {}),
    ...(body.email !== undefined
      ? { email: body.email === null ? null : profile.email ?? null }
      : {}),
    ...(body.phone !== undefined
      ? { phone: body.phone === null ? null : profile.phone ?? null }
      : {}),
  };
}

function reachable(contact: { email?: string | null; phone?: string | null }): void {
  if (!contact.email && !contact.phone) {
    throw new ApiError(400, "invalid", "Give an email or a phone number", "email");
  }
}

export function contactRoutes(deps: AuthDeps): Hono<AuthEnv> {
  const s = settings(deps);
  const app = new Hono<AuthEnv>();
  app.use("*", requireRole(deps, "admin", "operator"));

  app.get("/", (c) => c.json({ contacts: deps.users.contacts.list() }));

  app.post("/", async (c) => {
    const f = fields(await readJsonObject(c));
    if (!f.name) throw new ApiError(400, "invalid", "name: required", "name");
    reachable(f);
    const contact = deps.users.contacts.create(
      { name: f.name, email: f.email ?? null, phone: f.phone ?? null },
      c.get("user").id,
      s.now(),
    );
    audit(deps, c, "contact.create", `contact:${contact.id}`, "ok");
    return c.json({ contact }, 201);
  });

  app.patch("/:id", async (c) => {
    const id = contactId(c.req.param("id"));
    const f = fields(await readJsonObject(c));
    const current = deps.users.contacts.get(id);
    if (!current) throw new ApiError(404, "not_found", `No contact ${id}`);
    reachable({ ...current, ...f });
    const contact = deps.users.contacts.update(id, f, s.now());
    audit(deps, c, "contact.update", `contact:${id}`, "ok");
    return c.json({ contact });
  });

  app.delete("/:id", (c) => {
    const id = contactId(c.req.param("id"));
    if (!deps.users.contacts.delete(id)) throw new ApiError(404, "not_found", `No contact ${id}`);
    audit(deps, c, "contact.delete", `contact:${id}`, "ok");
    return c.body(null, 204);
  });
  return app;
}
