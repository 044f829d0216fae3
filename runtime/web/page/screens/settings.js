// @ts-check
// Settings (admins): a form made from GET /api/settings/schema that sends only the changed keys
// (PATCH /api/settings, each refusal shown beside its field), the whole configuration as JSON
// under "Advanced" (PUT /api/config), and the analytics consent switch.

import { api } from "../api.js";
import { h, show } from "../dom.js";
import { signedOut } from "../router.js";
import { problem, settingsFields } from "./settings_form.js";

/** @typedef {import("../api.js").Failure} Failure */
/** @typedef {import("./settings_form.js").SettingKey} SettingKey */
/** @typedef {{ field?: string, message: string }} Problem */

/** Shows the settings form, the configuration editor and the analytics consent. */
export async function settingsScreen() {
  const [{ keys }, { config }] = await Promise.all([
    api("/api/settings/schema"),
    api("/api/config"),
  ]);
  const text = h("textarea", {
    id: "settings-json",
    name: "config",
    spellcheck: "false",
    rows: "24",
    "aria-label": "Configuration (JSON)",
  });
  text.value = JSON.stringify(config, null, 2);
  const formPanel = h("section", { class: "panel", id: "settings-panel" });
  /** After a change from either view, both show what runs now. */
  const reload = async () => {
    const [schema, now] = await Promise.all([
      api("/api/settings/schema"),
      api("/api/config"),
    ]);
    text.value = JSON.stringify(now.config, null, 2);
    return /** @type {SettingKey[]} */ (schema.keys);
  };
  /** @param {SettingKey[]} current @param {string} [said] */
  const drawForm = (current, said) => {
    formPanel.replaceChildren(...settingsForm(current, reload, drawForm));
    if (said) {
      const status = formPanel.querySelector("#settings-form-result");
      if (status instanceof HTMLElement) sayIn(status, said, "ok");
    }
  };
  drawForm(keys);
  show(
    h("h1", {}, "Settings"),
    formPanel,
    h(
      "details",
      { class: "panel", id: "settings-advanced" },
      h("summary", {}, "Advanced: the whole configuration as JSON"),
      rawEditor(text, async () => drawForm(await reload())),
    ),
    await analyticsConsentPanel(),
  );
}

/**
 * @param {HTMLElement} el
 * @param {string} message
 * @param {"ok" | "error"} kind
 */
function sayIn(el, message, kind) {
  el.textContent = message;
  el.className = kind === "error" ? "error-text" : "ok-text";
  el.dataset.kind = kind;
  el.hidden = false;
}

/**
 * The form: fields by section, Save sends only what changed.
 * @param {SettingKey[]} keys
 * @param {() => Promise<SettingKey[]>} reload
 * @param {(keys: SettingKey[], said?: string) => void} redraw
 * @returns {Node[]}
 */
function settingsForm(keys, reload, redraw) {
  const { groups, controls } = settingsFields(keys);
  const result = h("p", {
    id: "settings-form-result",
    role: "status",
    hidden: true,
  });
  const button = h("button", { type: "submit" }, "Save changes");
  const form = h(
    "form",
    { id: "settings-fields", novalidate: true },
    groups,
    h("div", { class: "row settings-actions" }, button, result),
  );
  const clearErrors = () => {
    for (const c of controls.values()) {
      c.error.hidden = true;
      c.input.removeAttribute("aria-invalid");
    }
    result.hidden = true;
  };
  /** @param {Problem[]} problems @returns {number} how many were shown beside a field */
  const showProblems = (problems) => {
    let placed = 0;
    for (const p of problems) {
      const c = p.field ? controls.get(p.field) : undefined;
      if (!c) continue;
      c.error.textContent = p.message;
      c.error.hidden = false;
      c.input.setAttribute("aria-invalid", "true");
      if (placed++ === 0) c.input.focus();
    }
    return placed;
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    /** @type {Record<string, unknown>} */
    const changes = {};
    /** @type {Problem[]} */
    const local = [];
    for (const c of controls.values()) {
      const value = c.read();
      if (JSON.stringify(value) === c.initial) continue;
      changes[c.name] = value;
      const wrong = problem(value, c.field);
      if (wrong) local.push({ field: c.name, message: wrong });
    }
    if (local.length > 0) {
      showProblems(local);
      sayIn(result, "Nothing was saved: fix the fields marked.", "error");
      return;
    }
    const count = Object.keys(changes).length;
    if (count === 0) {
      sayIn(result, "Nothing changed.", "ok");
      return;
    }
    button.disabled = true;
    try {
      await api("/api/settings", { method: "PATCH", body: { changes } });
      const restart = Object.keys(changes).some((k) => controls.get(k)?.field.restart);
      redraw(
        await reload(),
        `Saved ${count} ${count === 1 ? "setting" : "settings"}.` +
          (restart ? " Those marked “applies after a restart” take effect at the next start." : ""),
      );
    } catch (e) {
      const err = /** @type {Failure & { problems?: Problem[] }} */ (e);
      if (err.status === 401) {
        return signedOut("Your session has ended; log in again.", "error");
      }
      const placed = showProblems(err.problems ?? []);
      sayIn(
        result,
        placed > 0 ? "Nothing was saved: the recorder refused the fields marked." : err.message,
        "error",
      );
    } finally {
      button.disabled = false;
    }
  });
  return [
    h("h2", {}, "Settings"),
    h(
      "p",
      { class: "muted" },
      "The settings that may be changed on the box; the broker, the data folder, the listener and ",
      "licensing come from the image or the local file (docs/config.md). Only what you change is ",
      "sent, and the recorder checks it again: nothing is saved if a value is refused.",
    ),
    form,
  ];
}

/**
 * The whole configuration as JSON, applied with PUT /api/config (secrets stay redacted).
 * @param {HTMLTextAreaElement} text
 * @param {() => Promise<void>} applied
 */
function rawEditor(text, applied) {
  const result = h("p", {
    id: "settings-result",
    role: "status",
    hidden: true,
  });
  const button = h("button", { type: "submit" }, "Apply");
  const form = h(
    "form",
    { id: "settings-form" },
    text,
    h("div", { class: "row" }, button, result),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let body;
    try {
      body = JSON.parse(text.value);
    } catch (err) {
      sayIn(
        result,
        `Not valid JSON: ${/** @type {Error} */ (err).message}`,
        "error",
      );
      return;
    }
    button.disabled = true;
    try {
      const data = await api("/api/config", { method: "PUT", body });
      text.value = JSON.stringify(data.config, null, 2);
      await applied();
      sayIn(result, "Applied: the recorder runs the new configuration.", "ok");
    } catch (e) {
      const err = /** @type {Failure} */ (e);
      if (err.status === 401) {
        return signedOut("Your session has ended; log in again.", "error");
      }
      sayIn(result, err.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  return h(
    "div",
    {},
    h(
      "p",
      {},
      "The configuration running now, as JSON (see docs/config.md for every key). Passwords and other secrets are shown as ",
      h("code", {}, "***redacted***"),
      ": left as they are, they keep their value. Only some keys may be changed here (see ",
      "docs/config.md, keys changeable remotely); the broker, the data folder and licensing come ",
      "from the image or the local file. Apply checks everything first and changes nothing if a ",
      "key is wrong.",
    ),
    form,
  );
}

/**
 * Analytics consent: the notice, and a switch only an admin here can turn (audited).
 * @returns {Promise<HTMLElement>}
 */
async function analyticsConsentPanel() {
  const consent = /** @type {{ enabled: boolean, notice: import("../types.js").Notice }} */ (
    await api("/api/analytics/consent")
  );
  const box = h("input", { type: "checkbox", id: "analytics-consent" });
  box.checked = consent.enabled;
  const result = h("p", {
    id: "analytics-result",
    role: "status",
    hidden: true,
  });
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      const body = {
        enabled: box.checked,
        noticeVersion: consent.notice.version,
      };
      const data = await api("/api/analytics/consent", { method: "PUT", body });
      box.checked = data.enabled;
      result.textContent = data.enabled ? "Consent recorded." : "Consent withdrawn.";
      result.className = "ok-text";
    } catch (e) {
      const err = /** @type {Failure} */ (e);
      if (err.status === 401) {
        return signedOut("Your session has ended; log in again.", "error");
      }
      box.checked = !box.checked;
      result.textContent = err.message;
      result.className = "error-text";
    } finally {
      result.hidden = false;
      box.disabled = false;
    }
  });
  return h(
    "section",
    { class: "panel", id: "analytics-panel" },
    h("h2", {}, "Anonymous usage statistics"),
    h("p", {}, consent.notice.text),
    h(
      "label",
      {},
      box,
      ` I agree to this notice (version ${consent.notice.version}).`,
    ),
    result,
  );
}
