// @ts-check
// Recordings on a timeline (#/timeline[/<camera,camera…>[/<ms>]]): any day with recordings
// (the day picker lists them, in this browser's time zone), a bar per camera that zooms from a
// day to an hour, ten minutes and one minute, gaps and events drawn on it, a thumbnail under the pointer, and
// continuous playback over HLS from the moment picked, on every camera shown at once and kept at
// the same moment (play_sync.js), at 1×/2×/4×/8×. Operators mark a range and export it (an export job, see Exports).

import { api, SESSION } from "../api.js";
import { h, notice, onLeave, show } from "../dom.js";
import { codecName, fmtClock, fmtTime } from "../format.js";
import { canDecode, hlsPlayer } from "../hls_player.js";
import { keepInSync } from "../play_sync.js";
import { timelineBar } from "../timeline_bar.js";

/** @typedef {import("../types.js").Segment} Segment */

const DAY = 86_400_000;
const ZOOMS = /** @type {const} */ ([
  ["24 h", DAY],
  ["1 h", 3600_000],
  ["10 min", 600_000],
  ["1 min", 60_000],
]);
const RATES = [1, 2, 4, 8];
/** How much one playlist covers from the moment picked; playback asks for more at its end. */
const PLAY_SPAN = 2 * 3600_000;
const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/**
 * @param {string} [camerasPart] comma-separated camera ids; all cameras I may see by default
 * @param {string} [atPart] a time (ms) to show and play
 */
export async function timelineScreen(camerasPart, atPart) {
  const { cameras: all } = await api("/api/cameras");
  /** @type {string[]} */
  const visible = all.map((/** @type {{ id: string }} */ c) => c.id);
  const wanted = camerasPart ? camerasPart.split(",").filter((id) => visible.includes(id)) : [];
  const ids = wanted.length ? wanted : visible;
  const dayLists = await Promise.all(
    ids.map((id) =>
      api(
        `/api/cameras/${encodeURIComponent(id)}/days?tz=${encodeURIComponent(TZ)}`,
      )
    ),
  );
  /** @type {string[]} newest first */
  const days = [...new Set(dayLists.flatMap((d) => d.days))].sort().reverse();
  const newest = Math.max(0, ...dayLists.map((d) => d.newestMs ?? 0));
  const at = Number(atPart);
  let cursorMs = Number.isFinite(at) && at > 0 ? at : newest ? newest - 60_000 : Date.now();
  /** @type {{ start: number, span: number }} */
  const view = { start: dayStart(cursorMs), span: DAY };
  let rate = 1;
  /** Marked export range. */
  let markFrom = NaN;
  let markTo = NaN;

  const cursorLabel = h("output", { id: "cursor-time", "aria-live": "polite" });
  /** @type {HTMLDivElement[]} the time axis under each bar */
  const axes = [];
  const axisOf = () => {
    const axis = h("div", { class: "axis" });
    axes.push(axis);
    return axis;
  };

  const rows = ids.map((id) => cameraRow(id));

  function setCursor(/** @type {number} */ ms, follow = false) {
    cursorMs = ms;
    cursorLabel.textContent = `${new Date(ms).toLocaleDateString()} ${fmtTime(ms)}`;
    cursorLabel.dataset.ms = String(Math.round(ms));
    if (
      follow && view.span < DAY &&
      (ms < view.start || ms >= view.start + view.span)
    ) {
      view.start = ms - view.span / 4;
      refresh();
    }
    for (const r of rows) r.bar.cursor(ms);
  }

  function dayStart(/** @type {number} */ ms) {
    const d = new Date(ms);
    return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  }

  // --- Day picker, zoom, speed ------------------------------------------------------------
  const dayPicker = h(
    "select",
    { id: "day-picker", "aria-label": "Day" },
    days.map((d) => h("option", { value: d }, dayLabel(d))),
  );
  if (!days.length) {
    dayPicker.append(h("option", { value: "" }, "No recordings yet"));
  }
  const syncDay = () => {
    const d = new Date(view.start + view.span / 2);
    const key = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    if (days.includes(key)) dayPicker.value = key;
  };
  dayPicker.addEventListener("change", () => showDay(dayPicker.value));
  const showDay = async (/** @type {string} */ key) => {
    const [y, m, d] = key.split("-").map(Number);
    view.start = new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1).getTime();
    view.span = DAY;
    const start = view.start;
    await refresh();
    // The cursor goes to the day's first recording (what zooming in centres on, Enter plays);
    // what plays meanwhile plays on without pulling the cursor back, as after a preview.
    const firsts = rows.flatMap((r) => r.bar.segmentFrom(start)?.startMs ?? []);
    if (view.start !== start || !firsts.length) return;
    for (const r of rows) r.active = false;
    setCursor(Math.max(start, Math.min(...firsts)));
  };
  const stepDay = (/** @type {number} */ dir) => {
    const i = days.indexOf(dayPicker.value) - dir; // newest first
    const next = days[i];
    if (next) {
      dayPicker.value = next;
      showDay(next);
    }
  };
  const zoomButtons = ZOOMS.map(([label, span]) =>
    h("button", {
      type: "button",
      class: "secondary",
      dataset: { zoom: String(span) },
      onclick: () => zoom(span),
    }, label)
  );
  const zoom = (/** @type {number} */ span) => {
    // Around the cursor, or around the middle of the view when the cursor is not in it (a
    // day picked with the day picker stays the day zoomed into).
    const shown = cursorMs >= view.start && cursorMs < view.start + view.span;
    const centre = shown ? cursorMs : view.start + view.span / 2;
    view.span = span;
    view.start = span === DAY ? dayStart(centre) : centre - span / 2;
    refresh();
  };
  const rateButtons = RATES.map((r) =>
    h("button", {
      type: "button",
      class: r === rate ? "" : "secondary",
      dataset: { rate: String(r) },
      onclick: () => {
        rate = r;
        for (const b of rateButtons) {
          b.className = b.dataset.rate === String(r) ? "" : "secondary";
        }
        for (const row of rows) row.player.setRate(r);
      },
    }, `${r}×`)
  );
  const pan = (/** @type {number} */ dir) => {
    view.start += dir * (view.span === DAY ? DAY : view.span / 2);
    refresh();
  };

  // --- Export of a marked range ------------------------------------------------------------
  const mayExport = SESSION.user?.role !== "viewer";
  const markLabel = h(
    "span",
    { class: "muted", id: "mark-range" },
    "No range marked.",
  );
  const showMarks = () => {
    markLabel.textContent = `From ${Number.isFinite(markFrom) ? fmtTime(markFrom) : "…"} to ${
      Number.isFinite(markTo) ? fmtTime(markTo) : "…"
    }`;
  };
  const exportPanel = mayExport
    ? h(
      "div",
      { class: "tl-tools", id: "export-range" },
      h("button", {
        type: "button",
        class: "secondary",
        onclick: () => ((markFrom = cursorMs), showMarks()),
      }, "Mark start"),
      h("button", {
        type: "button",
        class: "secondary",
        onclick: () => ((markTo = cursorMs), showMarks()),
      }, "Mark end"),
      markLabel,
      ...ids.map((id) =>
        h("button", {
          type: "button",
          onclick: () => exportRange(id),
        }, `Export ${id} (MP4)`)
      ),
    )
    : null;
  async function exportRange(/** @type {string} */ camera) {
    if (!(markTo > markFrom)) {
      notice(
        "Mark a start and then a later end on the timeline first.",
        "error",
      );
      return;
    }
    try {
      await api("/api/exports", {
        method: "POST",
        body: { camera, from: Math.round(markFrom), to: Math.round(markTo) },
      });
      notice("Export queued: see its progress and download it under Exports.");
    } catch (err) {
      notice(/** @type {Error} */ (err).message, "error");
    }
  }

  // --- One row per camera: bar and player --------------------------------------------------
  function cameraRow(/** @type {string} */ id) {
    const video = h("video", {
      class: "tl-video",
      muted: true,
      playsInline: true,
      controls: true,
      dataset: { camera: id, state: "idle" },
    });
    const status = h("p", { class: "muted tl-status" });
    const player = hlsPlayer(video, (state, detail) => {
      video.dataset.state = state;
      status.textContent = state === "loading"
        ? "Loading…"
        : state === "empty"
        ? "No recordings from this moment on."
        : state === "error"
        ? `Cannot play: ${detail ?? "unknown error"}`
        : video.dataset.transcoded === "yes"
        ? "H.265 recording shown as H.264 made on the box (reduced size)."
        : "";
      status.className = state === "error" ? "tl-status error" : "muted tl-status";
    });
    video.addEventListener("timeupdate", () => {
      const wall = player.wallMs();
      if (wall !== null && row.active) setCursor(wall, true);
    });
    video.addEventListener("ended", () => {
      const wall = player.wallMs();
      if (wall !== null && wall < Date.now() - 5_000) play(id, wall + 500);
    });
    const bar = timelineBar(id, {
      view: () => view,
      preview: (ms) => {
        for (const r of rows) r.active = false;
        setCursor(ms);
      },
      pick: (ms) => playAll(ms),
    });
    const row = {
      id,
      bar,
      player,
      video,
      status,
      active: false,
      element: h(
        "section",
        { class: "panel tl-row", dataset: { camera: id } },
        h("h2", {}, h("a", { href: `#/camera/${encodeURIComponent(id)}` }, id)),
        bar.element,
        axisOf(),
        h("div", { class: "tl-player" }, video),
        status,
      ),
    };
    return row;
  }

  async function play(/** @type {string} */ id, /** @type {number} */ ms) {
    const row = rows.find((r) => r.id === id);
    if (!row) return;
    const seg = row.bar.segmentFrom(ms) ?? await firstSegmentFrom(id, ms);
    // H.265 without an H.265 decoder: the box transcodes the range to H.264 as it is watched.
    const transcode = seg?.codec === "h265" && !canDecode("h265") &&
      canDecode("h264");
    row.video.dataset.transcoded = transcode ? "yes" : "no";
    if (seg && !transcode && !canDecode(seg.codec)) {
      row.player.stop();
      row.video.dataset.state = "unsupported";
      row.status.className = "tl-status error";
      row.status.textContent = `This camera recorded ${codecName(seg.codec)} here, which this ` +
        "browser cannot decode. Watch it in a browser with " +
        codecName(seg.codec) +
        " support (Safari, or Chrome and Edge with hardware decoding), or export the range " +
        "and open the file in a player such as VLC.";
      return;
    }
    row.active = true;
    await row.player.play(id, ms, PLAY_SPAN, { transcode });
    row.player.setRate(rate);
  }

  function playAll(/** @type {number} */ ms) {
    setCursor(ms);
    history.replaceState(
      null,
      "",
      `#/timeline/${ids.map(encodeURIComponent).join(",")}/${Math.round(ms)}`,
    );
    for (const r of rows) play(r.id, ms);
  }

  /** @returns {Promise<Segment | undefined>} */
  async function firstSegmentFrom(
    /** @type {string} */ id,
    /** @type {number} */ ms,
  ) {
    const q = new URLSearchParams({
      camera: id,
      from: String(Math.round(ms)),
      to: String(Math.round(ms + PLAY_SPAN)),
    });
    const data = await api(`/api/recordings?${q}`).catch(() => null);
    return data?.segments?.[0];
  }

  // --- Drawing -------------------------------------------------------------------------------
  let drawn = 0;
  async function refresh() {
    const ticket = ++drawn;
    for (const b of zoomButtons) {
      b.className = b.dataset.zoom === String(view.span) ? "" : "secondary";
    }
    for (const axis of axes) {
      axis.replaceChildren(
        ...[0, 0.25, 0.5, 0.75, 1].map((f) =>
          // Seconds from 10 min down (ticks 15 s apart at 1 min); AM/PM kept where the locale
          // writes the hour that way.
          h(
            "span",
            {},
            fmtClock(view.start + f * view.span, view.span <= 600_000),
          )
        ),
      );
    }
    syncDay();
    const q = new URLSearchParams({
      from: String(Math.round(view.start)),
      to: String(Math.round(view.start + view.span)),
    });
    const data = await Promise.all(ids.map(async (id) => {
      const [rec, ev] = await Promise.all([
        api(`/api/recordings?camera=${encodeURIComponent(id)}&${q}`),
        api(`/api/cameras/${encodeURIComponent(id)}/events?${q}`).catch(() => ({
          events: [],
        })),
      ]);
      return { rec, ev };
    }));
    if (ticket !== drawn) return; // a newer view was asked for meanwhile
    for (const [i, r] of rows.entries()) {
      const d = data[i];
      if (d) r.bar.draw(d.rec.segments, d.rec.gaps, d.ev.events);
    }
  }

  // Each group wraps as one on a narrow screen (at 390 px "‹" once ended a line, "›" began the next).
  const tools = h(
    "div",
    { class: "tl-tools" },
    h(
      "span",
      { class: "tl-group", role: "group", "aria-label": "Days" },
      h("button", {
        type: "button",
        class: "secondary",
        "aria-label": "Previous day",
        onclick: () => stepDay(-1),
      }, "◀"),
      dayPicker,
      h("button", {
        type: "button",
        class: "secondary",
        "aria-label": "Next day",
        onclick: () => stepDay(1),
      }, "▶"),
    ),
    h(
      "span",
      { class: "tl-group", role: "group", "aria-label": "Zoom" },
      zoomButtons,
    ),
    h(
      "span",
      { class: "tl-group", role: "group", "aria-label": "Move" },
      h("button", {
        type: "button",
        class: "secondary",
        "aria-label": "Earlier",
        onclick: () => pan(-1),
      }, "‹"),
      h("button", {
        type: "button",
        class: "secondary",
        "aria-label": "Later",
        onclick: () => pan(1),
      }, "›"),
    ),
    h(
      "span",
      { class: "tl-group", role: "group", "aria-label": "Speed" },
      rateButtons,
    ),
    cursorLabel,
  );

  const sync = keepInSync(() => rows.map((r) => r.player), () => rate);
  onLeave(() => {
    sync.stop();
    for (const r of rows) r.player.stop();
  });
  show(
    h("h1", {}, "Recordings"),
    tools,
    h(
      "div",
      { class: "tl-rows", id: "timeline-rows" },
      rows.map((r) => r.element),
    ),
    exportPanel ?? "",
  );
  setCursor(cursorMs);
  await refresh();
  if (Number.isFinite(at) && at > 0) playAll(at);
}

/** @param {number} n */
const pad = (n) => String(n).padStart(2, "0");

/** @param {string} key YYYY-MM-DD */
function dayLabel(key) {
  const [y, m, d] = key.split("-").map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1).toLocaleDateString(
    undefined,
    {
      weekday: "short",
      year: "numeric",
      month: "short",
      day: "numeric",
    },
  );
}
