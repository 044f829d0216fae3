// @ts-check
// One camera: live view, the last hour's timeline, playback, and export and keep
// (camera_export.js). A recording plays in the browser's own <video> where it decodes the codec;
// an H.265 recording in a browser without H.265 (Chromium without hardware decoding) plays as
// H.264 made on the box from that segment (the timeline's on-demand range transcode, one slot of
// http.transcodesMax while it runs); where the box cannot, the reason and a download are shown.

import { api } from "../api.js";
import { h, onLeave, show } from "../dom.js";
import { codecName, fmtBytes, fmtTime } from "../format.js";
import { canDecode, hlsPlayer } from "../hls_player.js";
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

  /** The transcoded player now shown, stopped when another recording plays or the screen is left. */
  /** @type {{ stop(): void } | null} */
  let current = null;
  onLeave(() => current?.stop());

  /** @param {Segment} seg */
  function play(seg) {
    for (const [id, m] of marks) m.classList.toggle("playing", id === seg.id);
    current?.stop();
    current = null;
    const type = seg.codec === "h265" ? H265 : seg.codec === "h264" ? H264 : "video/mp4";
    const canPlay = h("video").canPlayType(type) !== "";
    const download = h("a", {
      href: downloadUrl(seg),
      download: "",
      class: "button secondary",
      id: "player-download",
    }, "Download this recording");
    /** @param {string} [why] what the box said, when it could not make H.264 of it */
    const fallback = (why) =>
      player.replaceChildren(
        h(
          "div",
          { class: "fallback", id: "player-fallback" },
          `This browser cannot play ${codecName(seg.codec)} video${
            why ? `, and the box cannot show it as H.264 now: ${why}` : "."
          } Download the recording and open it in a player such as VLC or mpv.`,
        ),
        h("p", {}, download),
      );
    if (!canPlay && seg.codec === "h265" && canDecode("h264")) {
      void transcoded(seg, download, fallback);
      return;
    }
    if (!canPlay) {
      fallback();
      return;
    }
    const video = h("video", {
      controls: true,
      autoplay: true,
      muted: true,
      playsInline: true,
      src: downloadUrl(seg),
    });
    video.addEventListener("error", () => fallback());
    player.replaceChildren(video, h("p", {}, download));
  }

  /**
   * The H.265 segment `seg` as H.264 made on the box, over the timeline's HLS playlist. The part
   * is asked for first: a refusal (transcoding off, all slots busy, no encoder) comes back at once
   * with the box's reason instead of after hls.js's retries, and the box keeps what it made, so
   * the player's own request for it costs nothing more.
   * @param {Segment} seg
   * @param {HTMLElement} download
   * @param {(why?: string) => void} fallback
   */
  async function transcoded(seg, download, fallback) {
    const status = h(
      "p",
      { class: "muted", id: "player-status" },
      "Making H.264 of it on the box…",
    );
    player.replaceChildren(status, h("p", {}, download));
    const res = await fetch(`/api/recordings/${seg.id}/h264.ts`, { credentials: "same-origin" })
      .catch((/** @type {Error} */ e) => e);
    if (res instanceof Error || !res.ok) {
      const why = res instanceof Error
        ? res.message
        : (await res.json().catch(() => null))?.error?.message ?? `${res.status} ${res.statusText}`;
      if (status.isConnected) fallback(why);
      return;
    }
    await res.body?.cancel();
    if (!status.isConnected) return; // another recording or screen meanwhile
    const video = h("video", {
      id: "player-video",
      controls: true,
      muted: true,
      playsInline: true,
      dataset: { transcoded: "yes", state: "loading" },
    });
    const hls = hlsPlayer(video, (state, detail) => {
      video.dataset.state = state;
      status.textContent = state === "error"
        ? `Cannot play: ${detail ?? "unknown error"}`
        : "H.265 recording shown as H.264 made on the box (reduced size).";
    });
    current = hls;
    player.replaceChildren(video, status, h("p", {}, download));
    await hls.play(cameraId, seg.startMs, Math.max(1, seg.endMs - seg.startMs), {
      transcode: true,
    });
  }

  const ptz = ptzControls(
    cameraId,
    liveView(cameraId, hasLive, me?.liveWs === true),
    me?.ptz === true,
  );
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
