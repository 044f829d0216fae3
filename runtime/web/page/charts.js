// @ts-check
// Small SVG line charts and meter bars (the health screen's), drawn without a library.

import { h } from "./dom.js";
import { fmtNum } from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const CHART_W = 300;
const CHART_H = 80;

/**
 * An SVG element with `attrs` as attributes.
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @returns {SVGElement}
 */
function svg(tag, attrs = {}) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

/**
 * @typedef {object} LineChart
 * @property {string} title
 * @property {(number | null | undefined)[]} values oldest first, null for a missing sample
 * @property {number} slots how many samples the chart holds; the newest is at the right edge
 * @property {string} unit
 * @property {number} [minMax] the scale's least maximum, e.g. 100 for percentages
 * @property {number} [digits]
 * @property {string} id the chart's data-chart
 */

/**
 * A small line chart of `values` on a 0…max scale, `max` at least `minMax`; the latest value is
 * printed above it.
 * @param {LineChart} chart
 * @returns {HTMLElement}
 */
export function lineChart({ title, values, slots, unit, minMax = 1, digits = 1, id }) {
  const known = values.filter(isNumber);
  const max = Math.max(minMax, ...known) * (minMax === 100 ? 1 : 1.15);
  const step = CHART_W / Math.max(1, slots - 1);
  // Newest at the right edge; with fewer than `slots` samples the line starts further right.
  const offset = (slots - values.length) * step;
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
  /** @type {string[]} */
  const points = [];
  /** @type {[string, string]} */
  let lastPoint = ["", ""];
  values.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return;
    const x = (offset + i * step).toFixed(1);
    const y = (CHART_H - 2 - (Math.max(0, v) / max) * (CHART_H - 4)).toFixed(1);
    points.push(`${x},${y}`);
    lastPoint = [x, y];
  });
  if (points.length) {
    root.append(svg("polyline", { points: points.join(" "), class: "line" }));
    const [x, y] = lastPoint;
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

/**
 * @param {unknown} v
 * @returns {v is number}
 */
function isNumber(v) {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * A horizontal bar filled to `percent` (0–100); red from 90 %.
 * @param {number | null} percent
 * @param {string} label
 * @returns {HTMLDivElement}
 */
export function bar(percent, label) {
  const fill = h("span", { class: (percent ?? 0) >= 90 ? "bad" : "" });
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
