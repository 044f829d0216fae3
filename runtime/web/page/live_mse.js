// @ts-check
// Live view over a WebSocket into Media Source Extensions (the board's restream: no new camera
// session per viewer). The browser says which codecs its MSE plays; the board answers with the
// main stream as it is (H.265 where supported), the H.264 sub-stream, the camera's one shared
// H.265 → H.264 transcode (data-source="transcode"), or with a reason. One
// moof+mdat arrives per frame; the position is kept near the live edge (it jumps ahead when the
// buffer grows past MAX_BEHIND_S). `data-state` on the <video>: connecting (reconnecting),
// playing, failed;
// `data-latency-ms`: now minus when the camera made the picture shown (its RTCP clock).

import { h, onLeave } from "./dom.js";

const TYPES = {
  h265: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
  h264: 'video/mp4; codecs="avc1.42E01E"',
};
/** Behind the newest frame by more than this: jump to it. */
const MAX_BEHIND_S = 0.5;
/** Kept behind the position; older is removed from the buffer. */
const KEEP_S = 10;

/** Codecs this browser's MSE plays, or [] when there is no MSE or no WebSocket. */
export function mseCodecs() {
  const MS = globalThis.MediaSource;
  if (!MS || !globalThis.WebSocket) return [];
  return /** @type {("h265" | "h264")[]} */ (["h265", "h264"]).filter((c) =>
    MS.isTypeSupported(TYPES[c])
  );
}

/**
 * How a live view ended: `played` when it showed pictures; `retry` when connecting again may
 * help (the connection broke or the stream paused: a recorder restart, the box restarting, the
 * camera away for a while), not when the board refused (no way to show it, too many viewers) or
 * the browser could not decode.
 * @typedef {{ played: boolean, retry: boolean }} LiveEnd
 */

/** Close codes after which connecting again cannot help (api/live_ws.ts). */
const REFUSED = new Set([4000, 4029]);

/**
 * Live video of `cameraId` over live.ws. `onFail(reason, end)` runs once when it stops playing.
 * @param {string} cameraId
 * @param {("h265" | "h264")[]} codecs
 * @param {(reason: string, end: LiveEnd) => void} onFail
 * @param {{ reconnecting?: boolean, onPlaying?: () => void }} [options]
 * @returns {HTMLDivElement}
 */
export function liveMse(cameraId, codecs, onFail, options = {}) {
  const video = h("video", {
    class: "live-video live-mse",
    dataset: {
      camera: cameraId,
      state: options.reconnecting ? "reconnecting" : "connecting",
    },
    "aria-label": `Live view of ${cameraId}`,
  });
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  const status = h(
    "div",
    { class: "waiting", role: "status" },
    options.reconnecting ? "Reconnecting…" : "Connecting…",
  );
  const box = h("div", { class: "live" }, video, status);
  const media = new MediaSource();
  const mediaUrl = URL.createObjectURL(media);
  video.src = mediaUrl;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(
    `${scheme}//${location.host}/api/cameras/${encodeURIComponent(cameraId)}/live.ws` +
      `?codecs=${codecs.join(",")}`,
  );
  ws.binaryType = "arraybuffer";
  /** @type {SourceBuffer | null} */
  let buffer = null;
  // Fragments to append, in the order they came, and a codec change where a new init came
  // (a recorder restart): changeType, like appendBuffer, may only run while the buffer is idle.
  /** @type {(ArrayBuffer | { changeType: string })[]} */
  const queue = [];
  /** @type {{ t: number, wall: number } | null} */
  let clock = null;
  let failed = false;
  let stopped = false;
  let played = false;
  let reason = "";
  const opened = new Promise((resolve) =>
    media.addEventListener("sourceopen", resolve, { once: true })
  );

  /**
   * @param {string} why
   * @param {boolean} [retry]
   */
  const fail = (why, retry = false) => {
    if (failed) return;
    failed = true;
    video.dataset.state = "failed";
    status.hidden = false;
    status.textContent = why;
    stop();
    onFail(why, { played, retry });
  };
  const stop = () => {
    stopped = true;
    clearInterval(edge);
    try {
      ws.close();
    } catch { /* closed */ }
    video.removeAttribute("src");
    video.load();
    URL.revokeObjectURL(mediaUrl);
  };
  const pump = () => {
    // After stop() the MediaSource is detached and its SourceBuffers removed: reading one then
    // throws (an 'updateend' can still arrive).
    if (stopped || !buffer || buffer.updating || media.readyState !== "open") {
      return;
    }
    const next = queue.shift();
    if (next && !(next instanceof ArrayBuffer)) {
      try {
        buffer.changeType(next.changeType);
      } catch (e) {
        fail(
          `The browser refused the video (${/** @type {Error} */ (e).message})`,
        );
        return;
      }
      pump();
      return;
    }
    if (next) {
      try {
        buffer.appendBuffer(next);
      } catch (e) {
        fail(
          `The browser refused the video (${/** @type {Error} */ (e).message})`,
        );
      }
      return;
    }
    // Trim what is long played, so memory stays flat however long the view stays open.
    const b = buffer.buffered;
    if (b.length > 0 && video.currentTime - b.start(0) > KEEP_S * 2) {
      buffer.remove(0, video.currentTime - KEEP_S);
    }
  };
  const edge = setInterval(() => {
    const b = video.buffered;
    if (b.length === 0) return;
    const end = b.end(b.length - 1);
    if (
      end - video.currentTime > MAX_BEHIND_S ||
      video.currentTime < b.start(b.length - 1)
    ) {
      video.currentTime = Math.max(b.start(b.length - 1), end - 0.1);
    }
    if (video.paused) video.play().catch(() => {});
    if (clock) {
      const shown = clock.wall + (video.currentTime - clock.t) * 1000;
      video.dataset.latencyMs = String(Math.round(Date.now() - shown));
    }
  }, 200);

  ws.addEventListener("message", async (event) => {
    if (failed) return;
    if (typeof event.data === "string") {
      /** @type {{ type: string, codec?: string, reason?: string, t?: number, wall?: number, source?: string }} */
      const m = JSON.parse(event.data);
      if (m.type === "error") reason = m.reason ?? "";
      else if (m.type === "time") {
        clock = { t: Number(m.t), wall: Number(m.wall) };
      } else if (m.type === "init") {
        await opened;
        const type = `video/mp4; codecs="${m.codec}"`;
        if (!MediaSource.isTypeSupported(type)) {
          fail(`This browser cannot play ${m.codec} (${m.source} stream)`);
          return;
        }
        video.dataset.source = m.source ?? "";
        if (buffer) {
          queue.push({ changeType: type });
          pump();
        } else {
          buffer = media.addSourceBuffer(type);
          buffer.mode = "segments";
          buffer.addEventListener("updateend", pump);
        }
      }
      return;
    }
    queue.push(/** @type {ArrayBuffer} */ (event.data));
    // A viewer far behind (a hidden tab) drops what it cannot play: the next init restarts it.
    if (queue.length > 300) {
      const dropped = queue.splice(0, queue.length - 300);
      const change = dropped.findLast((q) => !(q instanceof ArrayBuffer));
      if (change) queue.unshift(change); // the codec the kept fragments are in
    }
    await opened;
    pump();
  });
  video.addEventListener("playing", () => {
    video.dataset.state = "playing";
    status.hidden = true;
    if (!played) options.onPlaying?.();
    played = true;
  });
  video.addEventListener(
    "error",
    () => fail("The browser could not decode the live video"),
  );
  ws.addEventListener("close", (event) => {
    if (failed) return;
    fail(
      reason ||
        (event.code === 1006
          ? "Live view refused or the recorder is not reachable (signed out?)"
          : `Live view closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`),
      !REFUSED.has(event.code),
    );
  });
  onLeave(() => {
    failed = true;
    stop();
  });
  return box;
}
