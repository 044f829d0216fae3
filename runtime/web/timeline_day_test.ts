/**
 * The timeline on another day, in Debian's Chromium (playwright-core) against the real daemon
 * recording an H.264 virtual camera (2 s segments), the browser in UTC:
 * - a real outage today (the camera dropped for a few seconds) is drawn as a gap where the
 *   index has it, at the right length;
 * - three days back (copies of the camera's real segments filed under that day's times, with
 *   the gaps between runs indexed: runtime/testing/older_recordings.ts), picked with the day
 *   picker: the bar spans that day, its runs and gaps are where they were recorded, zooming stays
 *   on that day, and a time picked there plays from within a second or two of it;
 * - drag-scrubbing: while the button is down the cursor follows the pointer and the thumbnail
 *   under it shows; on release the cursor and the playing time follow the time let go at.
 * Screenshots at 1280 and 390 px in test-artifacts/timeline/ (day-*.png).
 */
import { until } from "../testing/until.ts";
import { assert } from "../testing/assert.ts";
import {
  type AdminPage,
  hasChromium,
  openAsNewAdmin,
  sidewaysOverflow,
} from "../testing/chromium.ts";
import { seedOlderRuns } from "../testing/older_recordings.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { VENDORED, vendorHls } from "./vendor_hls.ts";

type Page = AdminPage["page"];

const ARTIFACTS = new URL("../../test-artifacts/timeline/", import.meta.url);
const DAY = 86_400_000;
const MIN = 60_000;

const BAR = '.tl-bar[data-camera="lane"]';
const VIDEO = 'video[data-camera="lane"]';

/** The bar's time range, from its aria attributes. */
async function barRange(page: Page): Promise<{ min: number; max: number }> {
  return {
    min: Number(await page.getAttribute(BAR, "aria-valuemin")),
    max: Number(await page.getAttribute(BAR, "aria-valuemax")),
  };
}

/** Waits until the bar spans `span` ms from `start` (the drawing follows a fetch). */
async function barShows(
  page: Page,
  start: number,
  span: number,
): Promise<void> {
  await until(
    `the bar from ${new Date(start).toISOString()} for ${span} ms`,
    async () => {
      const r = await barRange(page);
      return Math.abs(r.min - start) < 1 && Math.abs(r.max - start - span) < 1;
    },
  );
}

/** The screen x of time `ms` on the bar. */
async function xOf(page: Page, ms: number): Promise<{ x: number; y: number }> {
  const { min, max } = await barRange(page);
  const box = (await page.locator(BAR).boundingBox())!;
  return {
    x: box.x + ((ms - min) / (max - min)) * box.width,
    y: box.y + box.height / 2,
  };
}

/** The gaps drawn on the bar: left and width in % of the bar, and their title. */
function drawnGaps(
  page: Page,
): Promise<{ left: number; width: number; title: string }[]> {
  return page.$$eval(`${BAR} .tl-gap`, (els) =>
    els.map((e) => {
      const el = e as unknown as {
        style: { left: string; width: string };
        title: string;
      };
      return {
        left: parseFloat(el.style.left),
        width: parseFloat(el.style.width),
        title: el.title,
      };
    }));
}

/** Asserts a gap from `from` to `to` is drawn on the bar, to within `pct` % of its span. */
async function assertGapDrawn(
  page: Page,
  from: number,
  to: number,
  pct: number,
): Promise<void> {
  const { min, max } = await barRange(page);
  const left = ((from - min) / (max - min)) * 100;
  const width = ((to - from) / (max - min)) * 100;
  const gaps = await until("the gaps drawn", async () => {
    const g = await drawnGaps(page);
    return g.length ? g : false;
  });
  const hit = gaps.find((g) => Math.abs(g.left - left) <= pct && Math.abs(g.width - width) <= pct);
  assert(
    hit !== undefined,
    `a gap at ${left.toFixed(3)}% for ${width.toFixed(3)}% among ${JSON.stringify(gaps)}`,
  );
  assert(/^Not recorded: /.test(hit.title), `the gap says why: ${hit.title}`);
}

const wallOf = async (page: Page) => Number(await page.getAttribute(VIDEO, "data-wall-ms") ?? NaN);
const cursorOf = async (page: Page) => Number(await page.getAttribute("#cursor-time", "data-ms"));

Deno.test({
  name: "timeline in Chromium: another day from the day picker, its gaps drawn, played and " +
    "drag-scrubbed there",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    if (!(await Deno.stat(VENDORED).then(() => true, () => false))) {
      await vendorHls();
    }
    await using cam = await startVirtualCamera({
      codec: "h264",
      width: 320,
      height: 240,
      fps: 15,
    });
    await using h = await startHarness({
      cameras: [{ id: "lane", url: cam.rtspUrl, codec: "h264" }],
    });
    await h.until(
      "lane",
      (s) => s.segments >= 3,
      "lane records three segments",
      60_000,
    );

    // A real outage: the camera off for 3 s or more, then back; the supervisor indexes a gap.
    const droppedAt = Date.now();
    await cam.drop();
    await h.until(
      "lane",
      (s) => s.state !== "recording" && Date.now() - droppedAt >= 3_000,
      "lane notices the camera is gone",
      30_000,
    );
    await cam.restore();
    const outage = await until("the outage indexed as a gap", () => {
      const g = h.index().gaps("lane", 0, Date.now() + 1);
      const gap = g.at(-1);
      return gap &&
        h.index().range("lane", gap.endMs, Date.now() + 1).length > 0 && gap;
    }, 60_000);
    console.log(
      `timeline day: outage ${outage.startMs}..${outage.endMs} (${outage.reason})`,
    );

    // Three days back (UTC): 08:00:00 ~30 s, off until 08:03:00, ~30 s, off until 14:00, ~20 s.
    const today = Math.floor(Date.now() / DAY) * DAY;
    const older = today - 3 * DAY;
    const key = new Date(older).toISOString().slice(0, 10);
    const runs = await seedOlderRuns(`${h.dir}/data`, h.index(), "lane", [
      { startMs: older + 8 * 3600_000, segments: 15 },
      { startMs: older + 8 * 3600_000 + 3 * MIN, segments: 15 },
      { startMs: older + 14 * 3600_000, segments: 10 },
    ]);
    const [run1, run2, run3] = runs as [
      typeof runs[0],
      typeof runs[0],
      typeof runs[0],
    ];

    await using session = await openAsNewAdmin(h, undefined, {
      timezoneId: "UTC",
    });
    const { page, errors } = session;
    await page.click('nav a[data-nav="timeline"]');
    await page.waitForSelector(`${BAR} .tl-run`);

    // Today, 10 min around the newest recording: the outage where the index has it (a 10 min
    // bar is ~1 230 px wide here, 0.2 % is about a second).
    await page.click('button[data-zoom="600000"]');
    await until("the 10 min view", async () => {
      const r = await barRange(page);
      return r.max - r.min === 10 * MIN && r.min < outage.startMs &&
        outage.endMs < r.max;
    });
    await assertGapDrawn(page, outage.startMs, outage.endMs, 0.2);

    // The day picker lists the older day; picking it shows that whole day.
    const options = await page.$$eval(
      "#day-picker option",
      (els) => els.map((e) => (e as unknown as { value: string }).value),
    );
    assert(options.includes(key), `the day picker lists ${key}: ${options}`);
    await page.selectOption("#day-picker", key);
    await barShows(page, older, DAY);
    assert(
      (await page.getAttribute('button[data-zoom="86400000"]', "class")) === "",
      "24 h lit",
    );
    await until(
      "the older day's runs",
      async () => (await page.$$(`${BAR} .tl-run`)).length >= 2,
    );
    // 08:00:30 to 14:00 is a quarter of the day: drawn to within 0.05 % (43 s).
    await assertGapDrawn(page, run2.endMs, run3.startMs, 0.05);
    await page.screenshot({
      path: new URL("day-older-24h-1280.png", ARTIFACTS).pathname,
    });

    // Zooming in stays on that day, at its first recording (not on today's cursor).
    await page.click('button[data-zoom="600000"]');
    await until("the 10 min view on the older day", async () => {
      const r = await barRange(page);
      return r.max - r.min === 10 * MIN && r.min <= run1.startMs &&
        run2.endMs <= r.max;
    });
    assert(
      (await page.inputValue("#day-picker")) === key,
      "the day picker still shows the older day",
    );
    await assertGapDrawn(page, run1.endMs, run2.startMs, 0.2);

    // A time picked there plays from within a second or two of it, across its segments.
    const target = run2.startMs + 6_000;
    const at = await xOf(page, target);
    await page.mouse.click(at.x, at.y);
    const picked = await cursorOf(page);
    assert(
      Math.abs(picked - target) < 2_000,
      `picked ${picked} near ${target}`,
    );
    await page.waitForSelector(`${VIDEO}[data-state="playing"]`, {
      timeout: 30_000,
    });
    const first = await until("a time shown", async () => {
      const w = await wallOf(page);
      return Number.isFinite(w) && w >= run2.startMs && w;
    });
    assert(
      first - picked > -1_500 && first - picked < 2_500,
      `plays the older day from ${first - picked} ms of the picked time`,
    );
    await until(
      "playback on past two segments",
      async () => (await wallOf(page)) > picked + 4_500,
    );
    await page.screenshot({
      path: new URL("day-older-10min-1280.png", ARTIFACTS).pathname,
    });

    // Drag-scrubbing in the first run: the cursor follows the pointer while the button is down.
    const from = await xOf(page, run1.startMs + 4_000);
    const to = await xOf(page, run1.startMs + 20_000);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    const steps = 5;
    for (let i = 1; i <= steps; i++) {
      const x = from.x + ((to.x - from.x) * i) / steps;
      await page.mouse.move(x, from.y);
      const { min, max } = await barRange(page);
      const box = (await page.locator(BAR).boundingBox())!;
      const expected = min + ((x - box.x) / box.width) * (max - min);
      const shown = await until(
        `the cursor at step ${i}`,
        async () => {
          const c = await cursorOf(page);
          return Math.abs(c - expected) < 2_000 && c;
        },
        10_000,
      );
      const left = parseFloat(
        await page.$eval(
          `${BAR} .tl-cursor`,
          (e) => (e as unknown as { style: { left: string } }).style.left,
        ),
      );
      const px = box.x + (left / 100) * box.width;
      assert(
        Math.abs(px - x) < 3,
        `the cursor line at ${px} under the pointer at ${x}`,
      );
      assert(
        Math.abs(shown - expected) < 2_000,
        `cursor ${shown} near ${expected}`,
      );
    }
    // Resting there with the button down: the thumbnail of the segment under the pointer.
    await page.waitForFunction(
      () => {
        const img = (globalThis as unknown as {
          document: {
            querySelector(
              s: string,
            ): { naturalWidth: number; hidden: boolean } | null;
          };
        }).document.querySelector(
          '.tl-wrap:has([data-camera="lane"]) .tl-hover img',
        );
        return !!img && !img.hidden && img.naturalWidth > 0;
      },
      undefined,
      { timeout: 45_000 },
    );
    // The video was not moved by the drag; it plays what was picked before.
    assert(
      (await wallOf(page)) > run2.startMs,
      "still playing the second run while dragging",
    );
    await page.screenshot({
      path: new URL("day-scrub-1280.png", ARTIFACTS).pathname,
    });
    await page.mouse.up();
    const released = run1.startMs + 20_000;
    await until("the video at the time let go at", async () => {
      const w = await wallOf(page);
      return w > released - 1_500 && w < released + 3_000;
    });
    // And the cursor follows what plays.
    const c0 = await cursorOf(page);
    await until(
      "the cursor following playback",
      async () => (await cursorOf(page)) > c0 + 1_000,
    );

    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({
      path: new URL("day-older-10min-390.png", ARTIFACTS).pathname,
      fullPage: true,
    });
    await page.click('button[data-zoom="86400000"]');
    await barShows(page, older, DAY);
    await page.screenshot({
      path: new URL("day-older-24h-390.png", ARTIFACTS).pathname,
      fullPage: true,
    });
    const overflow = await sidewaysOverflow(page);
    assert(
      overflow <= 0,
      `no sideways scrolling at 390 px (overflow ${overflow}px)`,
    );
    assert(errors.length === 0, `no page errors: ${errors.join("; ")}`);
  },
});
