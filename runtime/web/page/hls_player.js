// @ts-check
// Plays a camera's recordings from a moment on: the box's fMP4 HLS playlist of that range
// (/api/cameras/<id>/playlist.m3u8) through hls.js (vendor/hls.js, copied from the npm package
// at build time; the box never fetches code at run time), or the browser's own HLS (Safari).
// The wall-clock time of what is shown comes from the playlist's program date times.

/** @typedef {{ playingDate: Date | null, destroy(): void, loadSource(u: string): void,
 *   attachMedia(v: HTMLVideoElement): void, on(ev: string, fn: (ev: string, data: any) => void): void }} HlsLike */

/** @type {Promise<any> | null} */
let hlsModule = null;

/**
 * hls.js's class, or null when the box has no vendored copy or this browser has no MSE.
 * @returns {Promise<any>}
 */
export function loadHls() {
  hlsModule ??= import("./vendor/hls.js").then(
    (m) => (m.default?.isSupported?.() ? m.default : null),
    () => null,
  );
  return hlsModule;
}

const TYPES = /** @type {Record<string, string>} */ ({
  h265: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
  h264: 'video/mp4; codecs="avc1.640028"',
});

/**
 * Whether this browser can decode the codec through MSE (hls.js) or natively.
 * @param {string} codec
 * @returns {boolean}
 */
export function canDecode(codec) {
  const type = TYPES[codec];
  if (!type) return false;
  const ms = /** @type {any} */ (globalThis).MediaSource;
  if (ms?.isTypeSupported?.(type)) return true;
  return document.createElement("video").canPlayType(type) !== "";
}

/**
 * A player on `video`. `play(camera, fromMs)` loads the range from `fromMs` (up to `spanMs`)
 * and starts; `wallMs()` is the wall-clock time shown now (null before anything plays).
 * @param {HTMLVideoElement} video
 * @param {(state: "loading" | "playing" | "empty" | "error", detail?: string) => void} onState
 */
export function hlsPlayer(video, onState) {
  /** @type {HlsLike | null} */
  let hls = null;
  /** Native HLS: the program date time of the start and the start offset. */
  let nativeStartMs = 0;
  let rate = 1;
  /** The sync's small correction of the rate (play_sync.js), 1 when in step. */
  let trim = 1;
  /** Paused by the sync to let the other cameras catch up (not by the operator). */
  let held = false;
  let failed = false;

  video.addEventListener("playing", () => onState("playing"));
  video.addEventListener("ratechange", () => {
    if (video.playbackRate !== rate * trim) video.playbackRate = rate * trim;
  });

  const stop = () => {
    hls?.destroy();
    hls = null;
  };
  /** @returns {number | null} */
  const wallMs = () => {
    if (hls) return hls.playingDate ? hls.playingDate.getTime() : null;
    const start = /** @type {any} */ (video).getStartDate?.()?.getTime?.();
    if (Number.isFinite(start)) return start + video.currentTime * 1000;
    return video.currentTime > 0 ? nativeStartMs + video.currentTime * 1000 : null;
  };

  return {
    video,
    /**
     * @param {string} camera
     * @param {number} fromMs
     * @param {number} spanMs
     * @param {{ transcode?: boolean }} [options] `transcode`: H.264 made on the box from H.265
     *   recordings, for a browser without H.265 (MPEG-TS parts at ≤ 640 px; api/playback_routes.ts)
     */
    async play(camera, fromMs, spanMs, options = {}) {
      stop();
      held = false;
      trim = 1;
      failed = false;
      onState("loading");
      const q = new URLSearchParams({
        from: String(Math.round(fromMs)),
        to: String(Math.round(fromMs + spanMs)),
      });
      if (options.transcode) q.set("codec", "h264");
      const url = `/api/cameras/${encodeURIComponent(camera)}/playlist.m3u8?${q}`;
      const Hls = await loadHls();
      if (Hls) {
        const h = /** @type {HlsLike} */ (new Hls({
          enableWorker: false,
          maxBufferLength: 20,
        }));
        hls = h;
        h.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
          if (!data.details?.fragments?.length) onState("empty");
        });
        h.on(Hls.Events.ERROR, (_e, data) => {
          if (!data.fatal) return;
          failed = true;
          onState("error", `${data.type}: ${data.details}`);
        });
        h.loadSource(url);
        h.attachMedia(video);
      } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
        nativeStartMs = fromMs;
        video.src = url;
      } else {
        onState(
          "error",
          "This browser cannot play recordings here: the box has no copy of hls.js " +
            "(run make on the build machine) and the browser has no HLS of its own.",
        );
        return;
      }
      video.playbackRate = rate;
      video.play().catch(() => {});
    },
    /** @param {number} r */
    setRate(r) {
      rate = r;
      video.playbackRate = r * trim;
    },
    /**
     * Whether this player takes part in keeping cameras in step: it shows a moment, has not
     * failed or ended, and is not paused by the operator (a pause of the sync's own counts).
     */
    inStep() {
      return !failed && !video.ended && (held || !video.paused) &&
        wallMs() !== null;
    },
    /** Whether the sync holds it paused now. */
    held() {
      return held;
    },
    /**
     * The sync's corrections: `hold` pauses (true) or resumes (false) without counting as the
     * operator's pause; `factor` slows or speeds the chosen rate a little.
     * @param {boolean} hold
     * @param {number} factor
     */
    steer(hold, factor) {
      if (factor !== trim) {
        trim = factor;
        video.playbackRate = rate * trim;
      }
      if (hold === held) return;
      held = hold;
      if (hold) video.pause();
      else video.play().catch(() => {});
    },
    wallMs,
    stop() {
      stop();
      held = false;
      video.removeAttribute("src");
      video.load();
    },
  };
}
