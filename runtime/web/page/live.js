// @ts-check
// Live view, which path is used when (liveView below):
// 0. The board restreams (/api/cameras says `liveWs: true`) and the browser has WebSocket and MSE
//    with H.264 or H.265: live_mse.js, under a second behind the camera. A view that played and
//    breaks off connects again by itself ("Reconnecting…", up to 5 tries in a row); when the
//    board refuses or the tries run out, the reason stays on screen above the snapshot refresh.
// 1. The camera has an H.264 sub-stream (cameras[].subUrl; /api/cameras says `live: true`): a
//    <video muted autoplay playsinline> plays /api/cameras/<id>/live.mp4, the shared sub-stream
//    session restreamed as fragmented MP4 (no decoding, no encoding): any browser with H.264.
// 2. No sub-stream, or the video fails (no H.264 decoder, 429 too many viewers, 503 camera
//    unreachable, the stream ends or stalls): JPEG refresh of /api/cameras/<id>/snapshot once a
//    second, the LAST RESORT (the latest keyframe, decoded on the board).
// Both stop when the screen is left (onLeave).

import { h, onLeave } from "./dom.js";
import { liveMse, mseCodecs } from "./live_mse.js";

/**
 * Live video over a WebSocket when `restream` and the browser can, else of the sub-stream when
 * `hasLive`, falling back to the JPEG refresh for good.
 * @param {string} cameraId
 * @param {boolean} hasLive
 * @param {boolean} [restream]
 * @returns {HTMLDivElement}
 */
export function liveView(cameraId, hasLive, restream = false) {
  const codecs = restream ? mseCodecs() : [];
  if (codecs.length > 0) return liveWs(cameraId, codecs);
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

/** Connecting again after a break: this many times in a row at most, pausing 1, 2, 4, 8, 8 s. */
const RETRIES = 5;

/**
 * Live video over live.ws that connects again by itself, saying so ("Reconnecting…"), when a view
 * that played breaks off (the box or its recorder restarting, the camera away for a while, a
 * network hiccup); after RETRIES failed tries in a row, or when the board refuses, the reason stays
 * on screen above the snapshot refresh.
 * @param {string} cameraId
 * @param {("h265" | "h264")[]} codecs
 * @returns {HTMLDivElement}
 */
function liveWs(cameraId, codecs) {
  const holder = h("div", { class: "live-holder" });
  let failures = 0;
  let everPlayed = false;
  let left = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @param {boolean} reconnecting */
  const connect = (reconnecting) => {
    if (left) return;
    holder.replaceChildren(liveMse(cameraId, codecs, (reason, end) => {
      if (left) return;
      if (end.retry && (end.played || everPlayed) && failures < RETRIES) {
        const pause = Math.min(1000 * 2 ** failures, 8000);
        failures++;
        holder.replaceChildren(h(
          "div",
          {
            class: "live",
            dataset: { camera: cameraId, state: "reconnecting" },
          },
          h(
            "div",
            { class: "waiting", role: "status" },
            `Reconnecting… (${reason})`,
          ),
        ));
        timer = setTimeout(() => connect(true), pause);
        return;
      }
      const image = liveImage(cameraId);
      image.append(h("p", { class: "live-reason" }, reason));
      holder.replaceChildren(image);
    }, {
      reconnecting,
      onPlaying: () => {
        everPlayed = true;
        failures = 0;
      },
    }));
  };
  connect(false);
  onLeave(() => {
    left = true;
    clearTimeout(timer);
  });
  return holder;
}

/**
 * An <img> showing the camera's latest keyframe, fetched again a second after the previous one
 * arrived (never two requests at once), until the screen is left.
 * @param {string} cameraId
 * @returns {HTMLDivElement}
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
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopped = false;
  async function next() {
    try {
      const res = await fetch(
        `/api/cameras/${encodeURIComponent(cameraId)}/snapshot`,
        {
          cache: "no-store",
        },
      );
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
