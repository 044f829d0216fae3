/**
 * Live view across restarts in Debian's Chromium (playwright-core) against the real daemon and a
 * virtual camera: through a configuration change (every recorder process replaced) the same
 * <video> plays on (the daemon's relay follows the new feed); when the camera is away longer than
 * the board waits (10 s), the page says "Reconnecting…" and plays again by itself once the camera
 * is back.
 */
import { assert } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin } from "../testing/chromium.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startHarness } from "../testing/daemon_harness.ts";

const ARTIFACTS = new URL("../../test-artifacts/live/", import.meta.url);

interface VideoLike {
  readonly currentTime: number;
  readonly isConnected: boolean;
  readonly dataset: Record<string, string | undefined>;
}

Deno.test({
  name:
    "live view in Chromium: plays on through a config change, reconnects by itself after the camera was away",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
    await using h = await startHarness({
      cameras: [{ id: "lane", url: cam.rtspUrl, codec: "h264" }],
    });
    await using session = await openAsNewAdmin(h);
    const { page, errors } = session;
    const playing = 'video.live-mse[data-camera="lane"][data-state="playing"]';
    const video = await page.waitForSelector(playing, { timeout: 45_000 });
    /** The video's position once it has moved `seconds` past `from` (bounded). */
    const advanced = (from: number, seconds: number) =>
      page.waitForFunction(
        ([el, want]) => {
          const v = el as unknown as VideoLike;
          return v.isConnected && v.dataset.state === "playing" && v.currentTime >= want &&
            v.currentTime;
        },
        [video, from + seconds] as const,
        { timeout: 30_000 },
      ).then((r) => r.jsonValue() as Promise<number>);
    const t1 = await advanced(0, 1);

    // A configuration change replaces every recorder process: the same <video> plays on.
    await h.daemon.updateConfig((cur) => ({
      ...cur,
      recording: { ...cur.recording, stallSeconds: cur.recording.stallSeconds + 1 },
    }));
    await advanced(t1, 3);

    // The camera away for longer than the board waits for a picture (10 s): the board closes,
    // the page says it is reconnecting, and plays again once the camera is back.
    await cam.drop();
    await page.waitForSelector('[data-camera="lane"][data-state="reconnecting"]', {
      timeout: 30_000,
    });
    const text = await page.textContent('[data-camera="lane"][data-state="reconnecting"]');
    await page.screenshot({ path: new URL("live-reconnecting-1280.png", ARTIFACTS).pathname });
    await cam.restore();
    await page.waitForSelector(playing, { timeout: 60_000 });
    const again = await page.$(playing);
    assert(again !== null && !(await again.evaluate((v) => v === null)), "a video plays again");
    await page.screenshot({ path: new URL("live-reconnected-1280.png", ARTIFACTS).pathname });
    console.log(`reconnecting state said: ${text}`);
    assert(errors.length === 0, `no page errors: ${errors.join("; ")}`);
  },
});
