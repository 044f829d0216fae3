// The LAN web page: a small single-page app with hash routes (#/, #/camera/<id>, #/health, #/events,
// #/profile, and for admins #/users, #/audit, #/settings),
// plain DOM code and no framework, talking only to /api on the same origin. Served as-is by the
// daemon (runtime/web/mod.ts): no build step and no network access needed.
//
// Live view, which path is used when (liveView below):
// 1. The camera has an H.264 sub-stream (cameras[].subUrl; /api/cameras says `live: true`): a
//    <video muted autoplay playsinline> plays /api/cameras/<id>/live.mp4, the sub-stream remuxed
//    to fragmented MP4 on the board (no decoding, no encoding), so any browser with H.264 plays it.
// 2. No sub-stream, or the video fails (no H.264 decoder, 429 too many viewers, 503 camera
//    unreachable, the stream ends or stalls): JPEG refresh of /api/cameras/<id>/snapshot once a
//    second, the LAST RESORT (the latest keyframe, decoded on the board).

const SESSION = { user: null, csrf: "" };
/** Cleanups of the current screen (timers, object URLs), run before the next screen is drawn. */
let screenCleanups = [];
const H265 = 'video/mp4; codecs="hvc1.1.6.L93.B0"';
const H264 = 'video/mp4; codecs="avc1.640028"';
const HOUR_MS = 3600_000;
const CODEC_NAMES = { h265: "H.265", h264: "H.264" };
const codecName = (codec) => CODEC_NAMES[codec] ?? String(codec).toUpperCase();

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Creates an element: h("a", { href: "#/" }, "text", child). `on*` props become listeners. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Name, email and a new password: the fields of first-run setup and of adding a user. */
function accountFields(nameComplete, emailComplete) {
  return [
    h(
      "label",
      {},
      "Name",
      h("input", { name: "name", required: true, autocomplete: nameComplete }),
    ),
    h(
      "label",
      {},
      "Email",
      h("input", { name: "email", type: "email", required: true, autocomplete: emailComplete }),
    ),
    h(
      "label",
      {},
      "Password (at least 10 characters)",
      h("input", {
        name: "password",
        type: "password",
        required: true,
        minlength: "10",
        autocomplete: "new-password",
      }),
    ),
  ];
}

/** The privacy notice (its text comes from GET /api/setup) and the box to accept it. */
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

class ApiFailure extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.name = "ApiFailure";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** Calls the API; JSON in and out; the CSRF token on every state-changing request. */
async function api(path, { method = "GET", body } = {}) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && SESSION.csrf) headers["x-csrf-token"] = SESSION.csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data?.error ?? {};
    throw new ApiFailure(
      res.status,
      err.code ?? "http_" + res.status,
      err.message ?? `The recorder answered ${res.status} ${res.statusText}`,
      err.field,
    );
  }
  return data;
}

function notice(text, kind = "info") {
  const el = document.getElementById("notice");
  el.textContent = text ?? "";
  el.className = kind === "error" ? "error" : "";
  el.hidden = !text;
}

/** Stops what the current screen runs; called before the next screen is built. */
function leaveScreen() {
  const cleanups = screenCleanups;
  screenCleanups = [];
  for (const fn of cleanups) {
    try {
      fn();
    } catch { /* a cleanup must not stop the next screen */ }
  }
}

function show(...nodes) {
  document.getElementById("main").replaceChildren(...nodes);
}

function onLeave(fn) {
  screenCleanups.push(fn);
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

/** Runs a form's submit handler with its button disabled, and shows any failure. */
function handleSubmit(form, fn) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      await fn(formValues(form));
    } catch (err) {
      notice(err.message, "error");
      if (err.field) form.elements[err.field]?.focus();
    } finally {
      if (button) button.disabled = false;
    }
  });
}

const timeFmt = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const fmtTime = (ms) => timeFmt.format(new Date(ms));
const fmtBytes = (n) =>
  n >= 1e9
    ? (n / 1e9).toFixed(1) + " GB"
    : n >= 1e6
    ? (n / 1e6).toFixed(1) + " MB"
    : (n / 1e3).toFixed(0) + " kB";
/** A Date as the value of an <input type="datetime-local"> (local time, to the second). */
function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

// ---------------------------------------------------------------------------------------------
// Session: setup, login, logout

async function boot() {
  document.getElementById("logout").addEventListener("click", logout);
  globalThis.addEventListener("hashchange", route);
  try {
    const me = await api("/api/me");
    SESSION.user = me.user;
    SESSION.csrf = me.csrfToken ?? "";
  } catch (err) {
    if (err.status !== 401) notice(err.message, "error");
  }
  route();
}

function signedOut(message, kind) {
  SESSION.user = null;
  SESSION.csrf = "";
  document.getElementById("bar").hidden = true;
  notice(message, kind);
  loginScreen();
}

async function logout() {
  try {
    await api("/api/auth/logout", { method: "POST" });
  } catch { /* the session may be gone already */ }
  location.hash = "#/";
  signedOut("You are logged out.");
}

function startSession(data) {
  SESSION.user = data.user;
  SESSION.csrf = data.csrfToken;
  notice("");
  route();
}

function loginScreen(tab = "login") {
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

  // First run: setup is offered while the API says it is open (and its answer to the POST
  // decides: 409 once an admin exists).
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
    try {
      await api("/api/setup", {
        method: "POST",
        body: {
          name: v.name,
          email: v.email,
          password: v.password,
          setupCode: v.setupCode,
          acceptPrivacyNotice: setup.elements.acceptPrivacyNotice.checked,
        },
      });
    } catch (err) {
      if (err.code === "already_set_up") {
        notice(
          "This recorder is already set up: log in, or ask its admin for an account.",
          "error",
        );
        return pick("login");
      }
      throw err;
    }
    startSession(
      await api("/api/auth/login", {
        method: "POST",
        body: { email: v.email, password: v.password },
      }),
    );
  });

  const tabs = {
    login: h("button", { type: "button", id: "tab-login", onclick: () => pick("login") }, "Log in"),
    setup: h(
      "button",
      { type: "button", id: "tab-setup", onclick: () => pick("setup") },
      "First-run setup",
    ),
  };
  const holder = h("div");
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
    const text = document.getElementById("privacy-notice");
    if (text && privacyNotice) {
      text.textContent = `${privacyNotice.text} (privacy notice ${privacyNotice.version})`;
    }
    if (open) pick("setup");
    else {
      tabs.setup.hidden = true;
      if (tab === "setup") pick("login");
    }
  }).catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// Routing

function route() {
  leaveScreen();
  if (!SESSION.user) return loginScreen();
  document.getElementById("bar").hidden = false;
  const hash = location.hash.replace(/^#/, "") || "/";
  const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
  const nav = ["profile", "health", "events", "users", "audit", "settings"].includes(parts[0])
    ? parts[0]
    : "cameras";
  const isAdmin = SESSION.user.role === "admin";
  for (const a of document.querySelectorAll("[data-admin]")) a.hidden = !isAdmin;
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const run = parts[0] === "camera" && parts[1]
    ? cameraScreen(parts[1])
    : parts[0] === "profile"
    ? profileScreen()
    : parts[0] === "health"
    ? healthScreen()
    : parts[0] === "events"
    ? eventsScreen()
    : parts[0] === "users"
    ? usersScreen()
    : parts[0] === "audit"
    ? auditScreen()
    : parts[0] === "settings"
    ? settingsScreen()
    : gridScreen();
  Promise.resolve(run).catch((err) => {
    if (err.status === 401) return signedOut("Your session has ended; log in again.", "error");
    notice(err.message, "error");
  });
}

// ---------------------------------------------------------------------------------------------
// Live view (see the top of this file for which path is used when)

/** Live video of the sub-stream when `hasLive`, falling back to the JPEG refresh for good. */
function liveView(cameraId, hasLive) {
  if (!hasLive) return liveImage(cameraId);
  const video = h("video", {
    class: "live-video",
    dataset: { camera: cameraId },
    "aria-label": `Live view of ${cameraId}`,
  });
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  const box = h("div", { class: "live" }, video);
  let fellBack = false;
  let left = false;
  let lastTime = -1;
  const fallBack = () => {
    if (fellBack || left) return;
    fellBack = true;
    clearInterval(watchdog);
    // Dropping src ends the request, so the board closes this viewer's pipeline.
    video.removeAttribute("src");
    video.load();
    box.replaceChildren(liveImage(cameraId));
  };
  // No new picture for 10 s (camera gone, stream stalled): the snapshot says more.
  const watchdog = setInterval(() => {
    if (video.currentTime === lastTime) fallBack();
    lastTime = video.currentTime;
  }, 10_000);
  video.addEventListener("error", fallBack);
  video.addEventListener("ended", fallBack);
  video.src = `/api/cameras/${encodeURIComponent(cameraId)}/live.mp4`;
  onLeave(() => {
    left = true;
    clearInterval(watchdog);
    video.removeAttribute("src");
    video.load();
  });
  return box;
}

/**
 * An <img> showing the camera's latest keyframe, fetched again a second after the previous one
 * arrived (never two requests at once), until the screen is left.
 */
function liveImage(cameraId) {
  const img = h("img", {
    class: "snapshot",
    alt: `Live view of ${cameraId}`,
    dataset: { camera: cameraId, frames: "0" },
  });
  const waiting = h("div", { class: "waiting" }, "Waiting for video…");
  const box = h("div", { class: "live" }, img, waiting);
  let url = "";
  let timer = 0;
  let stopped = false;
  async function next() {
    try {
      const res = await fetch(`/api/cameras/${encodeURIComponent(cameraId)}/snapshot`, {
        cache: "no-store",
      });
      if (stopped) return;
      if (res.ok) {
        const blob = await res.blob();
        if (stopped) return;
        const old = url;
        url = URL.createObjectURL(blob);
        img.src = url;
        img.dataset.frames = String(Number(img.dataset.frames) + 1);
        if (old) setTimeout(() => URL.revokeObjectURL(old), 2000);
        waiting.hidden = true;
      } else {
        await res.body?.cancel();
        waiting.hidden = false;
        waiting.textContent = res.status === 503
          ? "No picture yet (camera connecting)"
          : `No picture (${res.status})`;
      }
    } catch {
      waiting.hidden = false;
      waiting.textContent = "Recorder not reachable";
    }
    if (!stopped) timer = setTimeout(next, 1000);
  }
  next();
  onLeave(() => {
    stopped = true;
    clearTimeout(timer);
    if (url) URL.revokeObjectURL(url);
  });
  return box;
}

async function gridScreen() {
  const { cameras } = await api("/api/cameras");
  const grid = h("div", { class: "grid", id: "camera-grid" });
  const cards = new Map();
  for (const cam of cameras) {
    const meta = h("div", { class: "meta" });
    cards.set(cam.id, meta);
    grid.append(
      h(
        "a",
        {
          class: "camera",
          href: `#/camera/${encodeURIComponent(cam.id)}`,
          dataset: { camera: cam.id },
        },
        h("div", { class: "view" }, liveView(cam.id, cam.live === true)),
        meta,
      ),
    );
  }
  const fill = (list) => {
    for (const cam of list) {
      const meta = cards.get(cam.id);
      if (!meta) continue;
      meta.replaceChildren(
        h("strong", {}, cam.id),
        h("span", { class: `state-${cam.state}` }, cam.state),
        h(
          "span",
          { class: "muted" },
          `${cam.stats.fpsIn.toFixed(1)} fps · ${Math.round(cam.stats.bitrateKbps)} kbit/s`,
        ),
      );
    }
  };
  fill(cameras);
  const poll = setInterval(async () => {
    try {
      fill((await api("/api/cameras")).cameras);
    } catch { /* shown on the next navigation */ }
  }, 5000);
  onLeave(() => clearInterval(poll));
  show(
    h("h1", {}, "Cameras"),
    cameras.length ? grid : h(
      "p",
      { class: "muted" },
      "No cameras you may see. An admin adds cameras and gives access.",
    ),
    h(
      "p",
      { class: "muted" },
      "Live view: video of the camera's sub-stream where it has one, else a still picture a " +
        "second (latest keyframe).",
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// One camera: live view, the last hour's timeline, playback, export

async function cameraScreen(cameraId) {
  const to = Date.now();
  const from = to - HOUR_MS;
  const q = new URLSearchParams({ camera: cameraId, from: String(from), to: String(to + 60_000) });
  const [data, { cameras }] = await Promise.all([
    api(`/api/recordings?${q}`),
    api("/api/cameras"),
  ]);
  const segments = data.segments;
  const hasLive = cameras.some((cam) => cam.id === cameraId && cam.live === true);

  const bar = h("div", {
    class: "timeline",
    id: "timeline",
    "aria-label": "Recordings in the last hour",
  });
  const player = h(
    "div",
    { class: "player", id: "player" },
    h("p", { class: "muted" }, "Choose a recording to play."),
  );
  const list = h("ul", { class: "segments", id: "segments" });
  const marks = new Map();
  for (const seg of segments) {
    const left = Math.max(0, (seg.startMs - from) / HOUR_MS) * 100;
    const width = Math.max(0, (Math.min(seg.endMs, to) - Math.max(seg.startMs, from)) / HOUR_MS) *
      100;
    const mark = h("span", {
      title: `${fmtTime(seg.startMs)} – ${fmtTime(seg.endMs)}${seg.locked ? " (kept)" : ""}`,
      class: seg.locked ? "kept" : "",
      onclick: () => play(seg),
    });
    mark.style.left = `${left}%`;
    mark.style.width = `${width}%`;
    marks.set(seg.id, mark);
    bar.append(mark);
  }
  for (const seg of [...segments].reverse().slice(0, 300)) {
    list.append(
      h(
        "li",
        { class: "segment", dataset: { id: String(seg.id) } },
        h(
          "span",
          { class: "when" },
          `${fmtTime(seg.startMs)} · ${((seg.endMs - seg.startMs) / 1000).toFixed(0)} s`,
        ),
        h(
          "span",
          { class: "muted" },
          `${codecName(seg.codec)} ${seg.width ?? "?"}×${seg.height ?? "?"} · ${
            fmtBytes(seg.bytes)
          }`,
        ),
        seg.locked
          ? h("span", { class: "badge kept", title: "Kept: retention does not delete it" }, "kept")
          : null,
        h("button", { type: "button", class: "secondary play", onclick: () => play(seg) }, "Play"),
        h("a", { href: downloadUrl(seg), download: "", class: "download" }, "Download"),
      ),
    );
  }

  function play(seg) {
    for (const [id, m] of marks) m.classList.toggle("playing", id === seg.id);
    const type = seg.codec === "h265" ? H265 : seg.codec === "h264" ? H264 : "video/mp4";
    const canPlay = h("video").canPlayType(type) !== "";
    const download = h("a", {
      href: downloadUrl(seg),
      download: "",
      class: "button secondary",
      id: "player-download",
    }, "Download this recording");
    const fallback = h(
      "div",
      { class: "fallback", id: "player-fallback" },
      `This browser cannot play ${
        codecName(seg.codec)
      } video. Download the recording and open it in a player such as VLC or mpv.`,
    );
    if (!canPlay) {
      player.replaceChildren(fallback, h("p", {}, download));
      return;
    }
    const video = h("video", {
      controls: true,
      autoplay: true,
      muted: true,
      playsInline: true,
      src: downloadUrl(seg),
    });
    video.addEventListener("error", () => player.replaceChildren(fallback, h("p", {}, download)));
    player.replaceChildren(video, h("p", {}, download));
  }

  // Export a time range as one MP4 (segments joined without re-encoding, at most 3 hours).
  const exportFrom = h("input", {
    type: "datetime-local",
    step: "1",
    name: "from",
    value: localInput(to - 5 * 60_000),
  });
  const exportTo = h("input", {
    type: "datetime-local",
    step: "1",
    name: "to",
    value: localInput(to + 60_000),
  });
  // Exporting keeps (locks) the recordings, so it is asked for by POST; the answer is a one-use
  // URL that the browser downloads as a file (a long clip never sits in page memory).
  const exportLink = h("button", { type: "button", id: "export-link" }, "Export MP4");
  exportLink.addEventListener("click", async () => {
    exportLink.disabled = true;
    try {
      const res = await api("/api/recordings/export", {
        method: "POST",
        body: {
          camera: cameraId,
          from: new Date(exportFrom.value).getTime(),
          to: new Date(exportTo.value).getTime(),
        },
      });
      const a = h("a", { href: res.url, download: "" });
      a.id = "export-download";
      document.body.append(a);
      a.click();
      a.remove();
      notice(`Exporting ${res.segments} recording${res.segments === 1 ? "" : "s"}; they are kept.`);
    } catch (err) {
      notice(err.message, "error");
    } finally {
      exportLink.disabled = false;
    }
  });

  // Keep (lock) or release a time range: kept recordings are never deleted by retention.
  // Exporting keeps its recordings too. Operators and admins only; the API says so as well.
  const mayKeep = SESSION.user.role !== "viewer";
  const keep = (locked) => async (ev) => {
    const button = ev.currentTarget;
    button.disabled = true;
    try {
      const res = await api("/api/recordings/lock", {
        method: "POST",
        body: {
          camera: cameraId,
          from: new Date(exportFrom.value).getTime(),
          to: new Date(exportTo.value).getTime(),
          locked,
        },
      });
      await cameraScreen(cameraId);
      notice(
        `${res.segments} recording${res.segments === 1 ? "" : "s"} ${
          locked ? "kept: retention will not delete them" : "released to retention"
        }.`,
      );
    } catch (err) {
      notice(err.message, "error");
      button.disabled = false;
    }
  };
  const keepControls = mayKeep
    ? [
      h(
        "div",
        { class: "row" },
        h("label", {}, "From", exportFrom),
        h("label", {}, "To", exportTo),
      ),
      h(
        "div",
        { class: "row" },
        exportLink,
        h("button", { type: "button", id: "keep-range", onclick: keep(true) }, "Keep"),
        h(
          "button",
          { type: "button", class: "secondary", id: "release-range", onclick: keep(false) },
          "Release",
        ),
      ),
      h(
        "p",
        { class: "muted" },
        "Exported and kept recordings stay on the disk until released.",
      ),
    ]
    : [
      h(
        "p",
        { class: "muted", id: "keep-needs-role" },
        "Exporting and keeping recordings needs the operator or admin role.",
      ),
    ];

  show(
    h("p", {}, h("a", { href: "#/" }, "← All cameras")),
    h("h1", {}, `Camera ${cameraId}`),
    h(
      "div",
      { class: "columns" },
      h("section", {}, liveView(cameraId, hasLive), player),
      h(
        "section",
        { class: "panel" },
        h("h2", {}, "Last hour"),
        bar,
        h("div", { class: "axis" }, h("span", {}, fmtTime(from)), h("span", {}, fmtTime(to))),
        segments.length
          ? list
          : h("p", { class: "muted", id: "no-segments" }, "No recordings in the last hour."),
        h("h2", {}, "Export and keep"),
        ...keepControls,
      ),
    ),
  );
}

function downloadUrl(seg) {
  return `/api/recordings/${seg.id}/download`;
}

// ---------------------------------------------------------------------------------------------
// Health: charts of the samples taken since the page opened (GET /api/health every 5 s)

const HEALTH_POLL_MS = 5000;
const HEALTH_KEEP = 120;
const SVG_NS = "http://www.w3.org/2000/svg";
const CHART_W = 300;
const CHART_H = 80;

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

const fmtNum = (
  v,
  digits = 1,
) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–");

/**
 * A small line chart of `values` (oldest first, null for a missing sample) on a 0…max scale,
 * `max` at least `minMax` (e.g. 100 for percentages); the latest value is printed above it.
 */
function lineChart({ title, values, unit, minMax = 1, digits = 1, id }) {
  const known = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  const max = Math.max(minMax, ...known) * (minMax === 100 ? 1 : 1.15);
  const step = CHART_W / Math.max(1, HEALTH_KEEP - 1);
  // Newest at the right edge; with fewer than HEALTH_KEEP samples the line starts further right.
  const offset = (HEALTH_KEEP - values.length) * step;
  const root = svg("svg", {
    viewBox: `0 0 ${CHART_W} ${CHART_H}`,
    class: "chart",
    role: "img",
    "aria-label": `${title}: last ${values.length} samples`,
    preserveAspectRatio: "none",
  });
  for (const frac of [0.25, 0.5, 0.75]) {
    root.append(svg("line", {
      x1: 0,
      x2: CHART_W,
      y1: CHART_H * frac,
      y2: CHART_H * frac,
      class: "grid-line",
    }));
  }
  const points = [];
  values.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return;
    const x = offset + i * step;
    const y = CHART_H - 2 - (Math.max(0, v) / max) * (CHART_H - 4);
    points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  if (points.length) {
    root.append(svg("polyline", { points: points.join(" "), class: "line" }));
    const [x, y] = points[points.length - 1].split(",");
    root.append(svg("circle", { cx: x, cy: y, r: 2.5, class: "dot" }));
  }
  const latest = values[values.length - 1];
  return h(
    "figure",
    { class: "chart-box", dataset: { chart: id } },
    h(
      "figcaption",
      {},
      h("span", {}, title),
      h("strong", { class: "value" }, `${fmtNum(latest, digits)} ${unit}`),
    ),
    root,
    h("div", { class: "axis" }, h("span", {}, `max ${fmtNum(max, digits)}`), h("span", {}, "now")),
  );
}

/** A horizontal bar filled to `percent` (0–100); red from 90 %. */
function bar(percent, label) {
  const fill = h("span", { class: percent >= 90 ? "bad" : "" });
  fill.style.width = `${Math.min(100, Math.max(0, percent ?? 0))}%`;
  return h("div", {
    class: "bar",
    role: "meter",
    "aria-label": label,
    "aria-valuemin": "0",
    "aria-valuemax": "100",
    "aria-valuenow": String(Math.round(percent ?? 0)),
  }, fill);
}

async function healthScreen() {
  const samples = [];
  const box = h("div", { id: "health" });
  const status = h("p", { class: "muted", id: "health-status" });
  let stopped = false;
  let timer = 0;
  const series = (pick) => samples.map((s) => pick(s.health) ?? null);

  function draw() {
    const last = samples[samples.length - 1];
    if (!last) return;
    const hl = last.health;
    status.textContent = `${samples.length} sample${samples.length === 1 ? "" : "s"} since ` +
      `${fmtTime(samples[0].t)}, every ${HEALTH_POLL_MS / 1000} s · last ${fmtTime(last.t)}`;
    const temps = hl.temperatures ?? [];
    const system = h(
      "section",
      { class: "panel" },
      h("h2", {}, "Recorder"),
      h(
        "div",
        { class: "charts" },
        lineChart({
          title: "CPU",
          values: series((x) => x.cpu?.usedPercent),
          unit: "%",
          minMax: 100,
          id: "cpu",
        }),
        lineChart({
          title: "Memory",
          values: series((x) => x.memory?.usedPercent),
          unit: "%",
          minMax: 100,
          id: "memory",
        }),
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Temperature"),
        h(
          "dd",
          { id: "health-temp" },
          hl.cpuTemperatureC === null || hl.cpuTemperatureC === undefined
            ? "no sensor"
            : `${fmtNum(hl.cpuTemperatureC)} °C`,
          temps.length > 1
            ? h(
              "span",
              { class: "muted" },
              ` (${temps.map((t) => `${t.type} ${fmtNum(t.celsius)} °C`).join(", ")})`,
            )
            : null,
        ),
        h("dt", {}, "Load (1/5/15 min)"),
        h(
          "dd",
          {},
          hl.load
            ? `${fmtNum(hl.load.one, 2)} / ${fmtNum(hl.load.five, 2)} / ${
              fmtNum(hl.load.fifteen, 2)
            }`
            : "–",
        ),
        h("dt", {}, "Memory"),
        h(
          "dd",
          {},
          hl.memory ? `${fmtBytes(hl.memory.usedBytes)} of ${fmtBytes(hl.memory.totalBytes)}` : "–",
        ),
        h("dt", {}, "Up"),
        h(
          "dd",
          {},
          typeof hl.uptimeSeconds === "number"
            ? `${(hl.uptimeSeconds / 86400).toFixed(1)} days`
            : "–",
        ),
      ),
    );
    const disks = h(
      "section",
      { class: "panel" },
      h("h2", {}, "Disks"),
      (hl.disks ?? []).map((d) =>
        h(
          "div",
          { class: "disk", dataset: { disk: d.label } },
          h(
            "div",
            { class: "disk-head" },
            h("strong", {}, d.label),
            h("span", { class: "muted" }, d.path),
            h(
              "span",
              {},
              d.usedPercent === null
                ? (d.error ?? "not readable")
                : `${fmtNum(d.usedPercent, 0)} % · ${fmtBytes(d.availableBytes ?? 0)} free of ${
                  fmtBytes(d.totalBytes ?? 0)
                }`,
            ),
          ),
          bar(d.usedPercent, `${d.label} disk used`),
        )
      ),
    );
    const ids = [...new Set(samples.flatMap((s) => s.health.cameras.map((c) => c.id)))];
    const cams = h(
      "section",
      { class: "panel" },
      h("h2", {}, "Cameras"),
      ids.length ? null : h("p", { class: "muted" }, "No cameras you may see."),
      ids.map((id) => {
        const now = hl.cameras.find((c) => c.id === id);
        const cam = (pick) => series((x) => pick(x.cameras.find((c) => c.id === id)));
        return h(
          "div",
          { class: "camera-health", dataset: { camera: id } },
          h(
            "h3",
            {},
            id,
            " ",
            h("span", { class: `state-${now?.state ?? "gone"}` }, now?.state ?? "gone"),
            now ? h("span", { class: "muted" }, ` ${now.codec} ${now.mode}`) : null,
          ),
          now?.lastError ? h("p", { class: "error-text" }, now.lastError) : null,
          h(
            "div",
            { class: "charts" },
            lineChart({
              title: "Frames in",
              values: cam((c) => c?.fps),
              unit: "fps",
              minMax: 1,
              id: `fps-${id}`,
            }),
            lineChart({
              title: "Bitrate",
              values: cam((c) => c?.bitrateKbps),
              unit: "kbit/s",
              minMax: 1,
              digits: 0,
              id: `bitrate-${id}`,
            }),
          ),
        );
      }),
    );
    box.replaceChildren(h("div", { class: "columns" }, system, disks), cams);
  }

  async function poll() {
    try {
      samples.push({ t: Date.now(), health: await api("/api/health") });
      if (samples.length > HEALTH_KEEP) samples.splice(0, samples.length - HEALTH_KEEP);
      if (!stopped) draw();
    } catch (err) {
      if (stopped) return;
      if (err.status === 401) return signedOut("Your session has ended; log in again.", "error");
      status.textContent = `Could not read the health (${err.message}); trying again.`;
    }
    if (!stopped) timer = setTimeout(poll, HEALTH_POLL_MS);
  }

  onLeave(() => {
    stopped = true;
    clearTimeout(timer);
  });
  show(h("h1", {}, "Health"), status, box);
  await poll();
}

// ---------------------------------------------------------------------------------------------
// Events: server-sent events from /api/events, newest first, while the page is open

const EVENTS_KEEP = 500;

function fmtDetail(detail) {
  if (!detail || typeof detail !== "object") return "";
  return Object.entries(detail).map(([key, value]) => {
    const shown = typeof value === "number" && key.endsWith("Ms") && value > 1e12
      ? fmtTime(value)
      : typeof value === "object"
      ? JSON.stringify(value)
      : String(value);
    return `${key}: ${shown}`;
  }).join(" · ");
}

function eventsScreen() {
  const list = h("ol", { class: "events", id: "event-list" });
  const empty = h("p", { class: "muted", id: "no-events" }, "No events since this page opened.");
  const status = h(
    "p",
    { class: "muted", id: "events-status", dataset: { state: "connecting" } },
    "Connecting…",
  );
  const source = new EventSource("/api/events");
  source.addEventListener("ready", () => {
    status.dataset.state = "open";
    status.textContent = "Connected: new events appear at the top as they happen.";
  });
  source.addEventListener("message", (ev) => {
    let e;
    try {
      e = JSON.parse(ev.data);
    } catch {
      return;
    }
    empty.hidden = true;
    list.prepend(
      h(
        "li",
        { class: "event", dataset: { id: String(e.id), kind: e.kind } },
        h("time", { datetime: new Date(e.tsMs).toISOString() }, fmtTime(e.tsMs)),
        h("strong", { class: "cam" }, e.camera ?? "recorder"),
        h("span", { class: "kind" }, e.kind),
        h("span", { class: "detail muted" }, fmtDetail(e.detail)),
      ),
    );
    while (list.children.length > EVENTS_KEEP) list.lastElementChild.remove();
  });
  source.addEventListener("error", () => {
    // The browser reconnects by itself (sending Last-Event-ID) unless the stream was refused.
    const closed = source.readyState === EventSource.CLOSED;
    status.dataset.state = closed ? "closed" : "reconnecting";
    status.textContent = closed
      ? "The event stream was closed by the recorder; reload the page (or log in again)."
      : "Connection lost; reconnecting…";
  });
  onLeave(() => source.close());
  show(h("h1", {}, "Events"), status, empty, list);
}

// ---------------------------------------------------------------------------------------------
// My profile: view, edit, export, delete

const PROFILE_FIELDS = [
  ["name", "Name", "text", true],
  ["email", "Email", "email", true],
  ["surname", "Surname", "text", false],
  ["patronymic", "Patronymic", "text", false],
  ["phone", "Phone (+491701234567)", "tel", false],
  ["telegram", "Telegram (@name)", "text", false],
];

function profileScreen() {
  const me = SESSION.user;
  const edit = h(
    "form",
    { id: "profile-form" },
    PROFILE_FIELDS.map(([key, label, type, required]) =>
      h("label", {}, label, h("input", { name: key, type, required, value: me[key] ?? "" }))
    ),
    h("button", { type: "submit" }, "Save"),
  );
  handleSubmit(edit, async (v) => {
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

// ---------------------------------------------------------------------------------------------
// Admin screens: users, audit log, settings (the API refuses them to non-admins with 403)

const ROLES = ["admin", "operator", "viewer"];

/** A <select> of the roles with `role` chosen. */
function roleSelect(name, role) {
  const select = h(
    "select",
    { name, "aria-label": "Role" },
    ROLES.map((r) => h("option", { value: r }, r)),
  );
  select.value = role;
  return select;
}

/** Checkboxes, one per camera id, named `name`; those in `chosen` ticked. */
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

function checkedValues(root, name) {
  return [...root.querySelectorAll(`input[type=checkbox][name="${name}"]:checked`)].map((el) =>
    el.value
  );
}

async function usersScreen() {
  const [{ users }, { cameras }] = await Promise.all([api("/api/users"), api("/api/cameras")]);
  const cameraIds = cameras.map((c) => c.id);
  const body = h("tbody");
  const redraw = () => route();

  for (const user of users) {
    const role = roleSelect("role", user.role);
    const cams = cameraChecks("cameras", cameraIds, user.cameras);
    const save = h("button", { type: "button", class: "secondary save" }, "Save");
    const del = h("button", { type: "button", class: "danger delete" }, "Delete");
    const sure = h("button", { type: "button", class: "danger confirm", hidden: true }, "Delete!");
    const cancel = h("button", { type: "button", class: "secondary cancel", hidden: true }, "Keep");
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
    const busy = async (fn) => {
      for (const b of row.querySelectorAll("button")) b.disabled = true;
      try {
        await fn();
      } catch (err) {
        notice(err.message, "error");
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
    // Deleting asks once more in place (no browser dialog).
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
    body.append(row);
  }

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

const AUDIT_SHOWN = 200;
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });

async function auditScreen() {
  const { entries } = await api(`/api/audit?limit=${AUDIT_SHOWN}`);
  show(
    h("h1", {}, "Audit log"),
    h(
      "p",
      {},
      `The latest ${AUDIT_SHOWN} entries, newest first. `,
      h(
        "a",
        { class: "button secondary", href: "/api/audit/export", download: "", id: "audit-export" },
        "Export JSON",
      ),
    ),
    entries.length
      ? h(
        "section",
        { class: "panel scroll" },
        h(
          "table",
          { id: "audit-list" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Time", "Who", "Action", "Target", "IP", "Browser", "Outcome"].map((t) =>
                h("th", {}, t)
              ),
            ),
          ),
          h(
            "tbody",
            {},
            entries.map((e) =>
              h(
                "tr",
                { dataset: { action: e.action, outcome: e.outcome } },
                h(
                  "td",
                  { class: "nowrap" },
                  h(
                    "time",
                    { datetime: new Date(e.tsMs).toISOString() },
                    dateTimeFmt.format(e.tsMs),
                  ),
                ),
                h("td", {}, e.userName ?? (e.userId === null ? "–" : `user ${e.userId}`)),
                h("td", {}, e.action),
                h("td", {}, e.target || "–"),
                h("td", { class: "nowrap" }, e.ip),
                h("td", { class: "ua", title: e.userAgent }, e.userAgent),
                h("td", { class: `outcome-${e.outcome}` }, e.outcome),
              )
            ),
          ),
        ),
      )
      : h("p", { class: "muted" }, "No entries yet."),
  );
}

async function settingsScreen() {
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
  const say = (message, kind) => {
    result.textContent = message;
    result.className = kind === "error" ? "error-text" : "ok-text";
    result.dataset.kind = kind;
    result.hidden = false;
  };
  const form = h(
    "form",
    { id: "settings-form" },
    text,
    h("div", { class: "row" }, h("button", { type: "submit" }, "Apply"), result),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    let body;
    try {
      body = JSON.parse(text.value);
    } catch (err) {
      say(`Not valid JSON: ${err.message}`, "error");
      return;
    }
    button.disabled = true;
    try {
      const data = await api("/api/config", { method: "PUT", body });
      text.value = JSON.stringify(data.config, null, 2);
      say("Applied: the recorder runs the new configuration.", "ok");
    } catch (err) {
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

/** Analytics consent: the notice, and a switch only an admin here can turn (audited). */
async function analyticsConsentPanel() {
  const consent = await api("/api/analytics/consent");
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
    } catch (err) {
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

boot();
