// @ts-check
// Exports: the user's export jobs (admins: everyone's), newest first — queued, running with
// progress, done (download any time later, delete), failed with its reason. Polled every second
// while one is queued or running. Export files live on the data disk; retention never deletes
// them, so each shows its size.

import { api, SESSION } from "../api.js";
import { h, notice, onLeave, show } from "../dom.js";
import { fmtBytes, fmtTime } from "../format.js";

/**
 * @typedef {object} ExportJob
 * @property {string} id
 * @property {string} camera
 * @property {number} from
 * @property {number} to
 * @property {string | null} user
 * @property {"queued" | "running" | "done" | "failed"} state
 * @property {number} progress
 * @property {number} bytes
 * @property {string | null} error
 * @property {number} createdAt
 * @property {number | null} finishedAt
 */

const POLL_MS = 1000;

/** Shows the exports screen; polls while a job is queued or running, until it is left. */
export async function exportsScreen() {
  const list = h("div", { id: "exports" });
  let stopped = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  onLeave(() => {
    stopped = true;
    clearTimeout(timer);
  });
  const mayDelete = SESSION.user?.role !== "viewer";

  async function load() {
    /** @type {{ exports: ExportJob[] }} */
    const res = await api("/api/exports");
    if (stopped) return;
    list.replaceChildren(
      res.exports.length === 0
        ? h(
          "p",
          { class: "muted" },
          "No exports yet: export a time range on a camera's page.",
        )
        // At 390 px the table scrolls inside its box, not the page sideways.
        : h(
          "div",
          { class: "scroll" },
          h(
            "table",
            {},
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Camera", "Time", "State", "Size", ""].map((t) => h("th", {}, t)),
              ),
            ),
            h("tbody", {}, res.exports.map(row)),
          ),
        ),
    );
    if (
      res.exports.some((j) => j.state === "queued" || j.state === "running")
    ) {
      timer = setTimeout(
        () => load().catch((e) => notice(e.message, "error")),
        POLL_MS,
      );
    }
  }

  /** @param {ExportJob} job */
  function row(job) {
    const state = job.state === "running"
      ? h(
        "span",
        {},
        h("progress", { max: "1", value: String(job.progress) }),
        ` ${Math.round(job.progress * 100)}%`,
      )
      : job.state === "failed"
      ? h("span", { class: "error" }, `failed: ${job.error ?? "unknown"}`)
      : job.state;
    const del = h("button", { type: "button", class: "secondary" }, "Delete");
    del.addEventListener("click", async () => {
      del.disabled = true;
      try {
        await api(`/api/exports/${job.id}`, { method: "DELETE" });
        notice(
          "Export deleted; the recordings it kept stay kept until released.",
        );
        await load();
      } catch (e) {
        notice(/** @type {Error} */ (e).message, "error");
        del.disabled = false;
      }
    });
    return h(
      "tr",
      { "data-export": job.id, "data-state": job.state },
      h("td", {}, job.camera),
      h("td", {}, `${fmtTime(job.from)} – ${fmtTime(job.to)}`),
      h("td", {}, state),
      h("td", {}, job.state === "done" ? fmtBytes(job.bytes) : ""),
      h(
        "td",
        {},
        job.state === "done"
          ? h(
            "a",
            { href: `/api/exports/${job.id}/download`, download: "" },
            "Download",
          )
          : null,
        mayDelete ? del : null,
      ),
    );
  }

  show(
    h("h1", {}, "Exports"),
    h(
      "p",
      { class: "muted" },
      "Exports are kept on the recording disk until deleted (retention never deletes them). " +
        "Deleting an export does not release the recordings it kept.",
    ),
    list,
  );
  await load();
}
