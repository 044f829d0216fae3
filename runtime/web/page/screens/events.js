// @ts-check
// Events: server-sent events from /api/events, newest first, while the page is open.

import { h, onLeave, show } from "../dom.js";
import { fmtTime } from "../format.js";

/** @typedef {import("../types.js").NvrEvent} NvrEvent */

const EVENTS_KEEP = 500;

/**
 * An event's detail as "key: value · key: value" (times of *Ms keys as times of day).
 * @param {unknown} detail
 * @returns {string}
 */
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

/** Shows the events as they arrive, until the screen is left. */
export function eventsScreen() {
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
    /** @type {NvrEvent} */
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
    while (list.children.length > EVENTS_KEEP) list.lastElementChild?.remove();
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
