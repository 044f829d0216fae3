// @ts-check
// The camera grid: every camera the user may see, live, with its state and figures (polled).

import { api, SESSION } from "../api.js";
import { h, onLeave, show } from "../dom.js";
import { liveView } from "../live.js";

/** @typedef {import("../types.js").Camera} Camera */

/** Shows the grid of cameras. */
export async function gridScreen() {
  const { cameras } = /** @type {{ cameras: Camera[] }} */ (await api("/api/cameras"));
  const grid = h("div", { class: "grid", id: "camera-grid" });
  /** @type {Map<string, HTMLDivElement>} */
  const cards = new Map();
  for (const cam of cameras) {
    const meta = h("div", { class: "meta" });
    cards.set(cam.id, meta);
    grid.append(
      h(
        "a",
        {
          class: "camera",
          href: `#/camera/${encodeURIComponent(cam.id)}`,
          dataset: { camera: cam.id },
        },
        h(
          "div",
          { class: "view" },
          liveView(cam.id, cam.live === true, cam.liveWs === true),
        ),
        meta,
      ),
    );
  }
  /** @param {Camera[]} list */
  const fill = (list) => {
    for (const cam of list) {
      const meta = cards.get(cam.id);
      if (!meta) continue;
      meta.replaceChildren(
        h("strong", {}, cam.id),
        h("span", { class: `state-${cam.state}` }, cam.state),
        h(
          "span",
          { class: "muted" },
          `${cam.stats.fpsIn.toFixed(1)} fps · ${Math.round(cam.stats.bitrateKbps)} kbit/s`,
        ),
      );
    }
  };
  fill(cameras);
  const poll = setInterval(async () => {
    try {
      fill((await api("/api/cameras")).cameras);
    } catch { /* shown on the next navigation */ }
  }, 5000);
  onLeave(() => clearInterval(poll));
  const admin = SESSION.user?.role === "admin";
  show(
    h(
      "div",
      { class: "title-row" },
      h("h1", {}, "Cameras"),
      admin
        ? h(
          "a",
          { class: "button secondary", href: "#/find", id: "find-link" },
          "Find cameras",
        )
        : null,
    ),
    cameras.length ? grid : h(
      "p",
      { class: "muted" },
      "No cameras you may see. An admin adds cameras and gives access.",
    ),
    h(
      "p",
      { class: "muted" },
      "Live view: the stream the recorder already receives (H.265 where this browser plays " +
        "it), else the camera's H.264 sub-stream, else one H.264 transcode on the box shared " +
        "by all viewers; under a second behind the camera, reconnecting by itself after a " +
        "break. Where none can play: a still picture a second (latest keyframe), with the " +
        "reason.",
    ),
  );
}
