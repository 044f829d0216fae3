/**
 * A PTZ request as the API and the fleet `ptz` command take it, read from untrusted JSON: the same
 * schema, bounds and error texts for both. Pure: no I/O. Velocities are ONVIF's generic space
 * (-1..1); a move stops by itself after `timeoutMs`; preset tokens and names are plain text of a
 * known alphabet, so nothing a user or the fleet sends can change the SOAP sent to the camera.
 */

export const PTZ_ACTIONS = ["move", "stop", "presets", "goto", "save"] as const;
export type PtzAction = typeof PTZ_ACTIONS[number];

/** A continuous move stops by itself after this long unless the caller sends another. */
export const PTZ_DEFAULT_TIMEOUT_MS = 1000;
export const PTZ_MIN_TIMEOUT_MS = 100;
export const PTZ_MAX_TIMEOUT_MS = 10_000;
/** Preset tokens: what cameras hand out (digits, names like "preset1", "Preset_3"). */
export const PRESET_TOKEN = /^[A-Za-z0-9_.-]{1,64}$/;
/** Preset names: letters (any script), digits, space and _ . - ( ), at most 64. */
export const PRESET_NAME = /^[\p{L}\p{N} _.()-]{1,64}$/u;

export interface PtzVelocity {
  readonly pan: number;
  readonly tilt: number;
  readonly zoom: number;
}

export type PtzRequest =
  | { readonly action: "move"; readonly velocity: PtzVelocity; readonly timeoutMs: number }
  | { readonly action: "stop" }
  | { readonly action: "presets" }
  | { readonly action: "goto"; readonly preset: string }
  | { readonly action: "save"; readonly name: string; readonly preset?: string };

/** One bad field: its name and what to send instead. */
export interface PtzFieldError {
  readonly field: string;
  readonly message: string;
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
};

/**
 * Reads `fields` (without `cmd`/`camera`/`expiresAt`) for `action`. Returns the request or the
 * problems, each naming its field. Unknown fields are problems too.
 */
export function readPtzRequest(
  action: unknown,
  fields: Readonly<Record<string, unknown>>,
): { ok: true; request: PtzRequest } | { ok: false; errors: PtzFieldError[] } {
  const errors: PtzFieldError[] = [];
  const fail = (field: string, message: string) => errors.push({ field, message });
  if (typeof action !== "string" || !(PTZ_ACTIONS as readonly string[]).includes(action)) {
    fail("action", `expected one of ${PTZ_ACTIONS.join(", ")}, got ${show(action)}`);
    return { ok: false, errors };
  }
  const allowed: Record<PtzAction, readonly string[]> = {
    move: ["pan", "tilt", "zoom", "timeoutMs"],
    stop: [],
    presets: [],
    goto: ["preset"],
    save: ["name", "preset"],
  };
  const known = allowed[action as PtzAction];
  for (const k of Object.keys(fields)) {
    if (!known.includes(k)) {
      fail(k, `unknown field for ${action}; known: ${known.join(", ") || "none"}`);
    }
  }
  const token = (key: string, required: boolean): string | undefined => {
    const v = fields[key];
    if (v === undefined && !required) return undefined;
    if (typeof v !== "string" || !PRESET_TOKEN.test(v)) {
      fail(
        key,
        `expected a preset token of 1 to 64 letters, digits, _ . or -, as GET presets lists ` +
          `them, got ${show(v)}`,
      );
      return undefined;
    }
    return v;
  };
  let request: PtzRequest | null = null;
  switch (action as PtzAction) {
    case "move": {
      const axis = (key: "pan" | "tilt" | "zoom"): number => {
        const v = fields[key];
        if (v === undefined) return 0;
        if (typeof v !== "number" || !Number.isFinite(v) || v < -1 || v > 1) {
          fail(key, `expected a velocity from -1 to 1 (0: still), got ${show(v)}`);
          return 0;
        }
        return v;
      };
      const velocity = { pan: axis("pan"), tilt: axis("tilt"), zoom: axis("zoom") };
      let timeoutMs = PTZ_DEFAULT_TIMEOUT_MS;
      const t = fields.timeoutMs;
      if (t !== undefined) {
        if (
          typeof t !== "number" || !Number.isInteger(t) || t < PTZ_MIN_TIMEOUT_MS ||
          t > PTZ_MAX_TIMEOUT_MS
        ) {
          fail(
            "timeoutMs",
            `expected whole milliseconds from ${PTZ_MIN_TIMEOUT_MS} to ${PTZ_MAX_TIMEOUT_MS} ` +
              `(the move stops by itself then), got ${show(t)}`,
          );
        } else timeoutMs = t;
      }
      if (errors.length === 0 && velocity.pan === 0 && velocity.tilt === 0 && velocity.zoom === 0) {
        fail("pan", "a move needs a non-zero pan, tilt or zoom velocity; use stop to stop");
      }
      request = { action: "move", velocity, timeoutMs };
      break;
    }
    case "stop":
      request = { action: "stop" };
      break;
    case "presets":
      request = { action: "presets" };
      break;
    case "goto": {
      const preset = token("preset", true);
      if (preset !== undefined) request = { action: "goto", preset };
      break;
    }
    case "save": {
      const name = fields.name;
      if (typeof name !== "string" || !PRESET_NAME.test(name)) {
        fail(
          "name",
          `expected a preset name of 1 to 64 letters, digits, space and _ . - ( ), got ${
            show(name)
          }`,
        );
      }
      const preset = token("preset", false);
      request = {
        action: "save",
        name: String(name),
        ...(preset !== undefined ? { preset } : {}),
      };
      break;
    }
  }
  if (errors.length > 0 || request === null) return { ok: false, errors };
  return { ok: true, request };
}
