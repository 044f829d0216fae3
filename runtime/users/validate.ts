/**
 * Validation of user fields as they arrive from the API. Every error names the field, says what
 * was wrong and what is allowed, so that a form can show it beside the right input.
 */

export const ROLES = ["admin", "operator", "viewer"] as const;
export type Role = typeof ROLES[number];

/** A field failed validation; `field` is the JSON key as the client sent it. */
export class FieldError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "FieldError";
    this.field = field;
  }
}

/** The personal fields a user may edit about themselves. */
export interface ProfileFields {
  name?: string;
  email?: string;
  surname?: string | null;
  patronymic?: string | null;
  phone?: string | null;
  telegram?: string | null;
}

/** Fields only an admin may set. */
export interface AdminFields extends ProfileFields {
  role?: Role;
  cameras?: string[];
  disabled?: boolean;
  password?: string;
}

const EMAIL = /^[^\s@"<>]+@[^\s@"<>]+\.[^\s@"<>.]+$/;
const PHONE = /^\+[1-9][0-9]{6,14}$/;
const TELEGRAM = /^@[A-Za-z0-9_]{5,32}$/;
const CAMERA_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const MIN_PASSWORD = 10;
const MAX_PASSWORD = 1024;

export function requireObject(body: unknown, what = "body"): Record<string, unknown> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new FieldError(what, "expected a JSON object");
  }
  return body as Record<string, unknown>;
}

/** Refuses keys outside `allowed`, naming the first unknown one and listing the allowed ones. */
export function rejectUnknown(obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new FieldError(key, `unknown field; allowed fields are ${allowed.join(", ")}`);
    }
  }
}

function text(field: string, value: unknown, min: number, max: number): string {
  if (typeof value !== "string") throw new FieldError(field, "expected a string");
  const trimmed = value.trim();
  if (trimmed.length < min || trimmed.length > max) {
    throw new FieldError(field, `must be ${min} to ${max} characters long`);
  }
  return trimmed;
}

function optionalText(field: string, value: unknown, check: (s: string) => string): string | null {
  if (value === null || value === "") return null;
  return check(text(field, value, 1, 200));
}

/**
 * An email address in one canonical form: NFKC (full-width and other compatibility forms become
 * plain letters) and case-folded. The local part and each domain label must each be written in
 * one script, so that `аdmin@` with a Cyrillic а cannot pose beside `admin@`.
 */
export function validEmail(value: unknown, field = "email"): string {
  const email = text(field, typeof value === "string" ? value.normalize("NFKC") : value, 3, 254)
    .toLowerCase();
  if (!EMAIL.test(email)) {
    throw new FieldError(field, "must look like name@example.org");
  }
  const at = email.lastIndexOf("@");
  for (const part of [email.slice(0, at), ...email.slice(at + 1).split(".")]) {
    const scripts = scriptsOf(part);
    if (scripts.size > 1) {
      throw new FieldError(
        field,
        `'${part}' mixes ${[...scripts].join(" and ")} letters (a look-alike address); ` +
          "write each part in one alphabet",
      );
    }
  }
  return email;
}

const SCRIPTS: readonly [string, RegExp][] = [
  ["Latin", /\p{Script=Latin}/u],
  ["Cyrillic", /\p{Script=Cyrillic}/u],
  ["Greek", /\p{Script=Greek}/u],
  ["Armenian", /\p{Script=Armenian}/u],
  ["Georgian", /\p{Script=Georgian}/u],
  ["Hebrew", /\p{Script=Hebrew}/u],
  ["Arabic", /\p{Script=Arabic}/u],
  // Japanese writes Han, Hiragana and Katakana together: one group.
  ["CJK", /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u],
];

/** The scripts of the letters in `s` (digits and punctuation belong to none). */
function scriptsOf(s: string): Set<string> {
  const found = new Set<string>();
  for (const ch of s) {
    if (!/\p{L}/u.test(ch)) continue;
    found.add(SCRIPTS.find(([, re]) => re.test(ch))?.[0] ?? "other");
  }
  return found;
}

export function validPassword(value: unknown, field = "password"): string {
  if (typeof value !== "string") throw new FieldError(field, "expected a string");
  if (value.length < MIN_PASSWORD) {
    throw new FieldError(field, `must be at least ${MIN_PASSWORD} characters long`);
  }
  if (value.length > MAX_PASSWORD) {
    throw new FieldError(field, `must be at most ${MAX_PASSWORD} characters long`);
  }
  return value;
}

export function validRole(value: unknown, field = "role"): Role {
  if (typeof value !== "string" || !(ROLES as readonly string[]).includes(value)) {
    throw new FieldError(field, `must be one of ${ROLES.join(", ")}`);
  }
  return value as Role;
}

export function validCameras(value: unknown, field = "cameras"): string[] {
  if (!Array.isArray(value)) throw new FieldError(field, "expected an array of camera ids");
  return [
    ...new Set(value.map((v, i) => {
      if (typeof v !== "string" || !CAMERA_ID.test(v)) {
        throw new FieldError(`${field}[${i}]`, "must be a camera id: 1-64 of A-Z a-z 0-9 _ -");
      }
      return v;
    })),
  ];
}

const PROFILE_CHECKS = {
  name: (v: unknown) => text("name", v, 1, 100),
  email: (v: unknown) => validEmail(v),
  surname: (v: unknown) => optionalText("surname", v, (s) => s),
  patronymic: (v: unknown) => optionalText("patronymic", v, (s) => s),
  phone: (v: unknown) =>
    optionalText("phone", v, (s) => {
      const compact = s.replace(/[\s()-]/g, "");
      if (!PHONE.test(compact)) {
        throw new FieldError("phone", "must be in international form, e.g. +491701234567");
      }
      return compact;
    }),
  telegram: (v: unknown) =>
    optionalText("telegram", v, (s) => {
      if (!TELEGRAM.test(s)) {
        throw new FieldError("telegram", "must be a handle like @some_name (5-32 of A-Z 0-9 _)");
      }
      return s;
    }),
} as const;

export const PROFILE_KEYS = Object.keys(PROFILE_CHECKS) as (keyof ProfileFields)[];

/** Validates the profile keys present in `obj` (all optional: for PATCH). */
export function validateProfile(obj: Record<string, unknown>): ProfileFields {
  const out: Record<string, unknown> = {};
  for (const key of PROFILE_KEYS) {
    if (key in obj) out[key] = PROFILE_CHECKS[key](obj[key]);
  }
  return out as ProfileFields;
}

/** Validates admin-settable keys present in `obj`. */
export function validateAdminFields(obj: Record<string, unknown>): AdminFields {
  const out: AdminFields = validateProfile(obj);
  if ("role" in obj) out.role = validRole(obj.role);
  if ("cameras" in obj) out.cameras = validCameras(obj.cameras);
  if ("disabled" in obj) {
    if (typeof obj.disabled !== "boolean") throw new FieldError("disabled", "expected true/false");
    out.disabled = obj.disabled;
  }
  if ("password" in obj) out.password = validPassword(obj.password);
  return out;
}

/** For creation: name and email are required. */
export function requireFields(obj: Record<string, unknown>, keys: readonly string[]): void {
  for (const key of keys) {
    if (!(key in obj) || obj[key] === undefined || obj[key] === null) {
      throw new FieldError(key, "is required");
    }
  }
}
