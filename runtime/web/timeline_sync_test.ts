/**
 * The same moment on several cameras, in Debian's Chromium (playwright-core) against the real
 * daemon recording two H.264 virtual cameras ("lane" and "yard", 2 s segments). Both play a
 * minute filed an hour ago (copies of their real segments, yard's boundaries 0.7 s off lane's:
 * runtime/testing/older_recordings.ts), from one moment picked for both:
 * - after several seconds of playing at 1×, their times (each video's position mapped to the
 *   wall clock through its playlist's program date times, both read at one instant) stay within
 *   0.3 s of each other (page/play_sync.js, toleranceMs) for two seconds on end;
 * - one pushed 2 s ahead (its position moved, as a stall of the other would leave it) is brought
 *   back within the tolerance, by waiting for the other;
 * - at 4× they stay within that speed's tolerance (0.6 s of recording, 0.15 s of watching).
 */
import { until } from "../testing/until.ts";
import { assert } from "../testing/assert.ts";
import { type AdminPage, hasChromium, openAsNewAdmin } from "../testing/chromium.ts";
import { seedOlderRuns } from "../testing/older_recordings.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { toleranceMs } from "./page/play_sync.js";
import { VENDORED, vendorHls } from "./vendor_hls.ts";

type Page = AdminPage["page"];

const ARTIFACTS = new URL("../../test-artifacts/timeline/", import.meta.url);

/** Both cameras' wall-clock times, written by one tick of the page's sync (one instant). */
async function walls(page: Page): Promise<{ lane: number; yard: number }> {
  const [lane, yard] = await page.$$eval(
    'video[data-camera="lane"], video[data-camera="yard"]',
    (els) =>
      els.map((e) => {
        const v = e as unknown as {
          dataset: { camera: string; wallMs?: string };
        };
        return [v.dataset.camera, Number(v.dataset.wallMs ?? NaN)] as const;
      }).sort((a, b) => a[0].localeCompare(b[0])).map(([, w]) => w),
  );
  return { lane: lane!, yard: yard! };
}

/**
 * Waits until both cameras play within `tol` ms of each other in `samples` readings 200 ms apart
 * in a row, both moving on; returns the largest difference seen meanwhile.
 */
async function inStep(
  page: Page,
  tol: number,
  samples: number,
  ms: number,
): Promise<number> {
  let run = 0;
  let worst = 0;
  let last = await walls(page);
  await until(`both within ${tol} ms for ${samples} readings`, async () => {
    await new Promise((r) => setTimeout(r, 200));
    const w = await walls(page);
    const apart = Math.abs(w.lane - w.yard);
    worst = Math.max(worst, apart);
    const moving = w.lane > last.lane && w.yard > last.yard;
    last = w;
    run = apart <= tol && moving ? run + 1 : 0;
    return run >= samples;
  }, ms);
  return worst;
}

Deno.test({
  name: "timeline in Chromium: two cameras played from one moment stay at the same moment",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    if (!(await Deno.stat(VENDORED).then(() => true, () => false))) {
      await vendorHls();
    }
    const opts = { codec: "h264", width: 320, height: 240, fps: 15 } as const;
    await using lane = await startVirtualCamera(opts);
    await using yard = await startVirtualCamera(opts);
    await using h = await startHarness({
      cameras: [
        { id: "lane", url: lane.rtspUrl, codec: "h264" },
        { id: "yard", url: yard.rtspUrl, codec: "h264" },
      ],
    });
    await h.until(
      "lane",
      (s) => s.segments >= 3,
      "lane records three segments",
      60_000,
    );
    await h.until(
      "yard",
      (s) => s.segments >= 3,
      "yard records three segments",
      60_000,
    );
    // A minute and a half an hour ago on both; yard's files start 0.7 s after lane's.
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 3600_000;
    const data = `${h.dir}/data`;
    await seedOlderRuns(data, h.index(), "lane", [{
      startMs: t0,
      segments: 45,
    }]);
    await seedOlderRuns(data, h.index(), "yard", [{
      startMs: t0 + 700,
      segments: 45,
    }]);
    const from = t0 + 5_000;

    await using session = await openAsNewAdmin(h, undefined, {
      timezoneId: "UTC",
    });
    const { page, errors } = session;
    await page.evaluate((hash: string) => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = hash;
    }, `#/timeline/lane,yard/${from}`);
    for (const id of ["lane", "yard"]) {
      await page.waitForSelector(
        `video[data-camera="${id}"][data-state="playing"]`,
        {
          timeout: 30_000,
        },
      );
    }
    const start = await until("both showing a time", async () => {
      const w = await walls(page);
      return Number.isFinite(w.lane) && Number.isFinite(w.yard) && w;
    });
    assert(
      Math.abs(start.lane - from) < 2_500,
      `lane plays from ${start.lane - from} ms of it`,
    );

    // Several seconds of playing at 1×, then two seconds on end within the tolerance.
    await until(
      "6 s played",
      async () => (await walls(page)).lane > from + 6_000,
    );
    const tol1 = toleranceMs(1);
    const worst1 = await inStep(page, tol1, 10, 30_000);
    const w1 = await walls(page);
    console.log(
      `timeline sync 1×: lane ${new Date(w1.lane).toISOString()} yard ${
        new Date(w1.yard).toISOString()
      }, ${w1.lane - w1.yard} ms apart; worst while settling ${worst1} ms`,
    );
    await page.screenshot({
      path: new URL("sync-1280.png", ARTIFACTS).pathname,
    });

    // Yard pushed 2 s ahead: it waits for lane, and they are in step again.
    await page.$eval('video[data-camera="yard"]', (e) => {
      (e as unknown as { currentTime: number }).currentTime += 2;
    });
    await until("yard ahead", async () => {
      const w = await walls(page);
      return w.yard - w.lane > 1_000;
    }, 10_000);
    const worstJolt = await inStep(page, tol1, 10, 30_000);
    console.log(
      `timeline sync: back in step after a 2 s push (worst ${worstJolt} ms)`,
    );

    // 4×: within that speed's tolerance.
    await page.click('button[data-rate="4"]');
    const tol4 = toleranceMs(4);
    const worst4 = await inStep(page, tol4, 10, 30_000);
    const w4 = await walls(page);
    console.log(
      `timeline sync 4×: ${w4.lane - w4.yard} ms apart (worst ${worst4} ms)`,
    );
    assert(errors.length === 0, `no page errors: ${errors.join("; ")}`);
  },
});
