// @ts-check
// Hash routes (#/, #/camera/<id>, #/timeline[/<ids>[/<ms>]], #/health, #/events, #/profile, and for admins #/users, #/audit,
// #/settings, #/plugins, #/find) and the session's start and end. The screens are handed in by main.js, so that
// they can import this module without a cycle.

import { api, SESSION } from "./api.js";
import { byId, leaveScreen, notice } from "./dom.js";

/** A screen: draws itself with show(); a failure it returns is shown (401 signs out). */
/** @typedef {() => unknown} Screen */

/** The screens by name (find: linked from the camera grid); anything else is the camera grid. */
const NAV = /** @type {const} */ ([
  "profile",
  "health",
  "events",
  "exports",
  "users",
  "audit",
  "settings",
  "plugins",
  "find",
]);

/**
 * @typedef {object} Screens
 * @property {(tab?: "login" | "setup") => void} login
 * @property {Screen} grid
 * @property {(cameraId: string) => unknown} camera
 * @property {(cameras?: string, at?: string) => unknown} timeline
 * @property {Record<typeof NAV[number], Screen>} pages
 */

/** @type {Screens | null} */
let screens = null;

/**
 * Sets the screens and follows the hash from now on.
 * @param {Screens} table
 */
export function startRouter(table) {
  screens = table;
  // Moving to another page clears the notice of the last one (signed out, the login screen keeps
  // the notice that says why).
  globalThis.addEventListener("hashchange", () => {
    if (SESSION.user) notice("");
    route();
  });
}

/** @returns {Screens} */
function table() {
  if (!screens) throw new Error("the router was not started; main.js calls startRouter first");
  return screens;
}

/** Draws the screen the hash names (the login screen while nobody is signed in). */
export function route() {
  leaveScreen();
  const s = table();
  if (!SESSION.user) return s.login();
  byId("bar").hidden = false;
  const hash = location.hash.replace(/^#/, "") || "/";
  const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
  const page = NAV.find((name) => name === parts[0]);
  // Find cameras is reached from the camera grid: that link stays marked.
  const nav = page && page !== "find" ? page : parts[0] === "timeline" ? "timeline" : "cameras";
  const isAdmin = SESSION.user.role === "admin";
  for (const a of document.querySelectorAll("[data-admin]")) {
    /** @type {HTMLElement} */ (a).hidden = !isAdmin;
  }
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (/** @type {HTMLElement} */ (a).dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const run = parts[0] === "camera" && parts[1]
    ? s.camera(parts[1])
    : parts[0] === "timeline"
    ? s.timeline(parts[1], parts[2])
    : page
    ? s.pages[page]()
    : s.grid();
  Promise.resolve(run).catch((e) => {
    const err = /** @type {import("./api.js").Failure} */ (e);
    if (err.status === 401) return signedOut("Your session has ended; log in again.", "error");
    notice(err.message, "error");
  });
}

/**
 * Forgets the session and shows the login screen with `message`.
 * @param {string} message
 * @param {"info" | "error"} [kind]
 */
export function signedOut(message, kind) {
  SESSION.user = null;
  SESSION.csrf = "";
  byId("bar").hidden = true;
  notice(message, kind);
  table().login();
}

/** Ends the session on the recorder (if it still has one) and shows the login screen. */
export async function logout() {
  try {
    await api("/api/auth/logout", { method: "POST" });
  } catch { /* the session may be gone already */ }
  location.hash = "#/";
  signedOut("You are logged out.");
}

/**
 * Starts the session of a setup or login answer and draws the screen the hash names.
 * @param {{ user: import("./types.js").User, csrfToken: string }} data
 */
export function startSession(data) {
  SESSION.user = data.user;
  SESSION.csrf = data.csrfToken;
  notice("");
  route();
}
