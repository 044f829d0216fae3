// @ts-check
// The API client: JSON in and out, the session's CSRF token on every state-changing request, and
// failures as ApiFailure with the API's code, message and field.

/** @typedef {import("./types.js").User} User */

/**
 * Who is signed in, and the CSRF token of their session ("" when nobody is).
 * @type {{ user: User | null, csrf: string }}
 */
export const SESSION = { user: null, csrf: "" };

/** A refused or failed API call: the HTTP status, the API's error code, message and field. */
export class ApiFailure extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {string | undefined} field
   * @param {{ field?: string, message: string }[]} [problems] each problem of a refused change
   */
  constructor(status, code, message, field, problems) {
    super(message);
    this.name = "ApiFailure";
    this.status = status;
    this.code = code;
    this.field = field;
    this.problems = problems;
  }
}

/**
 * What a caller catches: an ApiFailure, or any other error (then `status`, `code` and `field` are
 * undefined). The page's handlers read these fields without narrowing.
 * @typedef {Error & { status?: number, code?: string, field?: string | undefined }} Failure
 */

/**
 * Calls the API; JSON in and out; the CSRF token on every state-changing request. The answer is
 * the parsed JSON body (null when empty); callers state its shape (see types.js).
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [options]
 * @returns {Promise<any>}
 */
export async function api(path, { method = "GET", body } = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && SESSION.csrf) headers["x-csrf-token"] = SESSION.csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data?.error ?? {};
    throw new ApiFailure(
      res.status,
      err.code ?? "http_" + res.status,
      err.message ?? `The recorder answered ${res.status} ${res.statusText}`,
      err.field,
      Array.isArray(err.problems) ? err.problems : undefined,
    );
  }
  return data;
}
