// @ts-check
// The settings form, made from GET /api/settings/schema: one group per section, the input its type
// asks for, each with its description, default and when it applies. The page checks what is
// simple (bounds, choices, patterns) with the server's own rules and wording; the server checks
// the rest and stays the authority. Only changed keys are sent (PATCH /api/settings).

import { h } from "../dom.js";

/**
 * A field of the settings schema (runtime/config/settings_schema.ts).
 * @typedef {{
 *   key: string, section: string,
 *   type: "boolean" | "integer" | "number" | "size" | "enum" | "string" | "list" | "object",
 *   nullable: boolean, min?: number, max?: number, values?: string[], minLength?: number,
 *   pattern?: string, default: unknown, description: string,
 *   applies: "now" | "recorders" | "restart", restart: boolean,
 * }} SettingField
 */
/**
 * @typedef {SettingField & {
 *   current?: unknown, editedOn?: string, fields?: SettingField[],
 *   cameras?: { id: string, name: string, values: Record<string, unknown> }[],
 * }} SettingKey
 */

/** Sections in the order shown, with their titles. */
const SECTIONS = /** @type {const} */ ([
  ["device", "Device"],
  ["recording", "Recording"],
  ["storage", "Storage"],
  ["http", "Web page and live view"],
  ["mqtt", "Fleet link"],
  ["log", "Log"],
  ["update", "Updates"],
  ["clock", "Clocks"],
  ["cameras", "Cameras"],
  ["plugins", "Plugins"],
]);

const APPLIES = {
  now: "applies at once",
  recorders: "applies at once; each camera starts a new segment",
  restart: "applies after a restart",
};

/**
 * One input of the form: its element, the value it held, and how to read and check it.
 * @typedef {{
 *   name: string, field: SettingField, input: HTMLInputElement | HTMLSelectElement,
 *   error: HTMLElement, initial: string, read: () => unknown,
 * }} Control
 */

/**
 * The form's fieldsets and its controls by name (`http.transcodesMax`, `cameras.gate.enabled`).
 * @param {SettingKey[]} keys
 * @returns {{ groups: HTMLElement[], controls: Map<string, Control> }}
 */
export function settingsFields(keys) {
  /** @type {Map<string, Control>} */
  const controls = new Map();
  const groups = SECTIONS.flatMap(([section, title]) => {
    const mine = keys.filter((k) => k.section === section);
    if (mine.length === 0) return [];
    const body = mine.flatMap((k) => {
      if (k.editedOn) return [];
      if (k.key === "cameras") return camerasFields(k, controls);
      const control = makeControl(k.key, k, k.current);
      controls.set(control.name, control);
      return [settingBox(control)];
    });
    const plugins = mine.find((k) => k.editedOn);
    return [h(
      "fieldset",
      { class: "settings-section", "data-section": section },
      h("legend", {}, title),
      plugins
        ? h(
          "p",
          { class: "muted" },
          "Plugins (enabled, their settings, cameras and how long their alarms keep recordings) ",
          "are set on the ",
          h("a", { href: plugins.editedOn }, "Plugins screen"),
          ".",
        )
        : null,
      section === "cameras" ? body : h("div", { class: "settings-grid" }, body),
    )];
  });
  return { groups, controls };
}

/**
 * One group per camera with the fields of a camera the form edits.
 * @param {SettingKey} k
 * @param {Map<string, Control>} controls
 */
function camerasFields(k, controls) {
  const cameras = k.cameras ?? [];
  if (cameras.length === 0) {
    return [h("p", { class: "muted" }, "No cameras yet.")];
  }
  return [
    h(
      "p",
      { class: "muted" },
      "Addresses and passwords are set where a camera is added (Find cameras) or in the JSON below.",
    ),
    ...cameras.map((cam) =>
      h(
        "fieldset",
        { class: "settings-camera", "data-camera": cam.id },
        h(
          "legend",
          {},
          cam.name === cam.id ? cam.id : `${cam.name} (${cam.id})`,
        ),
        h(
          "div",
          { class: "settings-grid" },
          (k.fields ?? []).map((f) => {
            const control = makeControl(
              `cameras.${cam.id}.${f.key}`,
              f,
              cam.values[f.key],
            );
            controls.set(control.name, control);
            return settingBox(control);
          }),
        ),
      )
    ),
  ];
}

/**
 * "liveViewersTotal" → "Live viewers total"; "record.mode" → "Record mode".
 * @param {string} key
 */
function label(key) {
  const words = key.replace(/\./g, " ").replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * A value for people: null as "none", sizes as "2G".
 * @param {unknown} value
 * @param {SettingField} field
 */
function shown(value, field) {
  if (value === null || value === undefined) return "none";
  if (field.type === "size" && typeof value === "number") {
    return sizeText(value);
  }
  return String(value);
}

/**
 * Bytes as the shortest exact size: 2147483648 → "2G".
 * @param {number} bytes
 */
function sizeText(bytes) {
  for (
    const [unit, size] of /** @type {[string, number][]} */ ([["T", 2 ** 40], ["G", 2 ** 30], [
      "M",
      2 ** 20,
    ], ["K", 2 ** 10]])
  ) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/**
 * The input for one field and how to read it.
 * @param {string} name
 * @param {SettingField} field
 * @param {unknown} value
 * @returns {Control}
 */
function makeControl(name, field, value) {
  /** @type {HTMLInputElement | HTMLSelectElement} */
  let input;
  if (field.type === "boolean") {
    input = h("input", { type: "checkbox", name });
    input.checked = value === true;
  } else if (field.type === "enum") {
    input = h(
      "select",
      { name },
      (field.values ?? []).map((v) => h("option", { value: v, selected: v === value }, v)),
    );
  } else {
    const numeric = field.type === "integer" || field.type === "number";
    input = h("input", {
      name,
      type: numeric ? "number" : "text",
      inputmode: numeric ? "decimal" : undefined,
      step: field.type === "integer" ? "1" : numeric ? "any" : undefined,
      min: numeric ? field.min : undefined,
      max: numeric ? field.max : undefined,
      placeholder: field.nullable ? "none" : undefined,
      spellcheck: "false",
      autocomplete: "off",
    });
    input.value = value === null || value === undefined
      ? ""
      : field.type === "size" && typeof value === "number"
      ? sizeText(value)
      : String(value);
  }
  const error = h("p", {
    class: "error-text field-error",
    role: "alert",
    hidden: true,
  });
  const read = () => readValue(input, field);
  return { name, field, input, error, initial: JSON.stringify(read()), read };
}

/**
 * The value an input holds as the API takes it: true/false, a number, a size string, text, or
 * null for an empty nullable field; a string the page could not read is sent as it is.
 * @param {HTMLInputElement | HTMLSelectElement} input
 * @param {SettingField} field
 * @returns {unknown}
 */
function readValue(input, field) {
  if (field.type === "boolean") {
    return /** @type {HTMLInputElement} */ (input).checked;
  }
  const text = input.value.trim();
  if (text === "" && field.nullable) return null;
  if (field.type === "integer" || field.type === "number") {
    return text === "" || !Number.isFinite(Number(text)) ? text : Number(text);
  }
  if (field.type === "size") return /^\d+$/.test(text) ? Number(text) : text;
  return input.value;
}

/**
 * What is wrong with a value by the server's simple rules (same wording), or null.
 * @param {unknown} value
 * @param {SettingField} field
 * @returns {string | null}
 */
export function problem(value, field) {
  if (value === null) return null;
  const show = JSON.stringify(value);
  if (field.type === "integer" || field.type === "number") {
    const whole = field.type === "integer";
    if (typeof value !== "number" || (whole && !Number.isInteger(value))) {
      return whole
        ? `expected a whole number from ${field.min} to ${field.max}, got ${show}`
        : `expected a number from ${field.min} to ${field.max}, got ${show}`;
    }
    if (field.min !== undefined && field.max !== undefined) {
      if (value < field.min || value > field.max) {
        return whole
          ? `${value} is out of range; allowed: ${field.min} to ${field.max}`
          : `${show} is not allowed; allowed: a number from ${field.min} to ${field.max}`;
      }
    }
  }
  if (
    field.type === "size" && typeof value === "string" &&
    !/^\d+(\.\d+)?\s*[KMGT]?(i?B)?$/i.test(value)
  ) {
    return `${show} is not allowed; allowed: whole bytes or a size like "200M", "500G", "1.5T"`;
  }
  if (field.type === "string" && typeof value === "string") {
    if (field.minLength && value.trim().length < field.minLength) {
      return "is empty; give a value";
    }
    if (field.pattern && !new RegExp(field.pattern).test(value)) {
      return `${show} is not allowed here; see the description`;
    }
  }
  return null;
}

/**
 * One setting: its label and key, input, description, default, when it applies, and its error.
 * @param {Control} c
 */
function settingBox(c) {
  const { field } = c;
  const id = `setting-${c.name.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  c.input.id = id;
  c.error.id = `${id}-error`;
  c.input.setAttribute("aria-describedby", `${id}-help ${id}-error`);
  const last = field.key.split(".").slice(field.section === "cameras" ? 0 : 1)
    .join(".");
  const title = h("label", { for: id }, label(last));
  const help = h(
    "p",
    { class: "setting-help", id: `${id}-help` },
    field.description,
    " ",
    h(
      "span",
      { class: "setting-meta" },
      `Default: ${
        field.default === null && field.key === "name" ? "the id" : shown(field.default, field)
      }`,
      field.min !== undefined && field.max !== undefined ? ` · ${field.min} to ${field.max}` : "",
      ` · ${APPLIES[field.applies]}`,
    ),
  );
  return h(
    "div",
    {
      class: field.type === "boolean" ? "setting setting-check" : "setting",
      "data-key": c.name,
      "data-restart": field.restart ? "true" : "false",
    },
    field.type === "boolean" ? h("div", { class: "setting-check-row" }, c.input, title) : title,
    field.type === "boolean" ? null : c.input,
    c.error,
    help,
  );
}
