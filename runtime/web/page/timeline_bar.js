// @ts-check
// One camera's bar on the timeline: recorded runs (consecutive segments joined), gaps with their
// reason, events as marks, a cursor at the moment shown; click or drag to pick a time, arrow
// keys to move it (Enter plays), a thumbnail of the segment under the pointer.

import { h } from "./dom.js";
import { fmtTime } from "./format.js";

/** @typedef {import("./types.js").Segment} Segment */
/** @typedef {{ startMs: number, endMs: number, reason: string }} Gap */
/** @typedef {{ tsMs: number, kind: string, detail?: unknown }} Mark */
/** @typedef {{ start: number, span: number }} View */

/**
 * What a mark says: the camera's own events by their type and state ("motion on"), others by kind.
 * @param {Mark} ev
 */
export function markLabel(ev) {
  const d = /** @type {{ type?: unknown, active?: unknown }} */ (ev.detail ?? {});
  if (ev.kind !== "camera-event" || typeof d.type !== "string") return ev.kind;
  return d.active === true ? `${d.type} on` : d.active === false ? `${d.type} off` : d.type;
}

/** Segments closer than this are drawn as one run. */
const JOIN_MS = 1_500;

/**
 * @param {Segment[]} segments oldest first
 * @returns {{ startMs: number, endMs: number, kept: boolean }[]}
 */
export function runsOf(segments) {
  /** @type {{ startMs: number, endMs: number, kept: boolean }[]} */
  const runs = [];
  for (const s of segments) {
    const last = runs.at(-1);
    if (
      last && s.startMs - last.endMs <= JOIN_MS &&
      last.kept === (s.locked === true)
    ) {
      last.endMs = Math.max(last.endMs, s.endMs);
    } else {runs.push({
        startMs: s.startMs,
        endMs: s.endMs,
        kept: s.locked === true,
      });}
  }
  return runs;
}

/**
 * @param {string} camera
 * @param {{ pick(ms: number): void, preview(ms: number): void, view(): View }} on
 */
export function timelineBar(camera, on) {
  const layer = h("div", { class: "tl-layer" });
  const cursor = h("div", { class: "tl-cursor", hidden: true });
  const hover = h("div", { class: "tl-hover", hidden: true });
  const thumb = h("img", { alt: "", width: 160 });
  const hoverTime = h("span", {});
  hover.append(thumb, hoverTime);
  // A busy box answers a thumbnail with 503 (one decode at a time, or a slow one): while the
  // pointer stays on that segment, ask again after 1, 2, 4 and 8 s.
  thumb.addEventListener("error", () => {
    thumb.hidden = true;
    const src = thumb.getAttribute("src") ?? "";
    const [base, query] = src.split("?retry=");
    const tries = Number(query ?? 0);
    if (src !== "" && tries < 4) {
      setTimeout(() => {
        if (thumb.getAttribute("src") === src) thumb.src = `${base}?retry=${tries + 1}`;
      }, 1000 * 2 ** tries);
    }
  });
  thumb.addEventListener("load", () => (thumb.hidden = false));
  const bar = h(
    "div",
    {
      class: "tl-bar",
      tabindex: "0",
      role: "slider",
      "aria-label":
        `Recordings of ${camera}: click or use the arrow keys to pick a time, Enter plays`,
      dataset: { camera },
    },
    layer,
    cursor,
  );
  const wrap = h("div", { class: "tl-wrap" }, bar, hover);
  /** @type {Segment[]} */
  let segments = [];
  let cursorMs = NaN;

  /** @param {number} clientX */
  const timeAt = (clientX) => {
    const r = bar.getBoundingClientRect();
    const v = on.view();
    return v.start +
      Math.min(1, Math.max(0, (clientX - r.left) / r.width)) * v.span;
  };
  /** @param {number} ms */
  const pct = (ms) => {
    const v = on.view();
    return ((ms - v.start) / v.span) * 100;
  };

  let dragging = false;
  bar.addEventListener("pointerdown", (e) => {
    dragging = true;
    bar.setPointerCapture(e.pointerId);
    on.preview(timeAt(e.clientX));
  });
  bar.addEventListener("pointermove", (e) => {
    const ms = timeAt(e.clientX);
    if (dragging) on.preview(ms);
    showHover(ms, e.clientX);
  });
  bar.addEventListener("pointerup", (e) => {
    if (!dragging) return;
    dragging = false;
    on.pick(timeAt(e.clientX));
  });
  bar.addEventListener("pointerleave", () => (hover.hidden = true));
  bar.addEventListener("keydown", (e) => {
    const v = on.view();
    const step = (v.span / 144) * (e.shiftKey ? 6 : 1);
    const base = Number.isFinite(cursorMs) ? cursorMs : v.start + v.span / 2;
    /** @type {Record<string, number>} */
    const moves = {
      ArrowLeft: -step,
      ArrowRight: step,
      PageUp: -v.span / 4,
      PageDown: v.span / 4,
    };
    if (e.key in moves) {
      e.preventDefault();
      on.preview(base + (moves[e.key] ?? 0));
    } else if (e.key === "Home" || e.key === "End") {
      e.preventDefault();
      on.preview(e.key === "Home" ? v.start : v.start + v.span - 1);
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      on.pick(base);
    }
  });

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let hoverTimer;
  /**
   * @param {number} ms
   * @param {number} clientX
   */
  function showHover(ms, clientX) {
    const r = bar.getBoundingClientRect();
    hover.hidden = false;
    hover.style.left = `${Math.min(Math.max(0, clientX - r.left - 80), r.width - 160)}px`;
    hoverTime.textContent = fmtTime(ms);
    const seg = segments.find((s) => s.startMs <= ms && ms < s.endMs);
    clearTimeout(hoverTimer);
    if (!seg) {
      thumb.hidden = true;
      return;
    }
    // Only once the pointer rests: a sweep over the bar asks for no thumbnails.
    hoverTimer = setTimeout(() => {
      const src = `/api/recordings/${seg.id}/thumb.jpg`;
      // The same segment (a retry's query aside): leave it to its load or its retries.
      if ((thumb.getAttribute("src") ?? "").split("?")[0] !== src) thumb.src = src;
      else if (thumb.complete && thumb.naturalWidth > 0) thumb.hidden = false;
    }, 120);
  }

  return {
    element: wrap,
    /**
     * @param {Segment[]} segs
     * @param {Gap[]} gaps
     * @param {Mark[]} events
     */
    draw(segs, gaps, events) {
      segments = segs;
      const v = on.view();
      const spans = [];
      for (const run of runsOf(segs)) {
        const left = Math.max(0, pct(run.startMs));
        const right = Math.min(100, pct(run.endMs));
        if (right <= 0 || left >= 100) continue;
        const el = h("span", {
          class: run.kept ? "tl-run kept" : "tl-run",
          title: `${fmtTime(run.startMs)} – ${fmtTime(run.endMs)}${run.kept ? " (kept)" : ""}`,
        });
        el.style.left = `${left}%`;
        el.style.width = `${Math.max(right - left, 0.15)}%`;
        spans.push(el);
      }
      for (const g of gaps) {
        const left = Math.max(0, pct(g.startMs));
        const right = Math.min(100, pct(g.endMs));
        if (right <= left) continue;
        const el = h("span", {
          class: "tl-gap",
          title: `Not recorded: ${g.reason}`,
        });
        el.style.left = `${left}%`;
        el.style.width = `${right - left}%`;
        spans.push(el);
      }
      for (const ev of events) {
        const at = pct(ev.tsMs);
        if (at < 0 || at > 100) continue;
        const el = h("span", {
          class: ev.kind === "camera-event" ? "tl-event tl-camera-event" : "tl-event",
          title: `${fmtTime(ev.tsMs)} ${markLabel(ev)}`,
        });
        el.style.left = `${at}%`;
        spans.push(el);
      }
      layer.replaceChildren(...spans);
      bar.setAttribute("aria-valuemin", String(v.start));
      bar.setAttribute("aria-valuemax", String(v.start + v.span));
      this.cursor(cursorMs);
    },
    /** @param {number} ms */
    cursor(ms) {
      cursorMs = ms;
      const at = pct(ms);
      cursor.hidden = !(at >= 0 && at <= 100);
      cursor.style.left = `${at}%`;
      if (Number.isFinite(ms)) {
        bar.setAttribute("aria-valuenow", String(Math.round(ms)));
        bar.setAttribute("aria-valuetext", fmtTime(ms));
      }
    },
    /**
     * The segment at `ms`, or the first one after it.
     * @param {number} ms
     * @returns {Segment | undefined}
     */
    segmentFrom(ms) {
      return segments.find((s) => s.endMs > ms);
    },
  };
}
