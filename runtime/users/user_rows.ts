/** Row shapes of users.sqlite as the rest of the firmware sees them, and their decoders. */
import { createHash } from "node:crypto";
import type { AdminFields, Role } from "./validate.ts";

export interface User {
  readonly id: number;
  readonly name: string;
  readonly email: string;
  readonly surname: string | null;
  readonly patronymic: string | null;
  readonly phone: string | null;
  readonly telegram: string | null;
  readonly role: Role;
  /** Cameras an operator or viewer may see; ignored for admins (they see all). */
  readonly cameras: readonly string[];
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly disabled: boolean;
}

export interface NewUser extends AdminFields {
  name: string;
  email: string;
  role: Role;
  password: string;
  /** The privacy notice version accepted at registration (stored with the time). */
  privacyVersion?: string;
}

export interface SessionInfo {
  readonly createdMs: number;
  readonly lastSeenMs: number;
  readonly ip: string;
  readonly userAgent: string;
  readonly expiresMs: number;
}

/** What an API token may do: read only, or what an operator may (never admin work). */
export const TOKEN_SCOPES = ["read-only", "operator"] as const;
export type TokenScope = typeof TOKEN_SCOPES[number];

export interface TokenInfo {
  readonly id: number;
  readonly name: string;
  readonly scope: TokenScope;
  readonly createdMs: number;
  readonly expiresMs: number;
  readonly lastUsedMs: number | null;
}

export interface LoginRecord {
  readonly userId: number | null;
  readonly ip: string;
  readonly userAgent: string;
  readonly ok: boolean;
  readonly reason: string;
  readonly tsMs: number;
}

/** Another account already uses this email. */
export class DuplicateEmailError extends Error {
  readonly field = "email";
  constructor(email: string) {
    super(`email: '${email}' is already used by another account; choose another address.`);
    this.name = "DuplicateEmailError";
  }
}

export type Row = Record<string, unknown>;

export function sha256(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

export function userFromRow(r: Row): User {
  return {
    id: Number(r.id),
    name: String(r.name),
    email: String(r.email),
    surname: r.surname == null ? null : String(r.surname),
    patronymic: r.patronymic == null ? null : String(r.patronymic),
    phone: r.phone == null ? null : String(r.phone),
    telegram: r.telegram == null ? null : String(r.telegram),
    role: String(r.role) as Role,
    cameras: JSON.parse(String(r.cameras)) as string[],
    createdMs: Number(r.created_ms),
    updatedMs: Number(r.updated_ms),
    disabled: Number(r.disabled) !== 0,
  };
}
