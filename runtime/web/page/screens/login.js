// @ts-check
// The signed-out screen: the login form, and the first-run setup tab while setup is open.

import { api } from "../api.js";
import { h, leaveScreen, show } from "../dom.js";
import { handleSubmit } from "../forms.js";
import { startSession } from "../router.js";
import { setupForm, showPrivacyNotice } from "./setup.js";

/**
 * Shows the login screen on `tab`; a recorder that is not set up yet opens on setup.
 * @param {"login" | "setup"} [tab]
 */
export function loginScreen(tab = "login") {
  leaveScreen();
  const login = h(
    "form",
    { id: "login-form", "aria-label": "Log in" },
    h(
      "label",
      {},
      "Email",
      h("input", { name: "email", type: "email", required: true, autocomplete: "username" }),
    ),
    h(
      "label",
      {},
      "Password",
      h("input", {
        name: "password",
        type: "password",
        required: true,
        autocomplete: "current-password",
      }),
    ),
    h("button", { type: "submit" }, "Log in"),
  );
  handleSubmit(login, async (v) => {
    startSession(
      await api("/api/auth/login", {
        method: "POST",
        body: { email: v.email, password: v.password },
      }),
    );
  });
  const setup = setupForm(() => pick("login"));

  const tabs = {
    login: h("button", { type: "button", id: "tab-login", onclick: () => pick("login") }, "Log in"),
    setup: h(
      "button",
      { type: "button", id: "tab-setup", onclick: () => pick("setup") },
      "First-run setup",
    ),
  };
  const holder = h("div");
  /** @param {"login" | "setup"} which */
  function pick(which) {
    tabs.login.className = which === "login" ? "" : "secondary";
    tabs.setup.className = which === "setup" ? "" : "secondary";
    holder.replaceChildren(which === "login" ? login : setup);
  }
  pick(tab);
  show(
    h(
      "section",
      { class: "panel narrow" },
      h("h1", {}, "Network video recorder"),
      h("div", { class: "tabs" }, tabs.login, tabs.setup),
      holder,
    ),
  );
  // A recorder that is set up has no use for the setup tab; a new one opens on it.
  api("/api/setup").then(({ open, privacyNotice }) => {
    showPrivacyNotice(privacyNotice);
    if (open) pick("setup");
    else {
      tabs.setup.hidden = true;
      if (tab === "setup") pick("login");
    }
  }).catch(() => {});
}
