// @ts-check
// How times, sizes, numbers and codecs are written on the page.

/** @type {Record<string, string>} */
const CODEC_NAMES = { h265: "H.265", h264: "H.264" };

/**
 * A codec's usual name: "h265" → "H.265".
 * @param {string} codec
 * @returns {string}
 */
export const codecName = (codec) => CODEC_NAMES[codec] ?? String(codec).toUpperCase();

const timeFmt = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/**
 * The local time of day, to the second.
 * @param {number} ms
 * @returns {string}
 */
export const fmtTime = (ms) => timeFmt.format(new Date(ms));

const clockFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const clockSecondsFmt = new Intl.DateTimeFormat(undefined, {
  hour: "numeric",
  minute: "2-digit",
  second: "2-digit",
});

/**
 * The local time of day to the minute (or the second), as the locale writes it: "3:01 PM" in a
 * 12-hour locale, "15:01" in a 24-hour one. For axis labels, where cutting fmtTime's text short
 * would drop the AM/PM.
 * @param {number} ms
 * @param {boolean} [seconds]
 * @returns {string}
 */
export const fmtClock = (ms, seconds = false) =>
  (seconds ? clockSecondsFmt : clockFmt).format(new Date(ms));

/**
 * A byte count in kB, MB or GB.
 * @param {number} n
 * @returns {string}
 */
export const fmtBytes = (n) =>
  n >= 1e9
    ? (n / 1e9).toFixed(1) + " GB"
    : n >= 1e6
    ? (n / 1e6).toFixed(1) + " MB"
    : (n / 1e3).toFixed(0) + " kB";

/**
 * A number with `digits` decimals, or "–" when there is none.
 * @param {unknown} v
 * @param {number} [digits]
 * @returns {string}
 */
export const fmtNum = (
  v,
  digits = 1,
) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–");

/**
 * A Date as the value of an <input type="datetime-local"> (local time, to the second).
 * @param {number} ms
 * @returns {string}
 */
export function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

/**
 * A camera's ONVIF events state (GET /api/health `cameras[].events.state`) in words.
 * @param {string} state
 * @returns {string}
 */
export function fmtEventsState(state) {
  switch (state) {
    case "subscribed":
      return "subscribed";
    case "unsupported":
      return "none — this camera has no ONVIF events service, so no motion or inputs are shown";
    case "lost":
      return "subscription lost, subscribing again";
    default:
      return "connecting";
  }
}
