/**
 * The LAN web page: its files as served, its modules type-checked, and the whole page in Debian's
 * Chromium (driven by playwright-core) against the real daemon recording a virtual camera: first-run setup, login,
 * live view that moves, the last hour's timeline (H.264 playback, the H.265 fallback with its reason when the box may not
 * transcode), export, the admin
 * screens (users, audit log, settings), profile delete.
 * Screenshots go to test-artifacts/web/.
 */
import { ffprobe } from "../testing/ffprobe.ts";
import { chromium } from "npm:playwright-core@1.65.1";
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { createWebApp } from "./mod.ts";
import { type DaemonHttps, daemonHttps } from "../testing/https_client.ts";
import { sidewaysOverflow } from "../testing/chromium.ts";

const CHROMIUM = "/usr/bin/chromium";
const PAGE = new URL("./page/", import.meta.url);
const ARTIFACTS = new URL("../../test-artifacts/web/", import.meta.url);

Deno.test("web page: files with content types, cache revalidation and a CSP", async () => {
  const web = createWebApp();
  const expected: Record<string, string> = {
    "/": "text/html",
    "/index.html": "text/html",
    "/main.js": "text/javascript",
    "/screens/camera.js": "text/javascript",
    "/style.css": "text/css",
  };
  for (const [path, type] of Object.entries(expected)) {
    const res = await web.request(path);
    const body = await res.text();
    assertEquals(res.status, 200, path);
    assert(res.headers.get("content-type")?.startsWith(type), `${path} is ${type}`);
    assertEquals(res.headers.get("cache-control"), "no-cache", path);
    assert(body.length > 100, `${path} has content`);
    const again = await web.request(path, {
      headers: { "if-none-match": res.headers.get("etag") ?? "" },
    });
    assertEquals(again.status, 304, `${path} revalidates`);
    await again.body?.cancel();
  }
  const html = await (await web.request("/")).text();
  assert(html.includes('name="viewport"'), "a viewport meta for phones");
  assert(!/https?:\/\//.test(html), "no external URL in index.html (no CDN)");
  const modules = await pageModules();
  assert(modules.length >= 10, `the page's modules: ${modules}`);
  for (const path of modules) {
    const res = await web.request(path);
    assertEquals(res.status, 200, path);
    assert(res.headers.get("content-type")?.startsWith("text/javascript"), path);
    const js = await res.text();
    // The SVG namespace is a name, not something fetched.
    // hls.js (vendor/, copied at build time) names an emsg scheme the same way.
    const jsUrls = js.replaceAll('"http://www.w3.org/2000/svg"', "")
      .replaceAll("https://aomedia.org/emsg/ID3", "");
    assert(!/https?:\/\//.test(jsUrls), `no external URL in ${path}`);
  }
  assertEquals((await web.request("/nothing")).status, 404);
  for (const path of ["/mod.ts", "/web_test.ts", "/deno.json", "/page/main.js"]) {
    assertEquals((await web.request(path)).status, 404, `${path} is not served`);
  }
});

/** The URL paths of every module of the page ("/main.js", "/screens/camera.js", …). */
async function pageModules(): Promise<string[]> {
  const paths: string[] = [];
  const walk = async (dir: URL, prefix: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`);
      else if (entry.name.endsWith(".js")) paths.push(`${prefix}${entry.name}`);
    }
  };
  await walk(PAGE, "/");
  return paths.sort();
}

Deno.test("web page: every module is type-checked (// @ts-check, DOM types) and passes", async () => {
  // vendor/ holds third-party builds copied at build time (vendor_hls.ts), not the page's code.
  for (const path of (await pageModules()).filter((p) => !p.startsWith("/vendor/"))) {
    const text = await Deno.readTextFile(new URL(`.${path}`, PAGE));
    assert(text.startsWith("// @ts-check\n"), `${path} starts with // @ts-check`);
  }
  // `deno check` checks JavaScript files only when they ask for it. The page's own deno.json gives
  // them the browser's types (DOM) instead of Deno's; the two cannot share one program, so the
  // root deno.json leaves page/ out of the daemon's check and this checks it on its own.
  const root = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const own = JSON.parse(await Deno.readTextFile(new URL("deno.json", PAGE)));
  for (const [key, value] of Object.entries(root.compilerOptions)) {
    assertEquals(own.compilerOptions[key], value, `page/deno.json compilerOptions.${key}`);
  }
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--config", "runtime/web/page/deno.json", "runtime/web/page/"],
    cwd: new URL("../../", import.meta.url),
    stdout: "null",
    stderr: "piped",
  }).output();
  const errors = new TextDecoder().decode(stderr);
  assertEquals(
    code,
    0,
    `deno check --config runtime/web/page/deno.json runtime/web/page/ failed:\n${errors}`,
  );
});

const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!hasChromium) {
  console.log(
    `web_test: SKIPPING the browser test: ${CHROMIUM} is missing; install it with ` +
      "`apt-get install -y chromium` (make deps)",
  );
}

Deno.test({
  name:
    "web page in Chromium: setup, login, live view, timeline, export, admin screens, profile delete",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await using cam = await startVirtualCamera({
      codec: "h265",
      width: 320,
      height: 240,
      fps: 15,
    });
    // An H.264 camera: its recordings play in the browser's own <video>.
    await using cam264 = await startVirtualCamera({
      codec: "h264",
      width: 320,
      height: 240,
      fps: 15,
    });
    // "door" has no sub-stream and the box allows no transcode here (http.transcodesMax 0), so
    // Chromium, without H.265, gets the last resort: the reason, then a JPEG refresh (the shared
    // H.264 transcode is transcode_test.ts's); "yard" has an H.264 sub-stream (live video).
    await using h = await startHarness({
      http: { listen: "127.0.0.1:0", transcodesMax: 0 },
      cameras: [{ id: "door", url: cam.rtspUrl }, {
        id: "lane",
        url: cam264.rtspUrl,
        codec: "h264",
      }, {
        id: "yard",
        url: cam.rtspUrl,
        subUrl: cam.subUrl,
      }],
    });
    using https = daemonHttps(h.daemon);
    await using site = await serveSite(https);
    const profileDir = await Deno.makeTempDir({ prefix: "nvr-chromium-" });
    const browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      // The box's own self-signed certificate; the tests trust it by its PEM elsewhere.
      ignoreHTTPSErrors: true,
      acceptDownloads: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = browser.pages()[0] ?? await browser.newPage();
      page.setDefaultTimeout(15_000);
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      const shot = (name: string) =>
        page.screenshot({ path: new URL(`${name}.png`, ARTIFACTS).pathname, fullPage: true });

      // First run: nobody is signed in; the setup form creates the admin and signs them in.
      await page.goto(site.url);
      await page.waitForSelector("#setup-form"); // a new recorder opens on first-run setup
      const admin = { name: "Ada", email: "ada@example.com", password: "correct horse battery" };
      const setupCode = (await Deno.readTextFile(`${h.dir}/data/setup-code`)).trim();
      await page.fill("#setup-form [name=setupCode]", setupCode);
      await page.fill("#setup-form [name=name]", admin.name);
      await page.fill("#setup-form [name=email]", admin.email);
      await page.fill("#setup-form [name=password]", admin.password);
      await page.check("#setup-form [name=acceptPrivacyNotice]");
      await shot("01-setup");
      await page.click("#setup-form button[type=submit]");
      await page.waitForSelector("#camera-grid");

      // Log out and in again through the login form.
      await page.click("#logout");
      await page.waitForSelector("#login-form");
      await page.waitForSelector("#tab-setup", { state: "hidden" }); // set up: no setup tab
      await page.fill("#login-form [name=email]", admin.email);
      await page.fill("#login-form [name=password]", "wrong password here");
      await page.click("#login-form button[type=submit]");
      await page.waitForSelector("#notice.error");
      assert((await page.textContent("#notice"))?.includes("Wrong email or password"));
      await shot("02-login-failed");
      await page.fill("#login-form [name=password]", admin.password);
      await page.click("#login-form button[type=submit]");
      await page.waitForSelector("#camera-grid");

      // Live view: the snapshot picture changes (the virtual camera's pattern moves).
      const img = page.locator('img.snapshot[data-camera="door"]');
      // The first picture needs the camera connected and a keyframe decoded: seconds alone, longer
      // when the whole suite shares two cores. A timeout says what the tile and the API showed.
      await page.waitForSelector(
        'img.snapshot[data-camera="door"][data-frames]:not([data-frames="0"])',
        { timeout: 45_000 },
      ).catch(async (e) => {
        const seen = await page.evaluate(async () => {
          const g = globalThis as unknown as PageGlobals;
          const tile = g.document.querySelector(".live:has(img.snapshot[data-camera=door])") as
            | { textContent: string }
            | null;
          const snap = await fetch("/api/cameras/door/snapshot", { cache: "no-store" });
          const snapText = snap.ok ? `${(await snap.arrayBuffer()).byteLength} bytes` : await snap
            .text();
          const list = await fetch("/api/cameras").then((r) => r.json()) as {
            cameras: { id: string }[];
          };
          const door = JSON.stringify(list.cameras.find((c) => c.id === "door"));
          return `tile: ${tile?.textContent}; snapshot: ${snap.status} ${snapText}; camera: ${door}`;
        });
        throw new Error(`no first picture from door within 45 s (${seen})`, { cause: e });
      });
      // Why there is no video, said on the tile: transcoding is off here.
      const reason = await page.textContent(
        '.live:has(img.snapshot[data-camera="door"]) .live-reason',
      );
      assert(reason?.includes("Transcoding is off"), `door's tile gives the reason (${reason})`);
      const first = await img.screenshot();
      let changed = false;
      const deadline = Date.now() + 12_000;
      while (!changed && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        changed = !sameBytes(first, await img.screenshot());
      }
      assert(changed, "the live picture changed within 12 s");
      // The camera with an H.264 sub-stream plays live video (fragmented MP4 over HTTP).
      await page.waitForSelector('video.live-video[data-camera="yard"]');
      let played = 0;
      const playDeadline = Date.now() + 15_000;
      while (played <= 1 && Date.now() < playDeadline) {
        await new Promise((r) => setTimeout(r, 500));
        played = await page.evaluate(() => {
          const g = globalThis as unknown as PageGlobals;
          const v = g.document.querySelector('video.live-video[data-camera="yard"]') as
            | { currentTime: number }
            | null;
          return v?.currentTime ?? 0;
        });
      }
      assert(played > 1, `live video of yard played (currentTime ${played})`);
      await shot("03-grid");
      await page.setViewportSize({ width: 390, height: 844 });
      const overflow = await sidewaysOverflow(page);
      assert(overflow <= 0, `no sideways scrolling at phone width (overflow ${overflow}px)`);
      await shot("04-grid-phone");
      await page.setViewportSize({ width: 1280, height: 800 });

      // Timeline: the last hour's segments, playback with the H.265 fallback, download, export.
      await h.until("door", (s) => s.segments >= 2, "door records two segments");
      await page.click('a.camera[data-camera="door"]');
      await page.waitForSelector("#segments li.segment");
      assert(await page.locator("#timeline span").count() >= 2, "segments on the timeline bar");
      await page.locator("#segments li.segment button.play").first().click();
      await page.waitForSelector("#player-fallback");
      // No H.265 in this browser and no transcode allowed on this box (transcodesMax 0): the
      // reason, from the box, and the download (camera_page_test.ts plays it where one is free).
      const fallbackText = (await page.textContent("#player-fallback")) ?? "";
      assert(
        fallbackText.includes("cannot play H.265") && fallbackText.includes("Transcoding is off"),
        `says H.265 cannot play here and why: ${fallbackText}`,
      );
      const download = await page.getAttribute("#player-download", "href");
      assert(download?.match(/^\/api\/recordings\/\d+\/download$/), `download link ${download}`);
      // Export: a job, made in the background; the Exports screen shows it done and downloads it.
      await page.click("#export-link");
      await page.waitForURL(/#\/exports$/);
      await page.waitForSelector("#exports tr[data-state='done']", { timeout: 30_000 });
      const [clip] = await Promise.all([
        page.waitForEvent("download"),
        page.click("#exports tr[data-state='done'] a[download]"),
      ]);
      assert(
        /^door-\d{8}T\d{6}\.mp4$/.test(clip.suggestedFilename()),
        clip.suggestedFilename(),
      );
      const clipProbe = await ffprobe(await clip.path());
      assert(clipProbe.frames > 10 && clipProbe.durationSeconds > 1, JSON.stringify(clipProbe));
      await page.evaluate(() => location.hash = "#/camera/door");
      const heads = await page.evaluate(async (urls) => {
        const out = [];
        for (const url of urls) {
          const res = await fetch(url);
          const bytes = (await res.arrayBuffer()).byteLength;
          out.push({ status: res.status, type: res.headers.get("content-type"), bytes });
        }
        return out;
      }, [download!]);
      for (const r of heads) {
        assertEquals(r.status, 200, JSON.stringify(heads));
        assertEquals(r.type, "video/mp4");
        assert(r.bytes > 1000, "video bytes");
      }
      // The export kept those recordings; Release hands them back to retention, Keep keeps them.
      await page.reload();
      await page.waitForSelector("#segments li.segment .badge.kept");
      await page.click("#release-range");
      await page.waitForSelector("#notice:has-text('released to retention')");
      assertEquals(await page.locator("#segments .badge.kept").count(), 0);
      await page.click("#keep-range");
      await page.waitForSelector("#notice:has-text('retention will not delete them')");
      assert(await page.locator("#segments .badge.kept").count() >= 2, "kept again");
      await shot("05-camera-timeline");
      // Moving to another page clears the last page's notice.
      await page.click('[data-nav="cameras"]');
      await page.waitForSelector("#camera-grid");
      assert(await page.isHidden("#notice"), "the notice is cleared after moving to the grid");

      // Playback for real: an H.264 segment from the timeline plays in the page's <video>.
      await h.until("lane", (s) => s.segments >= 1, "lane records a segment");
      await page.goto(new URL("/#/camera/lane", site.url).href);
      await page.waitForSelector("#segments li.segment");
      await page.locator("#segments li.segment button.play").first().click();
      await page.waitForSelector("#player video");
      let position = 0;
      const playUntil = Date.now() + 10_000;
      while (position <= 0.5 && Date.now() < playUntil) {
        await new Promise((r) => setTimeout(r, 300));
        position = await page.evaluate(() => {
          const g = globalThis as unknown as PageGlobals;
          return (g.document.querySelector("#player video") as { currentTime: number } | null)
            ?.currentTime ?? 0;
        });
      }
      assert(position > 0.5, `the H.264 segment plays (currentTime ${position})`);

      // Health: charts of the samples since the page opened, camera fps figures, disk bars.
      await page.click('[data-nav="health"]');
      // "attached", not visible: a flat line (every sample equal, e.g. 100 % CPU on a loaded
      // machine) has a zero-height box, which Playwright counts as hidden.
      await page.waitForSelector('[data-chart="cpu"] svg polyline[points]', { state: "attached" });
      const fpsFigure = '.camera-health[data-camera="door"] [data-chart="fps-door"] .value';
      await page.waitForSelector(fpsFigure);
      const fpsText = (await page.textContent(fpsFigure)) ?? "";
      assert(/^\d+\.\d fps$/.test(fpsText), `door fps figure shown: ${fpsText}`);
      assert(
        await page.locator('[data-chart="bitrate-yard"] polyline').count() === 1,
        "a bitrate chart for yard",
      );
      assert(await page.locator("#health .disk .bar").count() >= 1, "a disk use bar");
      await shot("08-health");
      await page.setViewportSize({ width: 390, height: 844 });
      const healthOverflow = await sidewaysOverflow(page);
      assert(healthOverflow <= 0, `health fits a phone (overflow ${healthOverflow}px)`);
      await page.setViewportSize({ width: 1280, height: 800 });

      // Events: the page opens with the recent history; then the stream shows new events at
      // the top.
      h.index().addEvent({
        camera: "door",
        tsMs: Date.now() - 5 * 60_000,
        kind: "web-history",
        detail: { note: "before the page opened" },
      });
      await page.click('[data-nav="events"]');
      await page.waitForSelector('#events-status[data-state="open"]');
      await page.waitForSelector('#event-list li.event[data-kind="web-history"]');
      h.index().addEvent({
        camera: "door",
        tsMs: Date.now(),
        kind: "web-test",
        detail: { note: "from web_test" },
      });
      await page.waitForSelector('#event-list li.event[data-kind="web-test"]');
      assert((await page.textContent("#event-list li.event"))?.includes("from web_test"));
      await shot("09-events");

      // Admin screens. Users: add a viewer who may see "door"; they appear in the list.
      assert(await page.isVisible('[data-nav="users"]'), "admins see the Users link");
      await page.click('[data-nav="users"]');
      await page.waitForSelector("#user-list tbody tr");
      const viewer = { name: "Vic", email: "vic@example.com", password: "viewer password 1" };
      await page.fill("#user-add-form [name=name]", viewer.name);
      await page.fill("#user-add-form [name=email]", viewer.email);
      await page.fill("#user-add-form [name=password]", viewer.password);
      await page.selectOption("#user-add-form [name=role]", "viewer");
      await page.check('#user-add-form input[name=cameras][value="door"]');
      await page.click("#user-add-form button[type=submit]");
      const vicRow = `#user-list tr[data-email="${viewer.email}"]`;
      await page.waitForSelector(vicRow);
      assertEquals(await page.inputValue(`${vicRow} select[name=role]`), "viewer");
      assert(
        await page.isChecked(`${vicRow} input[name=cameras][value="door"]`),
        "the viewer may see door",
      );
      assert(
        !await page.isChecked(`${vicRow} input[name=cameras][value="yard"]`),
        "but not yard",
      );
      await shot("10-users");
      // At 390 px the table scrolls inside its panel and the page does not scroll sideways.
      const phoneWidth = async (name: string) => {
        await page.setViewportSize({ width: 390, height: 844 });
        const width = await page.evaluate(() => {
          const g = globalThis as unknown as PageGlobals;
          return g.document.documentElement.scrollWidth;
        });
        await shot(name);
        await page.setViewportSize({ width: 1280, height: 800 });
        assert(width <= 390, `${name}: no sideways page scrolling at 390 px (width ${width}px)`);
      };
      await phoneWidth("10-users-phone");
      // Delete asks once more in place; then the viewer is gone (and Ada is the only user again,
      // which the profile delete at the end needs).
      // The way back says what it does: "Cancel" ("Keep" is for recordings only), and it keeps
      // the user.
      await page.click(`${vicRow} button.delete`);
      assertEquals((await page.textContent(`${vicRow} button.cancel`))?.trim(), "Cancel");
      assertEquals(await page.locator(`${vicRow} button:has-text("Keep")`).count(), 0);
      await page.click(`${vicRow} button.cancel`);
      await page.waitForSelector(`${vicRow} button.confirm`, { state: "hidden" });
      assert(await page.isVisible(`${vicRow} button.delete`), "Cancel leaves the user in place");
      await page.click(`${vicRow} button.delete`);
      await page.click(`${vicRow} button.confirm`);
      await page.waitForSelector(vicRow, { state: "detached" });

      // Audit: the logins and the user creation, with IP and browser.
      await page.click('[data-nav="audit"]');
      await page.waitForSelector("#audit-list tbody tr");
      const actions = await page.$$eval(
        "#audit-list tbody tr",
        (rows) =>
          rows.map((r) => `${r.getAttribute("data-action")}/${r.getAttribute("data-outcome")}`),
      );
      assert(actions.includes("login/ok"), `a login in the audit list: ${actions}`);
      assert(actions.includes("login/failed"), `the failed login too: ${actions}`);
      assert(actions.includes("user.create/ok"), `the user creation: ${actions}`);
      assert(actions.includes("user.delete/ok"), `the user deletion: ${actions}`);
      assert(
        (await page.textContent('#audit-list tr[data-action="user.create"]'))?.includes(
          admin.name,
        ),
        "the creation names who did it",
      );
      assertEquals(await page.getAttribute("#audit-export", "href"), "/api/audit/export");
      await shot("11-audit");
      await phoneWidth("11-audit-phone");

      // Settings, Advanced: the running config as JSON; a wrong value is refused naming the key.
      await page.click('[data-nav="settings"]');
      await page.click("#settings-advanced summary");
      await page.waitForSelector("#settings-json");
      const shown = JSON.parse(await page.inputValue("#settings-json"));
      assert(Array.isArray(shown.cameras) && shown.cameras.length === 3, "the running cameras");
      await page.fill("#settings-json", '{"cameras": "nope"}');
      await page.click("#settings-form button[type=submit]");
      await page.waitForSelector('#settings-result[data-kind="error"]');
      const refused = (await page.textContent("#settings-result")) ?? "";
      assert(refused.includes("cameras"), `the error names cameras: ${refused}`);
      await shot("12-settings");

      // Profile: delete with the password logs the user out, and the session is gone.
      await page.click('[data-nav="profile"]');
      await page.waitForSelector("#delete-form");
      assertEquals(await page.getAttribute("#me-export", "href"), "/api/me/export");
      const exported = await page.evaluate(async () => {
        const res = await fetch("/api/me/export");
        return { status: res.status, email: (await res.json()).profile?.email };
      });
      assertEquals(exported, { status: 200, email: admin.email });
      await shot("06-profile");
      await page.fill("#delete-form [name=password]", admin.password);
      await page.click("#delete-form button[type=submit]");
      await page.waitForSelector("#setup-form"); // the only user is gone: setup is open again
      assert((await page.textContent("#notice"))?.includes("deleted"));
      assertEquals(await page.evaluate(async () => (await fetch("/api/me")).status), 401);
      await shot("07-deleted");
      assertEquals(errors, [], "no script errors in the page");
    } catch (err) {
      const page = browser.pages()[0];
      await page?.screenshot({
        path: new URL("99-failure.png", ARTIFACTS).pathname,
        fullPage: true,
      })
        .catch(() => {});
      throw err;
    } finally {
      await browser.close();
      await Deno.remove(profileDir, { recursive: true }).catch(() => {});
    }
  },
});

/** The little of the browser's globals that page-side functions use (no DOM lib here). */
interface PageGlobals {
  readonly innerWidth: number;
  readonly document: {
    readonly documentElement: { readonly scrollWidth: number };
    querySelector(selector: string): unknown;
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The page and the API on one origin. If the daemon already serves the page (app.ts mounts
 * createWebApp), its address is used as is; otherwise a small front server in this test serves
 * the page itself and passes /api and /healthz through to the daemon unchanged, cookies included.
 */
async function serveSite(daemon: DaemonHttps): Promise<AsyncDisposable & { url: string }> {
  const daemonBase = daemon.base;
  const probe = await daemon.fetch("/main.js");
  await probe.body?.cancel();
  if (probe.ok) return { url: `${daemonBase}/`, [Symbol.asyncDispose]: async () => {} };
  const web = createWebApp();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      if (!url.pathname.startsWith("/api/") && url.pathname !== "/healthz") return web.fetch(req);
      const res = await daemon.fetch(url.pathname + url.search, {
        method: req.method,
        headers: req.headers,
        body: req.body ? await req.arrayBuffer() : null,
        redirect: "manual",
      });
      return new Response(res.body, res);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
