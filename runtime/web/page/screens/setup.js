// @ts-check
// First-run setup: the setup code, the administrator's account and the privacy notice. Offered
// while the API says setup is open; its answer to the POST decides (409 once an admin exists).

import { api } from "../api.js";
import { h, notice } from "../dom.js";
import { accountFields, handleSubmit } from "../forms.js";
import { startSession } from "../router.js";

/**
 * The setup form. `onAlreadySetUp` runs when the recorder turns out to have an admin already.
 * @param {() => void} onAlreadySetUp
 * @returns {HTMLFormElement}
 */
export function setupForm(onAlreadySetUp) {
  const setup = h(
    "form",
    { id: "setup-form", "aria-label": "First-run setup" },
    h(
      "p",
      { class: "muted" },
      "First start of this recorder: create the administrator account. There is no default password.",
    ),
    h(
      "label",
      {},
      "Setup code (printed when the recorder starts: 'setup code: …' on its console and in its " +
        "journal, and kept in the file setup-code in its data folder)",
      h("input", { name: "setupCode", required: true, autocomplete: "off", spellcheck: "false" }),
    ),
    ...accountFields("name", "username"),
    privacyConsent(),
    h("button", { type: "submit" }, "Create admin account"),
  );
  handleSubmit(setup, async (v) => {
    const accept =
      /** @type {HTMLInputElement} */ (setup.elements.namedItem("acceptPrivacyNotice"));
    try {
      await api("/api/setup", {
        method: "POST",
        body: {
          name: v.name,
          email: v.email,
          password: v.password,
          setupCode: v.setupCode,
          acceptPrivacyNotice: accept.checked,
        },
      });
    } catch (e) {
      if (/** @type {import("../api.js").Failure} */ (e).code === "already_set_up") {
        notice(
          "This recorder is already set up: log in, or ask its admin for an account.",
          "error",
        );
        return onAlreadySetUp();
      }
      throw e;
    }
    startSession(
      await api("/api/auth/login", {
        method: "POST",
        body: { email: v.email, password: v.password },
      }),
    );
  });
  return setup;
}

/**
 * The privacy notice (its text comes from GET /api/setup, see showPrivacyNotice) and the box to
 * accept it.
 * @returns {HTMLDivElement}
 */
function privacyConsent() {
  return h(
    "div",
    { class: "privacy" },
    h("p", { id: "privacy-notice", class: "muted" }, "Privacy notice: loading…"),
    h(
      "label",
      {},
      h("input", { type: "checkbox", name: "acceptPrivacyNotice", required: true }),
      " I have read the privacy notice above and accept it",
    ),
  );
}

/**
 * Fills in the privacy notice of the setup form on the page, if it is there.
 * @param {import("../types.js").Notice | undefined} privacyNotice
 */
export function showPrivacyNotice(privacyNotice) {
  const text = document.getElementById("privacy-notice");
  if (text && privacyNotice) {
    text.textContent = `${privacyNotice.text} (privacy notice ${privacyNotice.version})`;
  }
}
