/**
 * The LAN web page: one HTML page, its native ES modules (main.js, the modules it imports and
 * screens/*.js) and one stylesheet, all in this folder, read once when the app is created and
 * served from memory (no CDN, no bundler and no build step: the LAN may have no internet). Mount
 * it after the API: `app.route("/", createWebApp())`. The page talks only to the /api routes of
 * the same origin.
 */
import { Hono } from "hono";

/** A file of the page as served: body, content type and a strong ETag of the body. */
interface Asset {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

/** The files served, by extension; anything else in the folder (mod.ts, tests) is not. */
const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/**
 * Browsers may keep a copy but must revalidate it (cheap: 304 on a matching ETag), so a firmware
 * update is seen on the next load without hashed file names.
 */
const CACHE_CONTROL = "no-cache";

/** Only this origin's scripts (module scripts included), styles, images and media; no framing, no referrer leaks. */
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
 * mounted from the synchronous `createApp`; an unreadable folder or file fails here, naming it.
 *
 * The files are answered by one middleware rather than one GET route each: the API's route table
 * (`app.routes`, walked by the tests that check every API route is documented and refuses
 * anonymous requests) stays the API's, and a path that is no file falls through to the API's 404.
 */
export function createWebApp(): Hono {
  const assets = readAssets(new URL("./page/", import.meta.url));
  const index = assets.get("/index.html");
  if (index) assets.set("/", index);

  const app = new Hono();
  app.use(async function webPage(c, next) {
    // HEAD arrives here as GET (Hono answers it without the body).
    const asset = c.req.method === "GET" ? assets.get(c.req.path) : undefined;
    if (!asset) return await next();
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
  return app;
}

/**
 * Every .html, .js and .css file under `root`, by its URL path ("/main.js", "/screens/camera.js").
 * Test files (*_test.*) are left out.
 */
function readAssets(root: URL): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (dir: URL, prefix: string) => {
    for (const entry of readDir(dir)) {
      if (entry.isDirectory) {
        walk(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`);
        continue;
      }
      const type = TYPES[entry.name.slice(entry.name.lastIndexOf("."))];
      if (!entry.isFile || !type || /_test\.\w+$/.test(entry.name)) continue;
      const body = readFile(new URL(entry.name, dir));
      assets.set(`${prefix}${entry.name}`, { body, type, etag: etagOf(body) });
    }
  };
  walk(root, "/");
  if (!assets.has("/index.html") || !assets.has("/main.js")) {
    throw new Error(
      `web page folder ${root.pathname} has no index.html or main.js; ` +
        "reinstall the firmware: runtime/web/ must ship with the daemon",
    );
  }
  return assets;
}

function readDir(dir: URL): Deno.DirEntry[] {
  try {
    // Sorted, so that the served set does not depend on the file system's order.
    return [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name));
  } catch (err) {
    throw new Error(
      `web page folder ${dir.pathname} could not be read (${(err as Error).message}); ` +
        "reinstall the firmware: runtime/web/ must ship with the daemon",
    );
  }
}

function readFile(url: URL): string {
  try {
    return Deno.readTextFileSync(url);
  } catch (err) {
    throw new Error(
      `web page file ${url.pathname} could not be read (${(err as Error).message}); ` +
        "reinstall the firmware: runtime/web/ must ship with the daemon",
    );
  }
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
