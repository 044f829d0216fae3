// @ts-check
// Pan, tilt, zoom and presets over a camera's live view: arrow and zoom buttons (held: the camera
// moves, let go: it stops), the keyboard (arrow keys, + and -), and the presets list with "go to"
// and "save here". Shown only when the camera has PTZ and the user may use it (the API answers
// GET /api/cameras/<id>/ptz only to operators and admins with the camera, and 409 for a camera
// without ONVIF PTZ; it is not asked at all where /api/cameras says `ptz: false`). A move is sent with a short timeout and renewed while held, so a lost
// connection or a closed tab cannot leave the camera turning.

import { api, SESSION } from "../api.js";
import { h, notice, onLeave } from "../dom.js";

/** A held move is sent for this long and renewed every RENEW_MS while held. */
const MOVE_MS = 1000;
const RENEW_MS = 600;
const SPEED = 0.5;

/** @typedef {{ token: string, name: string }} Preset */
/** @typedef {{ pan?: number, tilt?: number, zoom?: number }} Velocity */

/** Arrow keys and +/- → a velocity. @type {Record<string, Velocity>} */
const KEYS = {
  ArrowLeft: { pan: -SPEED },
  ArrowRight: { pan: SPEED },
  ArrowUp: { tilt: SPEED },
  ArrowDown: { tilt: -SPEED },
  "+": { zoom: SPEED },
  "=": { zoom: SPEED },
  "-": { zoom: -SPEED },
};

/**
 * The PTZ overlay (over `live`) and the presets panel for `cameraId`; both hidden until the API
 * says the camera has PTZ and this user may use it.
 * @param {string} cameraId
 * @param {HTMLElement} live the live view element
 * @param {boolean} hasPtz /api/cameras says the camera may have PTZ; false: nothing is asked
 * @returns {{ view: HTMLElement, presets: HTMLElement }}
 */
export function ptzControls(cameraId, live, hasPtz) {
  const base = `/api/cameras/${encodeURIComponent(cameraId)}/ptz`;
  const overlay = h("div", { class: "ptz-pad", id: "ptz-pad", hidden: true });
  const view = h("div", { class: "ptz-host" }, live, overlay);
  const list = h("ul", { class: "ptz-presets", id: "ptz-presets" });
  const nameInput = h("input", {
    id: "ptz-preset-name",
    name: "name",
    maxLength: 64,
    required: true,
    placeholder: "Name of this view",
    "aria-label": "Preset name",
  });
  const presets = h(
    "section",
    { class: "panel ptz-panel", id: "ptz-panel", hidden: true },
    h("h2", {}, "Camera position"),
    h("p", { class: "muted" }, "Arrow keys pan and tilt, + and − zoom, while held."),
    list,
    h(
      "form",
      {
        class: "inline",
        onsubmit: (/** @type {Event} */ e) => {
          e.preventDefault();
          void save(nameInput.value.trim());
        },
      },
      nameInput,
      h("button", { type: "submit", id: "ptz-save" }, "Save this view"),
    ),
  );

  /** @type {Velocity | null} */
  let held = null;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let renew;

  /** @param {unknown} err */
  const fail = (err) => notice(/** @type {Error} */ (err).message, "error");

  /** @param {Velocity} v */
  function start(v) {
    if (held && JSON.stringify(held) === JSON.stringify(v)) return;
    held = v;
    const send = () =>
      api(`${base}/move`, { method: "POST", body: { ...v, timeoutMs: MOVE_MS } }).catch((err) => {
        halt(false);
        fail(err);
      });
    void send();
    clearInterval(renew);
    renew = setInterval(send, RENEW_MS);
  }

  /** @param {boolean} [sendStop] */
  function halt(sendStop = true) {
    clearInterval(renew);
    renew = undefined;
    if (!held) return;
    held = null;
    if (sendStop) void api(`${base}/stop`, { method: "POST" }).catch(fail);
  }

  /**
   * A button that moves while pressed.
   * @param {string} label
   * @param {string} cls
   * @param {Velocity} v
   * @param {string} title
   */
  const button = (label, cls, v, title) =>
    h("button", {
      type: "button",
      class: `ptz-button ${cls}`,
      title,
      "aria-label": title,
      onpointerdown: (/** @type {PointerEvent} */ e) => {
        e.preventDefault();
        start(v);
      },
      onpointerup: () => halt(),
      onpointerleave: () => halt(),
      onpointercancel: () => halt(),
    }, label);

  overlay.append(
    button("▲", "up", { tilt: SPEED }, "Tilt up"),
    button("◀", "left", { pan: -SPEED }, "Pan left"),
    button("▶", "right", { pan: SPEED }, "Pan right"),
    button("▼", "down", { tilt: -SPEED }, "Tilt down"),
    button("+", "zoom-in", { zoom: SPEED }, "Zoom in"),
    button("−", "zoom-out", { zoom: -SPEED }, "Zoom out"),
  );

  /** @param {KeyboardEvent} e */
  const typing = (e) => {
    const t = /** @type {HTMLElement | null} */ (e.target);
    return t !== null && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable);
  };
  /** @param {KeyboardEvent} e */
  const onKeyDown = (e) => {
    const v = KEYS[e.key];
    if (!v || typing(e) || overlay.hidden || e.ctrlKey || e.metaKey || e.altKey) return;
    e.preventDefault();
    start(v);
  };
  /** @param {KeyboardEvent} e */
  const onKeyUp = (e) => {
    if (KEYS[e.key] && held) halt();
  };
  const onBlur = () => halt();

  /** @param {Preset[]} items */
  function showPresets(items) {
    list.replaceChildren(
      ...(items.length === 0
        ? [h("li", { class: "muted", id: "ptz-no-presets" }, "No saved views yet.")]
        : items.map((p) =>
          h(
            "li",
            { dataset: { token: p.token } },
            h("span", {}, p.name),
            h("button", {
              type: "button",
              class: "secondary ptz-goto",
              onclick: () =>
                void api(`${base}/presets/${encodeURIComponent(p.token)}/goto`, { method: "POST" })
                  .catch(fail),
            }, "Go to"),
          )
        )),
    );
  }

  /** @param {string} name */
  async function save(name) {
    if (!name) return;
    try {
      await api(`${base}/presets`, { method: "POST", body: { name } });
      nameInput.value = "";
      const { presets: items } = await api(`${base}/presets`);
      showPresets(items);
      notice(`Saved the view "${name}".`);
    } catch (err) {
      fail(err);
    }
  }

  const user = SESSION.user;
  const mayUse = user !== null &&
    (user.role === "admin" || (user.role === "operator" && user.cameras.includes(cameraId)));
  if (mayUse && hasPtz) {
    api(base).then((/** @type {{ presets: Preset[] }} */ info) => {
      if (!view.isConnected) return;
      overlay.hidden = false;
      presets.hidden = false;
      showPresets(info.presets);
      document.addEventListener("keydown", onKeyDown);
      document.addEventListener("keyup", onKeyUp);
      globalThis.addEventListener("blur", onBlur);
    }).catch(() => {/* no PTZ here (409) or not allowed: the controls stay hidden */});
    onLeave(() => {
      halt();
      document.removeEventListener("keydown", onKeyDown);
      document.removeEventListener("keyup", onKeyUp);
      globalThis.removeEventListener("blur", onBlur);
    });
  }
  return { view, presets };
}
