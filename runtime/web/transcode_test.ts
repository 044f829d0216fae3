/**
 * The transcode fallback in Debian's Chromium (it has no H.265 decoder) against the real daemon
 * recording an H.265 virtual camera that has no sub-stream: live view plays the camera's shared
 * H.265 → H.264 transcode over live.ws + MSE, and a recorded H.265 range plays on the timeline
 * as H.264 MPEG-TS parts transcoded on the box (hls.js). Screenshots at 1280 px.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin } from "../testing/chromium.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { VENDORED, vendorHls } from "./vendor_hls.ts";

const ARTIFACTS = new URL("../../test-artifacts/transcode/", import.meta.url);

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name: "transcode in Chromium without H.265: live H.265 and an H.265 recorded range play as H.264",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    if (!(await Deno.stat(VENDORED).then(() => true, () => false))) await vendorHls();
    await using cam = await startVirtualCamera({ codec: "h265", width: 640, height: 360, fps: 15 });
    await using h = await startHarness({ cameras: [{ id: "door", url: cam.rtspUrl }] });
    await using session = await openAsNewAdmin(h);
    const { page, errors } = session;

    // Live: no H.265 in this browser, no sub-stream on the camera → the shared transcode.
    const live = 'video.live-mse[data-camera="door"]';
    await page.waitForSelector(`${live}[data-state="playing"]`, { timeout: 30_000 })
      .catch(async (e) => {
        const text = await page.textContent(".camera-grid, #camera-grid");
        throw new Error(`door did not play live: ${text}`, { cause: e });
      });
    assertEquals(await page.getAttribute(live, "data-source"), "transcode");
    await page.screenshot({ path: new URL("live-transcode-1280.png", ARTIFACTS).pathname });

    // Recorded: two closed 2 s segments, then play from inside the first one.
    await until(
      "2 segments of door",
      () => h.index().range("door", 0, Date.now() + 1e6).length >= 2,
      30_000,
    );
    const segs = h.index().range("door", 0, Date.now() + 1e6);
    assertEquals(segs[0]!.codec, "h265");
    const target = segs[0]!.startMs + 500;
    await page.evaluate((hash: string) => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = hash;
    }, `#/timeline/door/${target}`);
    const video = 'video.tl-video[data-camera="door"]';
    await page.waitForSelector(`${video}[data-state="playing"]`, { timeout: 30_000 })
      .catch(async (e) => {
        const text = await page.textContent('.tl-row[data-camera="door"] .tl-status');
        throw new Error(`the H.265 range did not play: ${text}`, { cause: e });
      });
    assertEquals(await page.getAttribute(video, "data-transcoded"), "yes");
    await until(
      "a wall time from the playlist",
      async () => (await page.getAttribute(video, "data-wall-ms")) !== null,
    );
    const shown = Number(await page.getAttribute(video, "data-wall-ms"));
    assert(Math.abs(shown - target) < 3_000, `plays from the picked time (${shown - target} ms)`);
    const size = await page.$eval(video, (v) => {
      const el = v as unknown as { videoWidth: number; videoHeight: number };
      return [el.videoWidth, el.videoHeight];
    });
    assertEquals(size, [640, 360]);
    await page.screenshot({ path: new URL("timeline-transcode-1280.png", ARTIFACTS).pathname });
    assert(errors.length === 0, `no page errors: ${errors.join("; ")}`);
  },
});
