// @ts-check
// My profile: view, edit, export my data, delete my account.

import { api, SESSION } from "../api.js";
import { h, notice, show } from "../dom.js";
import { handleSubmit } from "../forms.js";
import { signedOut } from "../router.js";

/** @typedef {"name" | "email" | "surname" | "patronymic" | "phone" | "telegram"} ProfileKey */

/** @type {[key: ProfileKey, label: string, type: string, required: boolean][]} */
const PROFILE_FIELDS = [
  ["name", "Name", "text", true],
  ["email", "Email", "email", true],
  ["surname", "Surname", "text", false],
  ["patronymic", "Patronymic", "text", false],
  ["phone", "Phone (+491701234567)", "tel", false],
  ["telegram", "Telegram (@name)", "text", false],
];

/** Shows the signed-in user's profile. */
export function profileScreen() {
  const me = SESSION.user;
  if (!me) return;
  const edit = h(
    "form",
    { id: "profile-form" },
    PROFILE_FIELDS.map(([key, label, type, required]) =>
      h("label", {}, label, h("input", { name: key, type, required, value: me[key] ?? "" }))
    ),
    h("button", { type: "submit" }, "Save"),
  );
  handleSubmit(edit, async (v) => {
    /** @type {Record<string, string | null | undefined>} */
    const body = {};
    for (const [key, , , required] of PROFILE_FIELDS) {
      if ((me[key] ?? "") !== v[key]) body[key] = v[key] === "" && !required ? null : v[key];
    }
    const data = await api("/api/me", { method: "PATCH", body });
    SESSION.user = data.user;
    notice("Saved.");
  });

  const del = h(
    "form",
    { id: "delete-form" },
    h(
      "p",
      {},
      "Deleting your account removes your personal data from this recorder; the audit log keeps only a pseudonym. This cannot be undone.",
    ),
    h(
      "label",
      {},
      "Your password, to confirm",
      h("input", {
        name: "password",
        type: "password",
        required: true,
        autocomplete: "current-password",
      }),
    ),
    h("button", { type: "submit", class: "danger" }, "Delete my account and data"),
  );
  handleSubmit(del, async (v) => {
    await api("/api/me", { method: "DELETE", body: { password: v.password } });
    location.hash = "#/";
    signedOut("Your account and personal data were deleted.");
  });

  show(
    h("h1", {}, "My profile"),
    h(
      "div",
      { class: "columns" },
      h(
        "section",
        { class: "panel" },
        h("dl", {}, h("dt", {}, "Role"), h("dd", {}, me.role)),
        edit,
      ),
      h(
        "section",
        { class: "panel" },
        h("h2", {}, "My data"),
        h(
          "p",
          {},
          "Everything this recorder keeps about you (profile, sessions, logins, audit entries) as JSON.",
        ),
        h(
          "a",
          { class: "button secondary", href: "/api/me/export", download: "", id: "me-export" },
          "Export my data",
        ),
        h("h2", {}, "Delete my account"),
        del,
      ),
    ),
  );
}
