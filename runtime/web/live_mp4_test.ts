/**
 * The live view of a browser without Media Source Extensions, in Debian's Chromium with
 * MediaSource removed before the page loads: the page falls back to `<video src=live.mp4>`, which
 * plays the camera's shared sub-stream session restreamed (no session of its own).
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin } from "../testing/chromium.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startHarness } from "../testing/daemon_harness.ts";

interface PageGlobals {
  readonly document: { querySelector(selector: string): unknown };
}

Deno.test({
  name: "live.mp4 in Chromium without MSE: the page plays the shared sub-stream as one MP4 body",
  ignore: !hasChromium,
  fn: async () => {
    await using cam = await startVirtualCamera({
      codec: "h265",
      width: 320,
      height: 240,
      fps: 15,
      countSessions: true,
    });
    await using h = await startHarness({
      cameras: [{ id: "door", url: cam.rtspUrl, subUrl: cam.subUrl }],
    });
    await h.until("door", (s) => s.state === "recording", "door records");
    await using session = await openAsNewAdmin(h);
    // A second tab of the same browser (signed in), as a browser without MSE sees the page.
    const page = await session.page.context().newPage();
    try {
      await page.addInitScript(() => {
        // deno-lint-ignore no-explicit-any
        delete (globalThis as any).MediaSource;
        // deno-lint-ignore no-explicit-any
        delete (globalThis as any).ManagedMediaSource;
      });
      await page.goto(`https://127.0.0.1:${h.daemon.listen.port}/`);
      const video = 'video.live-video[data-camera="door"]';
      await page.waitForSelector(video, { timeout: 30_000 });
      let played = 0;
      const deadline = Date.now() + 30_000;
      while (played <= 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        played = await page.evaluate((sel) => {
          const v = (globalThis as unknown as PageGlobals).document.querySelector(sel) as
            | { currentTime: number }
            | null;
          return v?.currentTime ?? 0;
        }, video);
      }
      assert(played > 1, `live.mp4 of door played (currentTime ${played})`);
      // The recorder's session to /main and one shared session to /sub, nothing per viewer.
      assertEquals(cam.sessions()["/sub"]?.plays, 1);
      assertEquals(session.errors, []);
    } finally {
      await page.close();
    }
  },
});
