// @ts-check
// Find cameras (admins): a WS-Discovery probe and/or a scan of an address range (for networks
// that drop multicast) lists the ONVIF cameras not yet added with vendor, model and address.
// Adding one takes two clicks: "Add" checks the credentials on the camera (and says whether they
// work) and shows its profiles; "Add camera" adds it with the main stream to record and the
// sub-stream to view. The API does the work: POST /api/cameras/discover,
// /api/cameras/onvif-profiles and /api/cameras; the probe's interface is chosen among those
// GET /api/cameras/discover/interfaces lists (a box on two networks).

import { api } from "../api.js";
import { h, notice, show } from "../dom.js";
import { formValues, handleSubmit } from "../forms.js";

/**
 * A camera of POST /api/cameras/discover.
 * @typedef {object} Found
 * @property {string} address
 * @property {string} deviceUrl
 * @property {"ws-discovery" | "scan"} via
 * @property {string | null} vendor
 * @property {string | null} model
 * @property {string | null} serial
 * @property {string | null} name
 * @property {"ok" | "refused"} credentials
 */

/**
 * A profile of POST /api/cameras/onvif-profiles.
 * @typedef {object} Profile
 * @property {string} token
 * @property {string} name
 * @property {string} encoding
 * @property {number | null} width
 * @property {number | null} height
 * @property {number | null} fps
 */

/** Shows the search form; results and the add steps appear below it. */
export function findScreen() {
  const results = h("section", {
    class: "panel",
    id: "find-results",
    hidden: true,
  });
  const adding = h("section", { class: "panel", id: "find-add", hidden: true });
  const status = h("p", {
    id: "find-status",
    role: "status",
    class: "muted",
    hidden: true,
  });
  // The probe leaves by the system's route unless an interface is chosen (a box on two LANs).
  const iface = h(
    "select",
    { name: "interface", id: "find-interface" },
    h("option", { value: "" }, "Any (the system's route)"),
  );
  api("/api/cameras/discover/interfaces").then(
    (/** @type {{ interfaces: { name: string, address: string }[] }} */ r) => {
      for (const i of r.interfaces) {
        iface.append(
          h("option", { value: i.name }, `${i.name} (${i.address})`),
        );
      }
    },
    () => {/* the list is a convenience: "Any" still works */},
  );
  const form = h(
    "form",
    { id: "find-form" },
    h(
      "label",
      { class: "check" },
      h("input", {
        type: "checkbox",
        name: "multicast",
        value: "yes",
        checked: true,
      }),
      "Ask the network (WS-Discovery probe on the LAN)",
    ),
    h(
      "div",
      { class: "find-fields" },
      h("label", {}, "Interface for the probe", iface),
      h(
        "label",
        {},
        "Addresses to scan too (optional: for networks that drop multicast; at most 256)",
        h("input", {
          name: "range",
          placeholder: "192.168.1.10-192.168.1.40 or 192.168.1.0/24",
          autocomplete: "off",
        }),
      ),
      h(
        "label",
        {},
        "Ports (comma-separated)",
        h("input", {
          name: "ports",
          value: "80",
          inputmode: "numeric",
          autocomplete: "off",
        }),
      ),
      h(
        "label",
        {},
        "Camera user name (optional)",
        h("input", { name: "username", autocomplete: "off" }),
      ),
      h(
        "label",
        {},
        "Camera password",
        h("input", { name: "password", type: "password", autocomplete: "off" }),
      ),
    ),
    h(
      "div",
      { class: "row" },
      h("button", { type: "submit" }, "Search"),
      status,
    ),
  );
  handleSubmit(form, async () => {
    const v = formValues(form);
    const ports = (v.ports ?? "").split(/[\s,]+/).filter(Boolean).map(Number);
    /** @type {Record<string, unknown>} */
    const body = {
      multicast: v.multicast === "yes",
      ...(v.interface ? { interface: v.interface } : {}),
      ...(v.range ? { range: v.range.trim() } : {}),
      ...(ports.length ? { ports } : {}),
      ...(v.username ? { username: v.username, password: v.password ?? "" } : {}),
    };
    status.textContent = "Searching… (a few seconds)";
    status.hidden = false;
    adding.hidden = true;
    try {
      const found = await api("/api/cameras/discover", {
        method: "POST",
        body,
      });
      status.textContent = `Done: ${found.cameras.length} new, ${found.alreadyAdded.length} ` +
        "already added.";
      listFound(results, adding, found, v.username ?? "", v.password ?? "");
    } catch (e) {
      status.hidden = true;
      throw e;
    }
  });
  show(
    h("h1", {}, "Find cameras"),
    h(
      "section",
      { class: "panel" },
      h(
        "p",
        { class: "muted" },
        "Lists the ONVIF cameras on the network that are not added yet. A user name and " +
          "password let the recorder ask each camera for its vendor and model and tell whether " +
          "they work.",
      ),
      form,
    ),
    results,
    adding,
  );
}

/**
 * Draws the cameras found, each with an Add button.
 * @param {HTMLElement} results
 * @param {HTMLElement} adding
 * @param {{ cameras: Found[], alreadyAdded: string[], ignored: string[],
 *   withoutOnvif?: { camera: string, address: string, deviceUrl: string }[] }} found
 * @param {string} username
 * @param {string} password
 */
function listFound(results, adding, found, username, password) {
  const list = h("ul", { class: "found", id: "found-list" });
  for (const cam of found.cameras) {
    const title = [cam.vendor, cam.model].filter(Boolean).join(" ") ||
      "ONVIF camera";
    list.append(
      h(
        "li",
        { dataset: { address: cam.address } },
        h(
          "div",
          { class: "found-what" },
          h("strong", {}, title),
          h("span", { class: "found-address" }, cam.address),
          h(
            "span",
            { class: "muted" },
            [
              cam.name ? `"${cam.name}"` : null,
              cam.serial ? `serial ${cam.serial}` : null,
              cam.via === "scan" ? "found by the scan" : "answered the probe",
            ].filter(Boolean).join(" · "),
          ),
          h(
            "span",
            { class: cam.credentials === "ok" ? "ok-text" : "muted" },
            cam.credentials === "ok"
              ? "credentials work"
              : username
              ? "these credentials do not work"
              : "needs credentials",
          ),
        ),
        h("button", {
          type: "button",
          class: "secondary",
          onclick: () => startAdd(adding, cam, username, password),
        }, "Add"),
      ),
    );
  }
  results.replaceChildren(
    h("h2", {}, "Cameras not added yet"),
    found.cameras.length ? list : h(
      "p",
      { class: "muted" },
      "None found. Cameras on another subnet or on a network that drops multicast: give their " +
        "addresses to scan, and the port of their ONVIF service if it is not 80.",
    ),
    found.alreadyAdded.length
      ? h(
        "p",
        { class: "muted" },
        `Already added: ${found.alreadyAdded.join(", ")}.`,
      )
      : "",
    linkList(found.withoutOnvif ?? [], username, password),
  );
  results.hidden = false;
}

/**
 * Cameras added by their RTSP URL only, with an ONVIF device found at their host: "Link" gives
 * the camera that ONVIF address (its identity, events, PTZ and clock check), with the search's
 * credentials (none: the camera's own are used).
 * @param {{ camera: string, address: string, deviceUrl: string }[]} rows
 * @param {string} username
 * @param {string} password
 */
function linkList(rows, username, password) {
  if (rows.length === 0) return "";
  const list = h("ul", { class: "found", id: "link-list" });
  for (const row of rows) {
    const button = h("button", { type: "button", class: "secondary" }, "Link");
    const item = h(
      "li",
      { dataset: { camera: row.camera, address: row.address } },
      h(
        "div",
        { class: "found-what" },
        h("strong", {}, row.camera),
        h("span", { class: "found-address" }, row.address),
        h(
          "span",
          { class: "muted" },
          "added by its RTSP URL; this ONVIF device is at its host",
        ),
      ),
      button,
    );
    button.addEventListener("click", () => {
      button.disabled = true;
      api(`/api/cameras/${encodeURIComponent(row.camera)}`, {
        method: "PATCH",
        body: {
          onvif: {
            url: row.deviceUrl,
            ...(username ? { username, password } : {}),
          },
        },
      }).then(() => {
        item.replaceChildren(
          h(
            "span",
            { class: "ok-text" },
            `${row.camera} now uses the ONVIF service at ${row.address}.`,
          ),
        );
      }, (e) => {
        button.disabled = false;
        notice(/** @type {Error} */ (e).message, "error");
      });
    });
    list.append(item);
  }
  return h(
    "div",
    { id: "find-link" },
    h("h2", {}, "Cameras without their ONVIF address"),
    list,
  );
}

/**
 * A camera id from what the camera said (config: letters, digits, _ and -, at most 32).
 * @param {Found} cam
 */
function suggestedId(cam) {
  const base = (cam.name ?? cam.model ?? "camera").toLowerCase().replace(
    /[^a-z0-9_-]+/g,
    "-",
  )
    .replace(/^[-_]+|-+$/g, "").slice(0, 24) || "camera";
  const port = cam.address.split(":").pop() ?? "";
  return `${base}-${port}`.slice(0, 32);
}

/**
 * Step one: check the credentials on the camera (at once with those of the search), then step
 * two: pick its profiles and add it.
 * @param {HTMLElement} panel
 * @param {Found} cam
 * @param {string} username
 * @param {string} password
 */
function startAdd(panel, cam, username, password) {
  const title = [cam.vendor, cam.model].filter(Boolean).join(" ") ||
    "ONVIF camera";
  const verdict = h("p", {
    id: "find-credentials-result",
    role: "status",
    hidden: true,
  });
  const profilesBox = h("div", { id: "find-profiles" });
  const creds = h(
    "form",
    { id: "find-credentials" },
    h(
      "label",
      {},
      "User name",
      h("input", { name: "username", value: username }),
    ),
    h(
      "label",
      {},
      "Password",
      h("input", { name: "password", type: "password", value: password }),
    ),
    h(
      "div",
      { class: "row" },
      h("button", { type: "submit" }, "Check"),
      verdict,
    ),
  );
  const check = async () => {
    const v = formValues(creds);
    verdict.hidden = true;
    profilesBox.replaceChildren();
    const answer = await api("/api/cameras/onvif-profiles", {
      method: "POST",
      body: {
        address: cam.deviceUrl,
        username: v.username ?? "",
        password: v.password ?? "",
      },
    });
    verdict.hidden = false;
    verdict.dataset.credentials = answer.credentials;
    if (answer.credentials !== "ok") {
      verdict.className = "error-text";
      verdict.textContent = "The camera refused this user name or password.";
      return;
    }
    verdict.className = "ok-text";
    verdict.textContent = "The camera accepts these credentials.";
    profilesBox.replaceChildren(
      profilesForm(cam, answer.profiles, v.username ?? "", v.password ?? ""),
    );
  };
  handleSubmit(creds, check);
  panel.replaceChildren(
    h("h2", {}, `Add ${title} at ${cam.address}`),
    creds,
    profilesBox,
  );
  panel.hidden = false;
  panel.scrollIntoView({ block: "nearest" });
  if (username) {
    check().catch((e) => notice(/** @type {Error} */ (e).message, "error"));
  }
}

/**
 * One profile as an option: "main — H265 1280×720 15 fps".
 * @param {Profile} p
 */
function profileLabel(p) {
  const size = p.width && p.height ? ` ${p.width}×${p.height}` : "";
  const fps = p.fps ? ` ${p.fps} fps` : "";
  return `${p.name} — ${p.encoding || "?"}${size}${fps}`;
}

/**
 * Step two: the camera's id, its main stream (recorded) and sub-stream (live view; H.264 only).
 * @param {Found} cam
 * @param {Profile[]} profiles
 * @param {string} username
 * @param {string} password
 */
function profilesForm(cam, profiles, username, password) {
  const main = h(
    "select",
    { name: "mainProfile" },
    profiles.map((p) => h("option", { value: p.token }, profileLabel(p))),
  );
  const h264 = profiles.filter((p) => p.encoding === "H264");
  const sub = h(
    "select",
    { name: "subProfile" },
    h("option", { value: "" }, "none"),
    h264.map((p) => h("option", { value: p.token }, profileLabel(p))),
  );
  // The usual pair: the first profile recorded, the next H.264 one for live view.
  const first = profiles[0];
  const second = h264.find((p) => p !== first);
  if (second) sub.value = second.token;
  const form = h(
    "form",
    { id: "find-profiles-form" },
    h(
      "label",
      {},
      "Camera id (letters, digits, _ and -)",
      h("input", {
        name: "id",
        value: suggestedId(cam),
        required: true,
        pattern: "[A-Za-z0-9][A-Za-z0-9_\\-]{0,31}",
      }),
    ),
    h("label", {}, "Main stream (recorded)", main),
    h("label", {}, "Sub-stream (live view in the browser)", sub),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Add camera")),
  );
  handleSubmit(form, async (v) => {
    await api("/api/cameras", {
      method: "POST",
      body: {
        id: v.id,
        onvif: {
          address: cam.deviceUrl,
          username,
          password,
          mainProfile: v.mainProfile,
          subProfile: v.subProfile ? v.subProfile : null,
        },
      },
    });
    location.hash = `#/camera/${encodeURIComponent(v.id ?? "")}`;
  });
  return form;
}
