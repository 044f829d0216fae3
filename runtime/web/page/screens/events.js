// @ts-check
// Events: the recent history from /api/events/recent, then server-sent events from /api/events
// as they happen, newest first, while the page is open.

import { api } from "../api.js";
import { h, onLeave, show } from "../dom.js";
import { fmtEventsState, fmtTime } from "../format.js";

/** @typedef {import("../types.js").NvrEvent} NvrEvent */
/** @typedef {import("../types.js").Health} Health */

const EVENTS_KEEP = 500;
/** How many past events the page opens with. */
const HISTORY = 100;

/**
 * An event's detail as "key: value · key: value" (times of *Ms keys as times of day).
 * @param {unknown} detail
 * @returns {string}
 */
function fmtDetail(detail) {
  if (!detail || typeof detail !== "object") return "";
  // A null says "none" (a line crossing's state): nothing to show.
  return Object.entries(detail).filter(([, value]) => value !== null).map(([key, value]) => {
    const shown = typeof value === "number" && key.endsWith("Ms") && value > 1e12
      ? fmtTime(value)
      : typeof value === "object"
      ? JSON.stringify(value)
      : String(value);
    return `${key}: ${shown}`;
  }).join(" · ");
}

/**
 * One event as a list item.
 * @param {NvrEvent} e
 */
function eventItem(e) {
  return h(
    "li",
    { class: "event", dataset: { id: String(e.id), kind: e.kind } },
    h("time", { datetime: new Date(e.tsMs).toISOString() }, fmtTime(e.tsMs)),
    h("strong", { class: "cam" }, e.camera ?? (e.kind === "sensor-alarm" ? "sensor" : "recorder")),
    h("span", { class: "kind" }, e.kind),
    h("span", { class: "detail muted" }, fmtDetail(e.detail)),
  );
}

/**
 * Cameras whose own events (ONVIF motion, inputs) are not coming in, so that their silence in the
 * list is not read as "nothing happened": one line each, from GET /api/health.
 * @param {HTMLElement} box
 */
function markCamerasWithoutEvents(box) {
  api("/api/health").then((data) => {
    const lines = /** @type {Health} */ (data).cameras.filter((c) =>
      c.events && c.events.state !== "subscribed" && c.events.state !== "connecting"
    ).map((c) =>
      h(
        "li",
        { class: "events-missing", dataset: { camera: c.id, events: c.events?.state ?? "" } },
        h("strong", {}, c.id),
        `: camera events ${fmtEventsState(c.events?.state ?? "")}`,
      )
    );
    box.replaceChildren(...lines);
    box.hidden = lines.length === 0;
  }, () => {/* health is optional here; the list still works */});
}

/** Shows the recent events, then new ones as they arrive, until the screen is left. */
export function eventsScreen() {
  const list = h("ol", { class: "events", id: "event-list" });
  const missing = h("ul", { class: "events-missing-list", id: "events-missing", hidden: true });
  markCamerasWithoutEvents(missing);
  const empty = h("p", { class: "muted", id: "no-events" }, "No events yet.");
  const status = h(
    "p",
    { class: "muted", id: "events-status", dataset: { state: "connecting" } },
    "Connecting…",
  );
  /** @type {Set<number>} */
  const shown = new Set();
  /**
   * Puts an event in its place (newest first by time, then id); the history and the stream may overlap.
   * @param {NvrEvent} e
   */
  const add = (e) => {
    if (shown.has(e.id)) return;
    shown.add(e.id);
    empty.hidden = true;
    const item = eventItem(e);
    item.dataset.ts = String(e.tsMs);
    const older = [...list.children].find((li) => {
      const d = /** @type {HTMLElement} */ (li).dataset;
      const ts = Number(d.ts);
      return ts < e.tsMs || (ts === e.tsMs && Number(d.id) < e.id);
    });
    list.insertBefore(item, older ?? null);
    while (list.children.length > EVENTS_KEEP) list.lastElementChild?.remove();
  };
  const source = new EventSource("/api/events");
  let historyAsked = false;
  source.addEventListener("ready", () => {
    status.dataset.state = "open";
    status.textContent = "Connected: new events appear at the top as they happen.";
    // The history once the stream is open, so nothing falls between the two.
    if (historyAsked) return;
    historyAsked = true;
    api(`/api/events/recent?limit=${HISTORY}`).then(
      (data) => {
        for (const e of /** @type {{ events: NvrEvent[] }} */ (data).events) add(e);
        list.dataset.history = "loaded";
      },
      (err) => {
        list.dataset.history = "failed";
        status.textContent += ` (The earlier events could not be read: ${err.message})`;
      },
    );
  });
  source.addEventListener("message", (ev) => {
    try {
      add(JSON.parse(ev.data));
    } catch { /* not an event */ }
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
  show(h("h1", {}, "Events"), status, missing, empty, list);
}
