// @ts-check
// The audit log (admins): the latest entries, newest first, and its export as JSON.

import { api } from "../api.js";
import { h, show } from "../dom.js";

/** @typedef {import("../types.js").AuditEntry} AuditEntry */

const AUDIT_SHOWN = 200;
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });

/** Shows the latest audit entries. */
export async function auditScreen() {
  const { entries } = /** @type {{ entries: AuditEntry[] }} */ (
    await api(`/api/audit?limit=${AUDIT_SHOWN}`)
  );
  show(
    h("h1", {}, "Audit log"),
    h(
      "p",
      {},
      `The latest ${AUDIT_SHOWN} entries, newest first. `,
      h(
        "a",
        { class: "button secondary", href: "/api/audit/export", download: "", id: "audit-export" },
        "Export JSON",
      ),
    ),
    entries.length
      ? h(
        "section",
        { class: "panel scroll" },
        h(
          "table",
          { id: "audit-list" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Time", "Who", "Action", "Target", "IP", "Browser", "Outcome"].map((t) =>
                h("th", {}, t)
              ),
            ),
          ),
          h("tbody", {}, entries.map(auditRow)),
        ),
      )
      : h("p", { class: "muted" }, "No entries yet."),
  );
}

/**
 * @param {AuditEntry} e
 * @returns {HTMLTableRowElement}
 */
function auditRow(e) {
  return h(
    "tr",
    { dataset: { action: e.action, outcome: e.outcome } },
    h(
      "td",
      { class: "nowrap" },
      h(
        "time",
        { datetime: new Date(e.tsMs).toISOString() },
        dateTimeFmt.format(e.tsMs),
      ),
    ),
    h("td", {}, e.userName ?? (e.userId === null ? "–" : `user ${e.userId}`)),
    h("td", {}, e.action),
    h("td", {}, e.target || "–"),
    h("td", { class: "nowrap" }, e.ip),
    h("td", { class: "ua", title: e.userAgent }, e.userAgent),
    h("td", { class: `outcome-${e.outcome}` }, e.outcome),
  );
}
