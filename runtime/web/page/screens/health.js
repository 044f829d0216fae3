// @ts-check
// Health: charts of the samples taken since the page opened (GET /api/health every 5 s), the
// recorder's figures, disk use and each camera's frames and bitrate.

import { api } from "../api.js";
import { bar, lineChart } from "../charts.js";
import { h, onLeave, show } from "../dom.js";
import { fmtBytes, fmtEventsState, fmtNum, fmtTime } from "../format.js";
import { signedOut } from "../router.js";

/** @typedef {import("../types.js").Health} Health */
/** @typedef {import("../types.js").CameraHealth} CameraHealth */

const HEALTH_POLL_MS = 5000;
const HEALTH_KEEP = 120;

/** Shows the health screen and polls until it is left. */
export async function healthScreen() {
  /** @type {{ t: number, health: Health }[]} */
  const samples = [];
  const box = h("div", { id: "health" });
  const status = h("p", { class: "muted", id: "health-status" });
  let stopped = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /**
   * @param {(health: Health) => number | null | undefined} pick
   * @returns {(number | null)[]}
   */
  const series = (pick) => samples.map((s) => pick(s.health) ?? null);

  function draw() {
    const first = samples[0];
    const last = samples[samples.length - 1];
    if (!first || !last) return;
    const hl = last.health;
    status.textContent = `${samples.length} sample${samples.length === 1 ? "" : "s"} since ` +
      `${fmtTime(first.t)}, every ${HEALTH_POLL_MS / 1000} s · last ${fmtTime(last.t)}`;
    const ids = [...new Set(samples.flatMap((s) => s.health.cameras.map((c) => c.id)))];
    const cams = h(
      "section",
      { class: "panel" },
      h("h2", {}, "Cameras"),
      ids.length ? null : h("p", { class: "muted" }, "No cameras you may see."),
      ids.map((id) => cameraHealth(id, hl)),
    );
    box.replaceChildren(h("div", { class: "columns" }, recorderPanel(hl), disksPanel(hl)), cams);
  }

  /** @param {Health} hl */
  function recorderPanel(hl) {
    const temps = hl.temperatures ?? [];
    return h(
      "section",
      { class: "panel" },
      h("h2", {}, "Recorder"),
      h(
        "div",
        { class: "charts" },
        lineChart({
          title: "CPU",
          values: series((x) => x.cpu?.usedPercent),
          slots: HEALTH_KEEP,
          unit: "%",
          minMax: 100,
          id: "cpu",
        }),
        lineChart({
          title: "Memory",
          values: series((x) => x.memory?.usedPercent),
          slots: HEALTH_KEEP,
          unit: "%",
          minMax: 100,
          id: "memory",
        }),
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Temperature"),
        h(
          "dd",
          { id: "health-temp" },
          hl.cpuTemperatureC === null || hl.cpuTemperatureC === undefined
            ? "no sensor"
            : `${fmtNum(hl.cpuTemperatureC)} °C`,
          temps.length > 1
            ? h(
              "span",
              { class: "muted" },
              ` (${temps.map((t) => `${t.type} ${fmtNum(t.celsius)} °C`).join(", ")})`,
            )
            : null,
        ),
        h("dt", {}, "Load (1/5/15 min)"),
        h(
          "dd",
          {},
          hl.load
            ? `${fmtNum(hl.load.one, 2)} / ${fmtNum(hl.load.five, 2)} / ${
              fmtNum(hl.load.fifteen, 2)
            }`
            : "–",
        ),
        h("dt", {}, "Memory"),
        h(
          "dd",
          {},
          hl.memory ? `${fmtBytes(hl.memory.usedBytes)} of ${fmtBytes(hl.memory.totalBytes)}` : "–",
        ),
        h("dt", {}, "Up"),
        h(
          "dd",
          {},
          typeof hl.uptimeSeconds === "number"
            ? `${(hl.uptimeSeconds / 86400).toFixed(1)} days`
            : "–",
        ),
      ),
    );
  }

  /** @param {Health} hl */
  function disksPanel(hl) {
    return h(
      "section",
      { class: "panel" },
      h("h2", {}, "Disks"),
      (hl.disks ?? []).map((d) =>
        h(
          "div",
          { class: "disk", dataset: { disk: d.label } },
          h(
            "div",
            { class: "disk-head" },
            h("strong", {}, d.label),
            h("span", { class: "muted" }, d.path),
            h(
              "span",
              {},
              d.usedPercent === null
                ? (d.error ?? "not readable")
                : `${fmtNum(d.usedPercent, 0)} % · ${fmtBytes(d.availableBytes ?? 0)} free of ${
                  fmtBytes(d.totalBytes ?? 0)
                }`,
            ),
          ),
          bar(d.usedPercent, `${d.label} disk used`),
        )
      ),
    );
  }

  /**
   * @param {string} id
   * @param {Health} hl the latest sample
   */
  function cameraHealth(id, hl) {
    const now = hl.cameras.find((c) => c.id === id);
    /** @param {(c: CameraHealth | undefined) => number | null | undefined} pick */
    const cam = (pick) => series((x) => pick(x.cameras.find((c) => c.id === id)));
    return h(
      "div",
      { class: "camera-health", dataset: { camera: id } },
      h(
        "h3",
        {},
        id,
        " ",
        h("span", { class: `state-${now?.state ?? "gone"}` }, now?.state ?? "gone"),
        now ? h("span", { class: "muted" }, ` ${now.codec} ${now.mode}`) : null,
      ),
      now?.lastError ? h("p", { class: "error-text" }, now.lastError) : null,
      now?.events
        ? h(
          "p",
          {
            class: now.events.state === "subscribed" ? "muted" : "events-missing",
            dataset: { events: now.events.state },
          },
          `Camera events: ${fmtEventsState(now.events.state)}`,
          now.events.error ? ` (${now.events.error})` : "",
        )
        : null,
      now?.clock?.warning ? h("p", { class: "error-text clock-warning" }, now.clock.warning) : null,
      h(
        "div",
        { class: "charts" },
        lineChart({
          title: "Frames in",
          values: cam((c) => c?.fps),
          slots: HEALTH_KEEP,
          unit: "fps",
          minMax: 1,
          id: `fps-${id}`,
        }),
        lineChart({
          title: "Bitrate",
          values: cam((c) => c?.bitrateKbps),
          slots: HEALTH_KEEP,
          unit: "kbit/s",
          minMax: 1,
          digits: 0,
          id: `bitrate-${id}`,
        }),
      ),
    );
  }

  async function poll() {
    try {
      samples.push({ t: Date.now(), health: await api("/api/health") });
      if (samples.length > HEALTH_KEEP) samples.splice(0, samples.length - HEALTH_KEEP);
      if (!stopped) draw();
    } catch (e) {
      if (stopped) return;
      const err = /** @type {import("../api.js").Failure} */ (e);
      if (err.status === 401) return signedOut("Your session has ended; log in again.", "error");
      status.textContent = `Could not read the health (${err.message}); trying again.`;
    }
    if (!stopped) timer = setTimeout(poll, HEALTH_POLL_MS);
  }

  onLeave(() => {
    stopped = true;
    clearTimeout(timer);
  });
  show(h("h1", {}, "Health"), status, box);
  await poll();
}
