// @ts-check
// The LAN web page: a small single-page app with hash routes, plain DOM code and no framework,
// talking only to /api on the same origin. Served as-is by the daemon (runtime/web/mod.ts): native
// ES modules, no build step and no network access needed. This is its entry: it wires the
// screens (screens/*.js) into the router and starts with the session the recorder knows.

import { api, SESSION } from "./api.js";
import { byId, notice } from "./dom.js";
import { logout, route, startRouter } from "./router.js";
import { auditScreen } from "./screens/audit.js";
import { cameraScreen } from "./screens/camera.js";
import { eventsScreen } from "./screens/events.js";
import { exportsScreen } from "./screens/exports.js";
import { findScreen } from "./screens/find.js";
import { gridScreen } from "./screens/grid.js";
import { healthScreen } from "./screens/health.js";
import { loginScreen } from "./screens/login.js";
import { pluginsScreen } from "./screens/plugins.js";
import { profileScreen } from "./screens/profile.js";
import { settingsScreen } from "./screens/settings.js";
import { timelineScreen } from "./screens/timeline.js";
import { usersScreen } from "./screens/users.js";

async function boot() {
  byId("logout").addEventListener("click", logout);
  startRouter({
    login: loginScreen,
    grid: gridScreen,
    camera: cameraScreen,
    timeline: timelineScreen,
    pages: {
      profile: profileScreen,
      health: healthScreen,
      events: eventsScreen,
      exports: exportsScreen,
      users: usersScreen,
      audit: auditScreen,
      settings: settingsScreen,
      plugins: pluginsScreen,
      find: findScreen,
    },
  });
  try {
    const me = await api("/api/me");
    SESSION.user = me.user;
    SESSION.csrf = me.csrfToken ?? "";
  } catch (e) {
    const err = /** @type {import("./api.js").Failure} */ (e);
    if (err.status !== 401) notice(err.message, "error");
  }
  route();
}

boot();
