// @ts-check
// Settings (admins): the running configuration as JSON, applied with PUT /api/config, and the
// analytics consent switch.

import { api } from "../api.js";
import { h, show } from "../dom.js";
import { signedOut } from "../router.js";

/** @typedef {import("../api.js").Failure} Failure */

/** Shows the configuration editor and the analytics consent. */
export async function settingsScreen() {
  const { config } = await api("/api/config");
  const text = h("textarea", {
    id: "settings-json",
    name: "config",
    spellcheck: "false",
    rows: "24",
    "aria-label": "Configuration (JSON)",
  });
  text.value = JSON.stringify(config, null, 2);
  const result = h("p", { id: "settings-result", role: "status", hidden: true });
  /**
   * @param {string} message
   * @param {"ok" | "error"} kind
   */
  const say = (message, kind) => {
    result.textContent = message;
    result.className = kind === "error" ? "error-text" : "ok-text";
    result.dataset.kind = kind;
    result.hidden = false;
  };
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
      say(`Not valid JSON: ${/** @type {Error} */ (err).message}`, "error");
      return;
    }
    button.disabled = true;
    try {
      const data = await api("/api/config", { method: "PUT", body });
      text.value = JSON.stringify(data.config, null, 2);
      say("Applied: the recorder runs the new configuration.", "ok");
    } catch (e) {
      const err = /** @type {Failure} */ (e);
      if (err.status === 401) return signedOut("Your session has ended; log in again.", "error");
      say(err.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  show(
    h("h1", {}, "Settings"),
    h(
      "section",
      { class: "panel" },
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
    ),
    await analyticsConsentPanel(),
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
  const result = h("p", { id: "analytics-result", role: "status", hidden: true });
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      const body = { enabled: box.checked, noticeVersion: consent.notice.version };
      const data = await api("/api/analytics/consent", { method: "PUT", body });
      box.checked = data.enabled;
      result.textContent = data.enabled ? "Consent recorded." : "Consent withdrawn.";
      result.className = "ok-text";
    } catch (e) {
      const err = /** @type {Failure} */ (e);
      if (err.status === 401) return signedOut("Your session has ended; log in again.", "error");
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
