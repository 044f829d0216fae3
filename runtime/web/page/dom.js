// @ts-check
// Element helpers, the notice line and the current screen's cleanups.

/** @typedef {Node | string | number | boolean | null | undefined} Leaf */
/**
 * What `h` accepts as a child: nodes, text, and arrays of them (flattened one level); null,
 * undefined and false are skipped.
 * @typedef {Leaf | Leaf[]} Child
 */

/** Properties of `h`: attributes, DOM properties, `on*` listeners and `dataset`. */
/** @typedef {Record<string, unknown>} Props */

/** Cleanups of the current screen (timers, object URLs), run before the next screen is drawn. */
/** @type {(() => void)[]} */
let screenCleanups = [];

/**
 * Creates an element: h("a", { href: "#/" }, "text", child). `on*` props become listeners.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (el))[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/**
 * Shows `text` in the notice line above the screen; an empty text hides it.
 * @param {string | null | undefined} text
 * @param {"info" | "error"} [kind]
 */
export function notice(text, kind = "info") {
  const el = byId("notice");
  el.textContent = text ?? "";
  el.className = kind === "error" ? "error" : "";
  el.hidden = !text;
}

/** Stops what the current screen runs; called before the next screen is built. */
export function leaveScreen() {
  const cleanups = screenCleanups;
  screenCleanups = [];
  for (const fn of cleanups) {
    try {
      fn();
    } catch { /* a cleanup must not stop the next screen */ }
  }
}

/**
 * Replaces the screen with `nodes`.
 * @param {...(Node | string)} nodes
 */
export function show(...nodes) {
  byId("main").replaceChildren(...nodes);
}

/**
 * Runs `fn` when the current screen is left.
 * @param {() => void} fn
 */
export function onLeave(fn) {
  screenCleanups.push(fn);
}

/**
 * An element of index.html that is always there.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no element #${id}; reinstall the firmware`);
  return el;
}
