// @ts-check
// Export and keep on the camera screen: a time range exported as one MP4 (a job: see
// screens/exports.js; at most 3 hours), or kept (locked: retention never deletes it) and released.
// Operators and admins only; the API says so as well.

import { api, SESSION } from "../api.js";
import { h, notice } from "../dom.js";
import { localInput } from "../format.js";

/**
 * The controls of the camera `cameraId`, the range preset to the last five minutes before `to`.
 * `redraw` draws the camera screen again (after keep or release, to show the badges).
 * @param {string} cameraId
 * @param {number} to
 * @param {() => Promise<void>} redraw
 * @returns {HTMLElement[]}
 */
export function exportControls(cameraId, to, redraw) {
  const exportFrom = h("input", {
    type: "datetime-local",
    step: "1",
    name: "from",
    value: localInput(to - 5 * 60_000),
  });
  const exportTo = h("input", {
    type: "datetime-local",
    step: "1",
    name: "to",
    value: localInput(to + 60_000),
  });
  // An export is a job made in the background into a file on the box (its recordings are kept
  // once it is done); the Exports screen shows its progress and downloads it.
  const exportLink = h("button", { type: "button", id: "export-link" }, "Export MP4");
  exportLink.addEventListener("click", async () => {
    exportLink.disabled = true;
    try {
      await api("/api/exports", {
        method: "POST",
        body: {
          camera: cameraId,
          from: new Date(exportFrom.value).getTime(),
          to: new Date(exportTo.value).getTime(),
        },
      });
      notice("Export queued: see its progress and download it under Exports.");
      location.hash = "#/exports";
    } catch (err) {
      notice(/** @type {Error} */ (err).message, "error");
    } finally {
      exportLink.disabled = false;
    }
  });

  // Keep (lock) or release a time range: kept recordings are never deleted by retention.
  // Exporting keeps its recordings too.
  const mayKeep = SESSION.user?.role !== "viewer";
  /**
   * @param {boolean} locked
   * @returns {(ev: Event) => Promise<void>}
   */
  const keep = (locked) => async (ev) => {
    const button = /** @type {HTMLButtonElement} */ (ev.currentTarget);
    button.disabled = true;
    try {
      const res = await api("/api/recordings/lock", {
        method: "POST",
        body: {
          camera: cameraId,
          from: new Date(exportFrom.value).getTime(),
          to: new Date(exportTo.value).getTime(),
          locked,
        },
      });
      await redraw();
      notice(
        `${res.segments} recording${res.segments === 1 ? "" : "s"} ${
          locked ? "kept: retention will not delete them" : "released to retention"
        }.`,
      );
    } catch (err) {
      notice(/** @type {Error} */ (err).message, "error");
      button.disabled = false;
    }
  };
  return mayKeep
    ? [
      h(
        "div",
        { class: "row" },
        h("label", {}, "From", exportFrom),
        h("label", {}, "To", exportTo),
      ),
      h(
        "div",
        { class: "row" },
        exportLink,
        h("button", { type: "button", id: "keep-range", onclick: keep(true) }, "Keep"),
        h(
          "button",
          { type: "button", class: "secondary", id: "release-range", onclick: keep(false) },
          "Release",
        ),
      ),
      h(
        "p",
        { class: "muted" },
        "Exported and kept recordings stay on the disk until released.",
      ),
    ]
    : [
      h(
        "p",
        { class: "muted", id: "keep-needs-role" },
        "Exporting and keeping recordings needs the operator or admin role.",
      ),
    ];
}
