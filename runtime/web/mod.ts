/**
 * The LAN web page: one HTML page, one ES module and one stylesheet, all in this folder, read
 * once when the app is created and served from memory (no CDN and no build step: the LAN may have
 * no internet). Mount it after the API: `app.route("/", createWebApp())`. The page talks only to
 * the /api routes of the same origin.
 */
import { Hono } from "hono";

/** A file of the page as served: body, content type and a strong ETag of the body. */
interface Asset {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

const FILES = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
} as const;

/**
 * Browsers may keep a copy but must revalidate it (cheap: 304 on a matching ETag), so a firmware
 * update is seen on the next load without hashed file names.
 */
const CACHE_CONTROL = "no-cache";

/** Only this origin's scripts, styles, images and media; no framing, no referrer leaks. */
const CSP = [
  "default-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join("; ");

/**
 * The web page as a Hono app. Reads its files synchronously (at start-up, once) so that it can be
 * mounted from the synchronous `createApp`; a missing file fails here, naming it.
 */
export function createWebApp(): Hono {
  const cache = new Map<string, Asset>();
  const assets = new Map<string, Asset>();
  for (const [route, { file, type }] of Object.entries(FILES)) {
    let asset = cache.get(file);
    if (!asset) {
      const url = new URL(file, import.meta.url);
      let body: string;
      try {
        body = Deno.readTextFileSync(url);
      } catch (err) {
        throw new Error(
          `web page file ${url.pathname} could not be read (${(err as Error).message}); ` +
            "reinstall the firmware: runtime/web/ must ship with the daemon",
        );
      }
      asset = { body, type, etag: etagOf(body) };
      cache.set(file, asset);
    }
    assets.set(route, asset);
  }

  const app = new Hono();
  for (const [route, asset] of assets) {
    app.get(route, (c) => {
      c.header("Cache-Control", CACHE_CONTROL);
      c.header("ETag", asset.etag);
      c.header("X-Content-Type-Options", "nosniff");
      c.header("Referrer-Policy", "no-referrer");
      if (asset.type.startsWith("text/html")) {
        c.header("Content-Security-Policy", CSP);
        c.header("X-Frame-Options", "DENY");
      }
      if (c.req.header("If-None-Match") === asset.etag) return c.body(null, 304);
      c.header("Content-Type", asset.type);
      return c.body(asset.body);
    });
  }
  return app;
}

/** FNV-1a over the UTF-16 code units: enough to tell two versions of a file apart. */
function etagOf(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `"${h.toString(16)}-${text.length.toString(16)}"`;
}
