// @ts-check
// Users (admins; the API refuses others with 403): each user's role and cameras, delete with a
// confirmation in place, and a form to add a user.

import { api } from "../api.js";
import { h, notice, show } from "../dom.js";
import { accountFields, handleSubmit } from "../forms.js";
import { route } from "../router.js";

/** @typedef {import("../types.js").User} User */
/** @typedef {import("../types.js").Camera} Camera */

const ROLES = ["admin", "operator", "viewer"];

/**
 * A <select> of the roles with `role` chosen.
 * @param {string} name
 * @param {string} role
 * @returns {HTMLSelectElement}
 */
function roleSelect(name, role) {
  const select = h(
    "select",
    { name, "aria-label": "Role" },
    ROLES.map((r) => h("option", { value: r }, r)),
  );
  select.value = role;
  return select;
}

/**
 * Checkboxes, one per camera id, named `name`; those in `chosen` ticked.
 * @param {string} name
 * @param {string[]} cameraIds
 * @param {string[]} chosen
 * @returns {HTMLSpanElement}
 */
function cameraChecks(name, cameraIds, chosen) {
  if (!cameraIds.length) return h("span", { class: "muted" }, "no cameras configured");
  return h(
    "span",
    { class: "checks" },
    cameraIds.map((id) =>
      h(
        "label",
        { class: "check" },
        h("input", { type: "checkbox", name, value: id, checked: chosen.includes(id) }),
        id,
      )
    ),
  );
}

/**
 * The values of the ticked checkboxes named `name` under `root`.
 * @param {ParentNode} root
 * @param {string} name
 * @returns {string[]}
 */
function checkedValues(root, name) {
  return [
    ...root.querySelectorAll(`input[type=checkbox][name="${name}"]:checked`),
  ].map((el) => /** @type {HTMLInputElement} */ (el).value);
}

/** Shows the users and the form to add one. */
export async function usersScreen() {
  const [{ users }, { cameras }] = /** @type {[{ users: User[] }, { cameras: Camera[] }]} */ (
    await Promise.all([api("/api/users"), api("/api/cameras")])
  );
  const cameraIds = cameras.map((c) => c.id);
  const body = h("tbody");
  const redraw = () => route();

  for (const user of users) body.append(userRow(user, cameraIds, redraw));

  const add = h(
    "form",
    { id: "user-add-form", "aria-label": "Add a user" },
    h(
      "div",
      { class: "row" },
      ...accountFields("off", "off"),
      h("label", {}, "Role", roleSelect("role", "viewer")),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Cameras an operator or viewer may see"),
      cameraChecks("cameras", cameraIds, []),
    ),
    h("button", { type: "submit" }, "Add user"),
  );
  handleSubmit(add, async (v) => {
    const { user } = await api("/api/users", {
      method: "POST",
      body: {
        name: v.name,
        email: v.email,
        password: v.password,
        role: v.role,
        cameras: checkedValues(add, "cameras"),
      },
    });
    notice(`Added ${user.email} (${user.role}).`);
    redraw();
  });

  show(
    h("h1", {}, "Users"),
    h(
      "section",
      { class: "panel scroll" },
      h(
        "table",
        { id: "user-list" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Name", "Email", "Role", "Cameras", ""].map((t) => h("th", {}, t)),
          ),
        ),
        body,
      ),
    ),
    h("section", { class: "panel" }, h("h2", {}, "Add a user"), add),
  );
}

/**
 * A user's row: role and cameras with Save, and Delete that asks once more in place (no browser
 * dialog). `redraw` draws the screen again after a change.
 * @param {User} user
 * @param {string[]} cameraIds
 * @param {() => void} redraw
 * @returns {HTMLTableRowElement}
 */
function userRow(user, cameraIds, redraw) {
  const role = roleSelect("role", user.role);
  const cams = cameraChecks("cameras", cameraIds, user.cameras);
  const save = h("button", { type: "button", class: "secondary save" }, "Save");
  const del = h("button", { type: "button", class: "danger delete" }, "Delete");
  const sure = h("button", { type: "button", class: "danger confirm", hidden: true }, "Delete!");
  const cancel = h("button", { type: "button", class: "secondary cancel", hidden: true }, "Cancel");
  const row = h(
    "tr",
    { dataset: { user: String(user.id), email: user.email } },
    h(
      "td",
      { class: "name" },
      user.name,
      user.disabled ? h("span", { class: "muted" }, " (disabled)") : null,
    ),
    h("td", { class: "email" }, user.email),
    h("td", {}, role),
    h(
      "td",
      {},
      user.role === "admin" ? h("span", { class: "muted" }, "all (admin)") : null,
      cams,
    ),
    h("td", { class: "actions" }, save, del, sure, cancel),
  );
  /** @param {() => Promise<void>} fn */
  const busy = async (fn) => {
    for (const b of row.querySelectorAll("button")) b.disabled = true;
    try {
      await fn();
    } catch (err) {
      notice(/** @type {Error} */ (err).message, "error");
    } finally {
      for (const b of row.querySelectorAll("button")) b.disabled = false;
    }
  };
  save.addEventListener("click", () =>
    busy(async () => {
      await api(`/api/users/${user.id}`, {
        method: "PATCH",
        body: { role: role.value, cameras: checkedValues(row, "cameras") },
      });
      notice(`Saved ${user.email}.`);
      redraw();
    }));
  /** @param {boolean} on */
  const confirming = (on) => {
    del.hidden = on;
    save.hidden = on;
    sure.hidden = !on;
    cancel.hidden = !on;
  };
  del.addEventListener("click", () => confirming(true));
  cancel.addEventListener("click", () => confirming(false));
  sure.addEventListener("click", () =>
    busy(async () => {
      await api(`/api/users/${user.id}`, { method: "DELETE" });
      notice(`Deleted ${user.email}; their audit entries now carry a pseudonym.`);
      redraw();
    }));
  return row;
}
