/** Shape checks for profile files: every problem at once, naming the key and what is allowed. */
import { BOARD_IDS, type BoardId } from "./detect.ts";

export const ENCODER_LISTS = { h265: "h265Encoders", h264: "h264Encoders" } as const;
export const DECODER_LISTS = {
  h265: "h265Decoders",
  h264: "h264Decoders",
  mjpeg: "mjpegDecoders",
} as const;
export const TOP_KEYS = [
  "id",
  "extends",
  "name",
  "notes",
  "transcode",
  ...Object.values(ENCODER_LISTS),
  ...Object.values(DECODER_LISTS),
];
export const ENCODER_KEYS = [
  "element",
  "props",
  "convert",
  "linksFrom",
  "caps",
  "maxWidth",
  "maxHeight",
  "maxFps",
  "speed",
  "package",
];
export const DECODER_KEYS = ["element", "props", "before", "download", "package"];
export const TRANSCODE_KEYS = ["maxSessions", "basis"];
/** The same bounds as http.transcodesMax, its override in the configuration. */
export const MAX_TRANSCODE_SESSIONS = 16;
export const ELEMENT = /^[a-z0-9_]+$/;
export const TEMPLATE_KEYS = ["bps", "kbps", "gop"] as const;

/** Every problem in one profile file; `id` null for common.json (no id, no extends). */
export function checkShape(p: Record<string, unknown>, id: string | null): string[] {
  const problems: string[] = [];
  const allowed = id === null ? TOP_KEYS.filter((k) => k !== "id" && k !== "extends") : TOP_KEYS;
  for (const key of Object.keys(p)) {
    if (!allowed.includes(key)) {
      problems.push(`unknown key '${key}'; allowed: ${allowed.join(", ")}`);
    }
  }
  if (id !== null && p.id !== id) {
    problems.push(`'id' is ${show(p.id)}; it must be the file name, "${id}"`);
  }
  if ("extends" in p && !BOARD_IDS.includes(p.extends as BoardId)) {
    problems.push(`'extends' is ${show(p.extends)}; allowed: ${BOARD_IDS.join(", ")}`);
  }
  if (id !== null && !("extends" in p) && (typeof p.name !== "string" || p.name === "")) {
    problems.push(`'name' is ${show(p.name)}; it must be a non-empty string`);
  }
  if ("notes" in p && !(Array.isArray(p.notes) && p.notes.every((n) => typeof n === "string"))) {
    problems.push(`'notes' must be a list of strings`);
  }
  if (id === null && !isObject(p.transcode)) {
    problems.push(`'transcode' is ${show(p.transcode)}; it must be the software transcode's cap`);
  }
  if ("transcode" in p && p.transcode !== null) checkTranscode(p.transcode, problems);
  for (const key of Object.values(ENCODER_LISTS)) checkList(p, key, ENCODER_KEYS, problems);
  for (const key of Object.values(DECODER_LISTS)) checkList(p, key, DECODER_KEYS, problems);
  return problems;
}

/** `transcode`: { maxSessions, basis }, or null in a profile that drops the one it extends. */
function checkTranscode(t: unknown, problems: string[]): void {
  if (!isObject(t)) {
    return void problems.push(`'transcode' must be an object { maxSessions, basis } or null`);
  }
  for (const k of Object.keys(t)) {
    if (!TRANSCODE_KEYS.includes(k)) {
      problems.push(`'transcode.${k}' is not a key; allowed: ${TRANSCODE_KEYS.join(", ")}`);
    }
  }
  const n = t.maxSessions;
  if (!(typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= MAX_TRANSCODE_SESSIONS)) {
    problems.push(
      `'transcode.maxSessions' is ${show(n)}; it must be a whole number from 0 to ` +
        `${MAX_TRANSCODE_SESSIONS}`,
    );
  }
  if (typeof t.basis !== "string" || t.basis === "") {
    problems.push(
      `'transcode.basis' is ${show(t.basis)}; say where the number comes from (measured, or ` +
        "the vendor's document)",
    );
  }
}

function checkList(
  p: Record<string, unknown>,
  key: string,
  keys: readonly string[],
  problems: string[],
): void {
  if (!(key in p)) return;
  const list = p[key];
  if (!Array.isArray(list)) return void problems.push(`'${key}' must be a list`);
  list.forEach((item, i) => {
    const at = `${key}[${i}]`;
    if (!isObject(item)) return void problems.push(`'${at}' must be an object`);
    for (const k of Object.keys(item)) {
      if (!keys.includes(k)) {
        problems.push(`'${at}.${k}' is not a key; allowed: ${keys.join(", ")}`);
      }
    }
    if (typeof item.element !== "string" || !ELEMENT.test(item.element)) {
      problems.push(
        `'${at}.element' is ${
          show(item.element)
        }; it must be a GStreamer factory name like "x265enc"`,
      );
    }
    for (const k of ["props", "convert", "caps", "before", "download", "speed", "package"]) {
      if (k in item && typeof item[k] !== "string") problems.push(`'${at}.${k}' must be a string`);
    }
    for (const k of ["maxWidth", "maxHeight", "maxFps"]) {
      const v = item[k];
      if (k in item && !(typeof v === "number" && Number.isInteger(v) && v > 0)) {
        problems.push(`'${at}.${k}' is ${show(v)}; it must be a positive whole number`);
      }
    }
    if (
      "linksFrom" in item &&
      !(Array.isArray(item.linksFrom) && item.linksFrom.every((x) => typeof x === "string"))
    ) {
      problems.push(`'${at}.linksFrom' must be a list of element names`);
    }
    for (const name of String(item.props ?? "").matchAll(/\{([^}]*)\}/g)) {
      if (!(TEMPLATE_KEYS as readonly string[]).includes(name[1] ?? "")) {
        problems.push(
          `'${at}.props' uses {${name[1]}}; allowed: ${
            TEMPLATE_KEYS.map((k) => `{${k}}`).join(", ")
          }`,
        );
      }
    }
  });
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
export function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
export function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}
export function show(v: unknown): string {
  return v === undefined ? "missing" : JSON.stringify(v);
}
