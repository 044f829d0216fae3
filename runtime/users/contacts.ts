/**
 * Contacts of other people kept for notifications: the minimum (a name, and an email or a phone
 * number), nothing else, and deletable at any time like a user's own data.
 */
import type { DatabaseSync } from "node:sqlite";
import type { Row } from "./user_rows.ts";

export interface Contact {
  readonly id: number;
  readonly name: string;
  readonly email: string | null;
  readonly phone: string | null;
  readonly createdBy: number | null;
  readonly createdMs: number;
  readonly updatedMs: number;
}

export interface ContactFields {
  readonly name?: string;
  readonly email?: string | null;
  readonly phone?: string | null;
}

const COLS = "id, name, email, phone, created_by, created_ms, updated_ms";

function contactFromRow(r: Row): Contact {
  return {
    id: Number(r.id),
    name: String(r.name),
    email: r.email == null ? null : String(r.email),
    phone: r.phone == null ? null : String(r.phone),
    createdBy: r.created_by == null ? null : Number(r.created_by),
    createdMs: Number(r.created_ms),
    updatedMs: Number(r.updated_ms),
  };
}

export class ContactStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  list(): Contact[] {
    return this.#db.prepare(`SELECT ${COLS} FROM contacts ORDER BY name, id`).all().map(
      contactFromRow,
    );
  }

  get(id: number): Contact | null {
    const row = this.#db.prepare(`SELECT ${COLS} FROM contacts WHERE id = ?`).get(id);
    return row ? contactFromRow(row as Row) : null;
  }

  create(
    fields: { name: string; email: string | null; phone: string | null },
    createdBy: number,
    nowMs: number,
  ): Contact {
    const row = this.#db.prepare(
      `INSERT INTO contacts (name, email, phone, created_by, created_ms, updated_ms)
       VALUES (?, ?, ?, ?, ?, ?) RETURNING ${COLS}`,
    ).get(fields.name, fields.email, fields.phone, createdBy, nowMs, nowMs);
    return contactFromRow(row as Row);
  }

  update(id: number, fields: ContactFields, nowMs: number): Contact | null {
    const current = this.get(id);
    if (!current) return null;
    const next = { ...current, ...fields };
    this.#db.prepare(
      "UPDATE contacts SET name = ?, email = ?, phone = ?, updated_ms = ? WHERE id = ?",
    )
      .run(next.name, next.email, next.phone, nowMs, id);
    return this.get(id);
  }

  delete(id: number): boolean {
    return Number(this.#db.prepare("DELETE FROM contacts WHERE id = ?").run(id).changes) > 0;
  }
}
