/**
 * Refuses what a browser on a foreign page can make a LAN user's browser send:
 * - a `Host` that is not one of the box's names (DNS rebinding: evil.example resolving to the
 *   box's address would otherwise be same-origin with the API) → 421;
 * - a state-changing request (POST, PUT, PATCH, DELETE) or a WebSocket upgrade from a foreign
 *   `Origin`, or marked `Sec-Fetch-Site: cross-site` → 403 (a WebSocket is not bound by CORS:
 *   any page may open one to the box, with the user's cookies when same-site);
 * - a state-changing request whose body is not `application/json` (text/plain and form posts
 *   are the ones a foreign page may send without a CORS preflight) → 415.
 * /healthz answers any Host: it is liveness only, and monitors use whatever name they know.
 */
import type { Context, MiddlewareHandler } from "hono";
import { errorBody } from "./errors.ts";
import { normalHost } from "./own_names.ts";

export interface LanGuardOptions {
  /** The box's own names and addresses, normalised (own_names.ts). */
  readonly allowedHosts: () => ReadonlySet<string>;
  /** Paths served whatever the Host; default ["/healthz"]. */
  readonly anyHostPaths?: readonly string[];
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const ALLOW_KEY = "http.allowedHosts";

export function lanGuard(options: LanGuardOptions): MiddlewareHandler {
  const anyHost = new Set(options.anyHostPaths ?? ["/healthz"]);
  return async function lanGuardMiddleware(c, next) {
    if (!anyHost.has(c.req.path)) {
      const host = hostOf(c);
      if (host === null || !options.allowedHosts().has(host)) {
        const shown = (c.req.header("host") ?? "").slice(0, 100);
        return c.json(
          errorBody(
            "host_not_allowed",
            `Host '${shown}' is not a name of this recorder; open it by its address or ` +
              `hostname, or add the name to ${ALLOW_KEY} in the config`,
          ),
          421,
        );
      }
    }
    if (STATE_CHANGING.has(c.req.method)) {
      const refusal = crossSite(c, options.allowedHosts()) ?? notJson(c);
      if (refusal) return refusal;
    } else if ((c.req.header("upgrade") ?? "").toLowerCase() === "websocket") {
      const refusal = crossSite(c, options.allowedHosts());
      if (refusal) return refusal;
    }
    await next();
  };
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/** The Host header's name (port dropped), normalised; null unless it is a plain host[:port]. */
function hostOf(c: Context): string | null {
  const raw = c.req.header("host") ?? new URL(c.req.url).host;
  if (!HOST.test(raw)) return null;
  try {
    return normalHost(new URL(`http://${raw}`).hostname);
  } catch {
    return null;
  }
}

function crossSite(c: Context, allowed: ReadonlySet<string>): Response | null {
  const origin = c.req.header("origin");
  const refuse = (why: string) =>
    c.json(
      errorBody(
        "cross_origin",
        `${why}; state-changing requests and WebSockets are accepted only from this ` +
          "recorder's own page " +
          `(a name in ${ALLOW_KEY} counts as its own)`,
      ),
      403,
    );
  if (c.req.header("sec-fetch-site") === "cross-site") {
    return refuse("Request sent by another site (Sec-Fetch-Site: cross-site)");
  }
  if (origin === undefined) return null; // not a browser (curl, scripts): Host was checked
  let name: string | null = null;
  try {
    const url = new URL(origin);
    if (url.protocol === "https:" || url.protocol === "http:") name = normalHost(url.hostname);
  } catch { /* "null" and garbage */ }
  if (name === null || !allowed.has(name)) {
    return refuse(`Origin '${origin.slice(0, 100)}' is not this recorder`);
  }
  return null;
}

function notJson(c: Context): Response | null {
  const type = c.req.header("content-type");
  const length = c.req.header("content-length");
  // A body-less DELETE or logout needs no type; a typeless body (a Blob) is refused.
  const hasBody = (length !== undefined && length !== "0") ||
    c.req.header("transfer-encoding") !== undefined;
  if (type === undefined && !hasBody) return null;
  const media = (type ?? "").split(";")[0]!.trim().toLowerCase();
  if (media === "application/json") return null;
  return c.json(
    errorBody(
      "unsupported_media_type",
      `Content-Type '${(type ?? "").slice(0, 100)}' is not accepted; send the body as JSON ` +
        "with Content-Type: application/json",
    ),
    415,
  );
}
