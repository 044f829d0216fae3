// @ts-check
// Plugins (admins; the API refuses others with 403): each installed sensor plugin with its state
// and last readings (refreshed every few seconds), enable/disable, its settings as a form made
// from the plugin's settings schema, remove with a confirmation in place; and installing one from
// a folder the recorder ships (by name) or from a tar(.gz) archive with its SHA-256. Every change
// goes through /api/plugins, which audits it.

import { api } from "../api.js";
import { h, notice, onLeave, show } from "../dom.js";
import { handleSubmit } from "../forms.js";
import { fmtTime } from "../format.js";
import { route } from "../router.js";

/** @typedef {import("../types.js").Plugin} Plugin */
/** @typedef {import("../types.js").SettingSpec} SettingSpec */

/** How often the states and readings are read again while the screen is open. */
const REFRESH_MS = 3000;

/** Shows the installed plugins and the forms to install one. */
export async function pluginsScreen() {
  const [{ plugins }, { cameras }] = await Promise.all([
    /** @type {Promise<{ plugins: Plugin[] }>} */ (api("/api/plugins")),
    /** @type {Promise<{ cameras: { id: string, name?: string }[] }>} */ (api("/api/cameras")),
  ]);
  const redraw = () => route();
  const list = h("div", { id: "plugin-list", class: "plugins" });
  for (const p of plugins) list.append(pluginPanel(p, cameras.map((c) => c.id), redraw));
  const empty = h("p", { class: "muted", id: "no-plugins", hidden: plugins.length > 0 }, [
    "No plugins are installed. Install one below, e.g. serial-sensor from the recorder's own.",
  ]);

  // States and readings change; the forms stay as they are (an edit in progress is kept).
  const timer = setInterval(async () => {
    try {
      const { plugins: now } = /** @type {{ plugins: Plugin[] }} */ (await api("/api/plugins"));
      const ids = now.map((p) => p.id).join();
      if (ids !== plugins.map((p) => p.id).join()) return redraw();
      for (const p of now) {
        const panel = list.querySelector(`[data-plugin="${CSS.escape(p.id)}"]`);
        panel?.querySelector(".plugin-status")?.replaceWith(statusPart(p));
      }
    } catch { /* the next round tries again; a signed-out session shows on the next action */ }
  }, REFRESH_MS);
  onLeave(() => clearInterval(timer));

  show(
    h("h1", {}, "Plugins"),
    empty,
    list,
    h("section", { class: "panel", id: "plugin-install" }, h("h2", {}, "Install a plugin"), [
      shippedForm(redraw),
      archiveForm(redraw),
    ]),
  );
}

/**
 * One plugin: name, state and readings, enable/disable and remove, its settings form and which
 * cameras its alarms concern.
 * @param {Plugin} p
 * @param {string[]} cameraIds
 * @param {() => void} redraw
 */
function pluginPanel(p, cameraIds, redraw) {
  const toggle = h(
    "button",
    { type: "button", class: p.enabled ? "secondary toggle" : "toggle" },
    p.enabled ? "Disable" : "Enable",
  );
  const del = h("button", { type: "button", class: "danger remove" }, "Remove");
  const sure = h("button", { type: "button", class: "danger confirm", hidden: true }, "Remove!");
  const cancel = h("button", { type: "button", class: "secondary cancel", hidden: true }, "Cancel");
  const panel = h(
    "section",
    { class: "panel plugin", dataset: { plugin: p.id, enabled: String(p.enabled) } },
    h("h2", {}, p.name, " ", h("span", { class: "muted" }, `${p.id} ${p.version}`)),
    statusPart(p),
    h("div", { class: "actions" }, toggle, del, sure, cancel),
    settingsForm(p, redraw),
    alarmsForm(p, cameraIds, redraw),
  );
  /** @param {() => Promise<void>} fn */
  const busy = async (fn) => {
    for (const b of panel.querySelectorAll(".actions button")) {
      /** @type {HTMLButtonElement} */ (b).disabled = true;
    }
    try {
      await fn();
    } catch (err) {
      notice(/** @type {Error} */ (err).message, "error");
    } finally {
      for (const b of panel.querySelectorAll(".actions button")) {
        /** @type {HTMLButtonElement} */ (b).disabled = false;
      }
    }
  };
  toggle.addEventListener("click", () =>
    busy(async () => {
      await api(`/api/plugins/${encodeURIComponent(p.id)}`, {
        method: "PUT",
        body: { enabled: !p.enabled },
      });
      notice(`${p.name}: ${p.enabled ? "disabled" : "enabled"}.`);
      redraw();
    }));
  /** @param {boolean} on */
  const confirming = (on) => {
    del.hidden = on;
    toggle.hidden = on;
    sure.hidden = !on;
    cancel.hidden = !on;
  };
  del.addEventListener("click", () => confirming(true));
  cancel.addEventListener("click", () => confirming(false));
  sure.addEventListener("click", () =>
    busy(async () => {
      await api(`/api/plugins/${encodeURIComponent(p.id)}`, { method: "DELETE" });
      notice(`Removed ${p.name} (its settings too).`);
      redraw();
    }));
  return panel;
}

/**
 * State, restarts, last error, CPU and memory, and the last readings.
 * @param {Plugin} p
 */
function statusPart(p) {
  const cost = [
    p.cpuPercent === null || p.cpuPercent === undefined ? null : `CPU ${p.cpuPercent.toFixed(1)} %`,
    p.rssBytes ? `memory ${(p.rssBytes / 1048576).toFixed(1)} MiB` : null,
    p.restarts ? `${p.restarts} restart(s)` : null,
  ].filter(Boolean).join(" · ");
  const readings = p.readings.length === 0
    ? h("p", { class: "muted" }, p.state === "running" ? "No readings yet." : "No readings.")
    : h(
      "table",
      { class: "readings" },
      h(
        "tbody",
        {},
        p.readings.map((r) =>
          h(
            "tr",
            { dataset: { reading: r.name } },
            h("th", {}, r.name),
            h("td", { class: "value" }, `${r.value}${r.unit ? ` ${r.unit}` : ""}`),
            h("td", { class: "muted" }, fmtTime(r.tsMs)),
          )
        ),
      ),
    );
  return h(
    "div",
    { class: "plugin-status" },
    h(
      "p",
      {},
      h("strong", { class: `state state-${p.state}`, dataset: { state: p.state } }, p.state),
      cost ? h("span", { class: "muted" }, ` · ${cost}`) : null,
    ),
    p.lastError ? h("p", { class: "error" }, p.lastError) : null,
    readings,
  );
}

/**
 * The plugin's settings as a form made from its schema (number, text, checkbox), with the
 * configured value, else the default; saved as the whole settings object.
 * @param {Plugin} p
 * @param {() => void} redraw
 */
function settingsForm(p, redraw) {
  const names = Object.keys(p.schema);
  const form = h("form", { class: "plugin-settings", "aria-label": `Settings of ${p.name}` });
  if (names.length === 0) {
    form.append(h("p", { class: "muted" }, "This plugin has no settings."));
    return form;
  }
  const fields = names.map((name) => settingField(name, p.schema[name], p.settings[name]));
  form.append(
    h("details", {}, h("summary", {}, "Settings"), h("div", { class: "row" }, fields), [
      h("button", { type: "submit" }, "Save settings"),
    ]),
  );
  handleSubmit(form, async () => {
    /** @type {Record<string, string | number | boolean>} */
    const settings = {};
    for (const name of names) {
      const spec = /** @type {SettingSpec} */ (p.schema[name]);
      const el = /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
      if (spec.type === "boolean") settings[name] = el.checked;
      else if (spec.type === "number") {
        if (el.value.trim() !== "") settings[name] = Number(el.value);
      } else settings[name] = el.value;
    }
    await api(`/api/plugins/${encodeURIComponent(p.id)}`, { method: "PUT", body: { settings } });
    notice(`${p.name}: settings saved.`);
    redraw();
  });
  return form;
}

/**
 * Which cameras the plugin's alarms are marked on, and how long their recordings around an alarm
 * are kept (plugins.<id>.cameras and keepMinutes; the box checks both when saving).
 * @param {Plugin} p
 * @param {string[]} cameraIds
 * @param {() => void} redraw
 */
function alarmsForm(p, cameraIds, redraw) {
  const form = h("form", {
    class: "plugin-alarms",
    "aria-label": `Alarms of ${p.name}: cameras and recordings kept`,
  });
  const boxes = cameraIds.map((id) =>
    h("label", { class: "check" }, [
      h("input", { type: "checkbox", name: "camera", value: id, checked: p.cameras.includes(id) }),
      ` ${id}`,
    ])
  );
  const keep = h("input", {
    type: "number",
    name: "keepMinutes",
    min: "0",
    max: "1440",
    step: "1",
    value: String(p.keepMinutes),
  });
  form.append(
    h("details", {}, h("summary", {}, "Alarms and recordings"), [
      h(
        "p",
        { class: "muted" },
        "Mark this plugin's alarms on these cameras' timelines (none ticked: on every camera), " +
          "and keep their recordings this many minutes before and after each alarm (0: mark only).",
      ),
      h(
        "div",
        { class: "row" },
        boxes.length ? boxes : [h("span", { class: "muted" }, "No cameras.")],
      ),
      h("label", {}, ["Keep recordings around an alarm (minutes)", keep]),
      h("button", { type: "submit" }, "Save"),
    ]),
  );
  handleSubmit(form, async () => {
    const cameras = boxes.map((b) => /** @type {HTMLInputElement} */ (b.querySelector("input")))
      .filter((el) => el.checked).map((el) => el.value);
    await api(`/api/plugins/${encodeURIComponent(p.id)}`, {
      method: "PUT",
      body: { cameras, keepMinutes: Number(keep.value || 0) },
    });
    notice(`${p.name}: alarms saved.`);
    redraw();
  });
  return form;
}

/**
 * One setting's input, labelled with its name and description.
 * @param {string} name
 * @param {SettingSpec | undefined} spec
 * @param {unknown} value the configured value (undefined: the default)
 */
function settingField(name, spec, value) {
  const v = value ?? spec?.default;
  const title = spec?.description ?? "";
  if (spec?.type === "boolean") {
    return h(
      "label",
      { class: "check", title },
      h("input", { type: "checkbox", name, checked: v === true }),
      name,
    );
  }
  const input = spec?.type === "number"
    ? h("input", {
      name,
      type: "number",
      step: "any",
      min: spec.min === undefined ? null : String(spec.min),
      max: spec.max === undefined ? null : String(spec.max),
      value: v === undefined ? "" : String(v),
    })
    : h("input", {
      name,
      maxlength: spec?.type === "string" && spec.maxLength ? String(spec.maxLength) : null,
      value: v === undefined ? "" : String(v),
    });
  return h("label", { title }, name, input, title ? h("small", {}, title) : null);
}

/**
 * Installs a plugin folder the recorder ships, by its name (never a path).
 * @param {() => void} redraw
 */
function shippedForm(redraw) {
  const form = h(
    "form",
    { id: "plugin-install-shipped", "aria-label": "Install a plugin the recorder ships" },
    h(
      "div",
      { class: "row" },
      h(
        "label",
        {},
        "From a folder the recorder ships (its name)",
        h("input", {
          name: "shipped",
          required: true,
          placeholder: "serial-sensor",
          pattern: "[a-z0-9][a-z0-9\\-]{0,31}",
        }),
      ),
      h("button", { type: "submit" }, "Install"),
    ),
  );
  handleSubmit(form, async (v) => {
    const { id, version } = await api("/api/plugins", {
      method: "POST",
      body: { shipped: v.shipped },
    });
    notice(`Installed ${id} ${version}; enable it to run it.`);
    redraw();
  });
  return form;
}

/**
 * Installs a plugin from a tar or tar.gz archive and the SHA-256 its maker gives (checked by the
 * recorder before the archive is read).
 * @param {() => void} redraw
 */
function archiveForm(redraw) {
  const file = h("input", {
    name: "archive",
    type: "file",
    required: true,
    accept: ".tar,.tar.gz,.tgz,application/gzip,application/x-tar",
  });
  const form = h(
    "form",
    { id: "plugin-install-archive", "aria-label": "Install a plugin from an archive" },
    h(
      "div",
      { class: "row" },
      h("label", {}, "From an archive (.tar or .tar.gz, at most 8 MiB)", file),
      h(
        "label",
        {},
        "Its SHA-256 (as its maker gives it)",
        h("input", {
          name: "sha256",
          required: true,
          pattern: "[0-9a-fA-F]{64}",
          autocomplete: "off",
          spellcheck: "false",
        }),
      ),
      h("button", { type: "submit" }, "Install"),
    ),
  );
  handleSubmit(form, async (v) => {
    const chosen = file.files?.[0];
    if (!chosen) throw Object.assign(new Error("Choose the archive first."), { field: "archive" });
    const { id, version } = await api("/api/plugins", {
      method: "POST",
      body: { archive: toBase64(new Uint8Array(await chosen.arrayBuffer())), sha256: v.sha256 },
    });
    notice(`Installed ${id} ${version} from ${chosen.name}; enable it to run it.`);
    redraw();
  });
  return form;
}

/**
 * Bytes as base64, in slices (String.fromCharCode takes a bounded number of arguments).
 * @param {Uint8Array} bytes
 */
function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}
