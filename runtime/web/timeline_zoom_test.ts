/**
 * The timeline's zoom and axis in Debian's Chromium (playwright-core) against the real daemon
 * recording an H.264 virtual camera (2 s segments), in a 12-hour locale (en-US) and a time zone
 * where it is afternoon now: the zoom goes down to one minute (the bar spans 60 s, its recordings drawn wide, the axis
 * in seconds 15 s apart), and the axis keeps AM/PM ("3:01:15 PM", never "03:01" for 15:01).
 * Screenshots at 1280 and 390 px in test-artifacts/timeline/.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import {
  hasChromium,
  openAsNewAdmin,
  sidewaysOverflow,
  zoomTimeline,
} from "../testing/chromium.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { VENDORED, vendorHls } from "./vendor_hls.ts";

const ARTIFACTS = new URL("../../test-artifacts/timeline/", import.meta.url);
const LOCALE = "en-US";
/** A zone where it is now 3 PM or so (the old axis wrote "03:01" for 15:01): UTC+N, N in -12..11. */
const OFFSET = ((15 - new Date().getUTCHours() + 36) % 24) - 12;
const ZONE = OFFSET === 0 ? "Etc/GMT" : `Etc/GMT${OFFSET > 0 ? "-" : "+"}${Math.abs(OFFSET)}`;

/** How en-US writes a time of day in ZONE, spaces made plain (ICU puts U+202F before PM). */
const clock = (ms: number, seconds: boolean) =>
  plain(
    new Intl.DateTimeFormat(LOCALE, {
      hour: "numeric",
      minute: "2-digit",
      ...(seconds ? { second: "2-digit" } : {}),
      timeZone: ZONE,
    }).format(ms),
  );
const plain = (s: string) => s.replace(/\s/g, " ").trim();

Deno.test({
  name: "timeline in Chromium: zoom down to one minute; the axis keeps AM/PM in a 12-hour locale",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    if (!(await Deno.stat(VENDORED).then(() => true, () => false))) await vendorHls();
    await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
    await using h = await startHarness({
      cameras: [{ id: "lane", url: cam.rtspUrl, codec: "h264" }],
    });
    await h.until("lane", (s) => s.segments >= 4, "lane records four segments", 60_000);
    const segs = h.index().range("lane", 0, Date.now() + 1e6);
    const at = segs[1]!.startMs + 500;
    await using session = await openAsNewAdmin(h, undefined, { locale: LOCALE, timezoneId: ZONE });
    const { page, errors } = session;
    const axis = '.tl-row[data-camera="lane"] .axis span';
    const bar = '.tl-bar[data-camera="lane"]';
    const labels = async () => (await page.locator(axis).allTextContents()).map(plain);

    // A day: hours and minutes, with AM/PM.
    await page.evaluate((hash: string) => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = hash;
    }, `#/timeline/lane/${at}`);
    await page.waitForSelector(`${bar} .tl-run`);
    const dayMin = Number(await page.getAttribute(bar, "aria-valuemin"));
    const dayLabels = await labels();
    assertEquals(dayLabels[0], clock(dayMin, false), `the day's first label: ${dayLabels}`);
    assert(dayLabels.every((l) => / [AP]M$/.test(l)), `AM/PM on every label: ${dayLabels}`);
    assertEquals(dayLabels[2], clock(dayMin + 12 * 3600_000, false), "noon is 12:00 PM");

    // One minute: the bar spans 60 s around the moment picked, seconds on the axis.
    await zoomTimeline(page, bar, 60_000);
    assertEquals(await page.getAttribute('button[data-zoom="60000"]', "class"), "", "1 min lit");
    const min = Number(await page.getAttribute(bar, "aria-valuemin"));
    assert(min <= at && at < min + 60_000, `the moment ${at} is in view from ${min}`);
    await page.waitForSelector(`${bar} .tl-run`);
    // 2 s segments are 3.3 % of a minute each: the run of several is drawn wide, not a sliver.
    const runPct = await page.$$eval(
      `${bar} .tl-run`,
      (els) =>
        Math.max(
          ...els.map((e) => parseFloat((e as unknown as { style: { width: string } }).style.width)),
        ),
    );
    assert(runPct >= 10, `recordings drawn ${runPct}% wide at 1 min`);
    const minuteLabels = await labels();
    assertEquals(
      minuteLabels,
      [0, 15_000, 30_000, 45_000, 60_000].map((d) => clock(min + d, true)),
      "labels 15 s apart, to the second, with AM/PM",
    );
    assert(minuteLabels.every((l) => / PM$/.test(l)), `the afternoon in PM: ${minuteLabels}`);
    console.log(`timeline 1 min axis: ${minuteLabels.join(" | ")}`);

    await page.screenshot({ path: new URL("zoom-1min-1280.png", ARTIFACTS).pathname });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({
      path: new URL("zoom-1min-390.png", ARTIFACTS).pathname,
      fullPage: true,
    });
    const overflow = await sidewaysOverflow(page);
    assert(overflow <= 0, `no sideways scrolling at 390 px (overflow ${overflow}px)`);
    assert(errors.length === 0, `no page errors: ${errors.join("; ")}`);
  },
});
