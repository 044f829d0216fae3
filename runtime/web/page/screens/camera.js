// @ts-check
// One camera: live view, the last hour's timeline, playback, and export and keep
// (camera_export.js).

import { api } from "../api.js";
import { h, show } from "../dom.js";
import { codecName, fmtBytes, fmtTime } from "../format.js";
import { liveView } from "../live.js";
import { exportControls } from "./camera_export.js";
import { ptzControls } from "./camera_ptz.js";

/** @typedef {import("../types.js").Segment} Segment */

const H265 = 'video/mp4; codecs="hvc1.1.6.L93.B0"';
const H264 = 'video/mp4; codecs="avc1.640028"';
const HOUR_MS = 3600_000;

/**
 * Shows the camera `cameraId` with its recordings of the last hour.
 * @param {string} cameraId
 */
export async function cameraScreen(cameraId) {
  const to = Date.now();
  const from = to - HOUR_MS;
  const q = new URLSearchParams({ camera: cameraId, from: String(from), to: String(to + 60_000) });
  const [data, { cameras }] = await Promise.all([
    api(`/api/recordings?${q}`),
    api("/api/cameras"),
  ]);
  /** @type {Segment[]} */
  const segments = data.segments;
  const me = /** @type {import("../types.js").Camera[]} */ (cameras).find((cam) =>
    cam.id === cameraId
  );
  const hasLive = me?.live === true;

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
  /** @type {Map<number, HTMLSpanElement>} */
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
          // Recorded before the box's clock was set: the time is an estimate.
          `${seg.clock === "unsynced" ? "time unknown" : fmtTime(seg.startMs)} · ${
            ((seg.endMs - seg.startMs) / 1000).toFixed(0)
          } s`,
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

  /** @param {Segment} seg */
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

  const ptz = ptzControls(cameraId, liveView(cameraId, hasLive, me?.liveWs === true));
  show(
    h("p", {}, h("a", { href: "#/" }, "← All cameras")),
    h("h1", {}, `Camera ${cameraId}`),
    h(
      "div",
      { class: "columns" },
      h("section", {}, ptz.view, ptz.presets, player),
      h(
        "section",
        { class: "panel" },
        h("h2", {}, "Last hour"),
        h(
          "p",
          {},
          h(
            "a",
            { href: `#/timeline/${encodeURIComponent(cameraId)}`, id: "timeline-link" },
            "Timeline: any day, zoom, continuous playback →",
          ),
        ),
        bar,
        h("div", { class: "axis" }, h("span", {}, fmtTime(from)), h("span", {}, fmtTime(to))),
        segments.length
          ? list
          : h("p", { class: "muted", id: "no-segments" }, "No recordings in the last hour."),
        h("h2", {}, "Export and keep"),
        ...exportControls(cameraId, to, () => cameraScreen(cameraId)),
      ),
    ),
  );
}

/**
 * @param {Segment} seg
 * @returns {string}
 */
function downloadUrl(seg) {
  return `/api/recordings/${seg.id}/download`;
}
