/**
 * Debian's Chromium (playwright-core) at a daemon's page, signed in as a new user would be: the
 * first visit creates the admin account with the setup code. For the page tests in runtime/web/.
 */
import { chromium, type Page } from "npm:playwright-core@1.65.1";

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

export interface AdminPage extends AsyncDisposable {
  readonly page: Page;
  /** "https://127.0.0.1:<port>/" */
  readonly base: string;
  /** Uncaught errors of the page, in order. */
  readonly errors: string[];
}

/** A fresh profile at the page of the daemon `h`, the admin made, the camera grid showing. */
export async function openAsNewAdmin(
  h: { readonly daemon: { readonly listen: { readonly port: number } }; readonly dir: string },
  viewport = { width: 1280, height: 800 },
  /** The browser's locale and time zone (e.g. "en-US", "America/New_York"); default: the host's. */
  context: { locale?: string; timezoneId?: string } = {},
): Promise<AdminPage> {
  const base = `https://127.0.0.1:${h.daemon.listen.port}/`;
  const profileDir = await Deno.makeTempDir({ prefix: "nvr-chromium-" });
  const browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    ...context,
    ignoreHTTPSErrors: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  const close = async () => {
    await browser.close();
    await Deno.remove(profileDir, { recursive: true }).catch(() => {});
  };
  try {
    const page = browser.pages()[0] ?? await browser.newPage();
    page.setDefaultTimeout(20_000);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(base);
    await page.waitForSelector("#setup-form");
    const setupCode = (await Deno.readTextFile(`${h.dir}/data/setup-code`)).trim();
    await page.fill("#setup-form [name=setupCode]", setupCode);
    await page.fill("#setup-form [name=name]", "Ada");
    await page.fill("#setup-form [name=email]", "ada@example.com");
    await page.fill("#setup-form [name=password]", "correct horse battery");
    await page.check("#setup-form [name=acceptPrivacyNotice]");
    await page.click("#setup-form button[type=submit]");
    await page.waitForSelector("#camera-grid");
    return { page, base, errors, [Symbol.asyncDispose]: close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** How many pixels the page is wider than the window (> 0: it scrolls sideways, e.g. at 390 px). */
export function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => {
    const g = globalThis as unknown as {
      innerWidth: number;
      document: { documentElement: { scrollWidth: number } };
    };
    return g.document.documentElement.scrollWidth - g.innerWidth;
  });
}

/**
 * Clicks the timeline's zoom button for `spanMs` and waits until the bar `barSelector` spans it
 * (its aria-valuemin/max): the previous view's runs may still be drawn, so waiting for a run is
 * not enough to know the new scale is in place.
 */
export async function zoomTimeline(page: Page, barSelector: string, spanMs: number): Promise<void> {
  await page.click(`button[data-zoom="${spanMs}"]`);
  await page.waitForFunction(
    ([sel, span]: [string, number]) => {
      const el = (globalThis as unknown as {
        document: { querySelector(s: string): { getAttribute(a: string): string | null } };
      }).document.querySelector(sel);
      return Number(el.getAttribute("aria-valuemax")) -
          Number(el.getAttribute("aria-valuemin")) === span;
    },
    [barSelector, spanMs] as [string, number],
  );
}

/** An element's box on the page, in CSS pixels of the viewport. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Whether two boxes share any area (touching edges do not count). */
export function boxesIntersect(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height &&
    b.y < a.y + a.height;
}

/**
 * Every pair of a shown element matching `a` and one matching `b` whose boxes intersect, described
 * for an assertion's message ("[] when none covers another"). Hidden elements (no box) are left out.
 */
export async function overlapping(page: Page, a: string, b: string): Promise<string[]> {
  const boxes = (sel: string) =>
    page.$$eval(sel, (els) =>
      els.flatMap((el) => {
        const e = el as unknown as {
          getBoundingClientRect(): { x: number; y: number; width: number; height: number };
          textContent: string | null;
          className: string;
        };
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.height > 0
          ? [{
            x: r.x,
            y: r.y,
            width: r.width,
            height: r.height,
            name: (e.textContent ?? "").trim().slice(0, 20) || e.className,
          }]
          : [];
      }));
  const [as, bs] = await Promise.all([boxes(a), boxes(b)]);
  const fmt = (r: Box & { name: string }) =>
    `"${r.name}" at ${Math.round(r.x)},${Math.round(r.y)} ${Math.round(r.width)}×${
      Math.round(r.height)
    }`;
  return as.flatMap((ra) =>
    bs.filter((rb) => boxesIntersect(ra, rb)).map((rb) => `${fmt(ra)} covers ${fmt(rb)}`)
  );
}
