/**
 * "Connecting…" before the first picture, in Debian's Chromium (playwright-core) against the real
 * daemon: a camera that has no picture to give yet (its virtual camera is off the network when the
 * page opens) shows "Connecting…" on its live tile, not a black box; once the camera is there, its
 * page's live view goes from "Connecting…" to playing. Screenshots at 1280 and 390 px in
 * test-artifacts/live/.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin } from "../testing/chromium.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startHarness } from "../testing/daemon_harness.ts";

const ARTIFACTS = new URL("../../test-artifacts/live/", import.meta.url);

Deno.test({
  name: "live view in Chromium: 'Connecting…' on the tile until the first picture, then it plays",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
    await cam.drop(); // off the network: no picture to give until restore()
    await using h = await startHarness({
      cameras: [{ id: "lane", url: cam.rtspUrl, codec: "h264" }],
    });
    await using session = await openAsNewAdmin(h);
    const { page, errors } = session;

    // The grid's tile: "Connecting…", visible, on a tile that has shown nothing yet.
    const tile = '.live:has(video.live-mse[data-camera="lane"])';
    await page.waitForSelector(`${tile} video[data-state="connecting"]`);
    const waiting = page.locator(`${tile} .waiting[role="status"]`);
    assertEquals((await waiting.textContent())?.trim(), "Connecting…");
    assert(await waiting.isVisible(), "the connecting sign is shown, not only in the DOM");
    const frames = await page.$eval(
      `${tile} video`,
      (v) => (v as unknown as { currentTime: number; readyState: number }).readyState,
    );
    assertEquals(frames, 0, "no picture yet (readyState HAVE_NOTHING)");
    await page.screenshot({ path: new URL("live-connecting-1280.png", ARTIFACTS).pathname });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: new URL("live-connecting-390.png", ARTIFACTS).pathname });
    await page.setViewportSize({ width: 1280, height: 800 });

    // The camera back: a new live view on its page goes from "Connecting…" to playing, and the
    // sign goes away with the first picture.
    await cam.restore();
    await h.until("lane", (s) => s.segments >= 1, "lane records again", 60_000);
    await page.evaluate(() => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = "#/camera/lane";
    });
    // .ptz-host: the camera page's live view, not the grid's tile (still there a moment after
    // the hash changes, and it may start playing too).
    const video = '.ptz-host video.live-mse[data-camera="lane"]';
    await page.waitForSelector(`${video}[data-state="playing"]`, { timeout: 45_000 });
    assert(
      await page.locator(`.ptz-host .live:has(video.live-mse) .waiting`).isHidden(),
      "no 'Connecting…' once it plays",
    );
    await page.screenshot({ path: new URL("live-connected-1280.png", ARTIFACTS).pathname });
    assert(errors.length === 0, `no page errors: ${errors.join("; ")}`);
  },
});
