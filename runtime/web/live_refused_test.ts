/**
 * A live viewer over the camera's limit, in Debian's Chromium (playwright-core) against the real
 * daemon: with `http.liveViewersPerCamera` 1, a first page plays the camera live; a second page
 * (the same user in another tab) is refused, and its tile says why and which keys set the limit,
 * over the snapshot refresh, instead of a black box or a bare close code. The first viewer plays
 * on. Screenshots at 1280 and 390 px in test-artifacts/live/.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin, sidewaysOverflow } from "../testing/chromium.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startHarness } from "../testing/daemon_harness.ts";

const ARTIFACTS = new URL("../../test-artifacts/live/", import.meta.url);

Deno.test({
  name: "live view in Chromium: a viewer over the camera's limit is told why on its tile",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await using cam = await startVirtualCamera({ codec: "h264", width: 640, height: 360, fps: 15 });
    await using h = await startHarness({
      http: { listen: "127.0.0.1:0", liveViewersPerCamera: 1 },
      cameras: [{ id: "lane", url: cam.rtspUrl, codec: "h264" }],
    });
    await using session = await openAsNewAdmin(h);
    const { page, errors } = session;
    const video = 'video.live-mse[data-camera="lane"]';
    await page.waitForSelector(`${video}[data-state="playing"]`, { timeout: 45_000 });

    // The same user in a second tab: one viewer too many for this camera.
    const second = await page.context().newPage();
    const secondErrors: string[] = [];
    second.on("pageerror", (e) => secondErrors.push(e.message));
    await second.goto(session.base);
    const reason = second.locator('.live[data-camera="lane"] .live-reason, .live-reason');
    await reason.first().waitFor({ timeout: 30_000 });
    const text = (await reason.first().textContent()) ?? "";
    console.log(`live refused: ${text}`);
    assertMatch(text, /Too many live viewers \(at most 1 per camera/);
    assertMatch(text, /http\.liveViewersPerCamera/);
    assert(await reason.first().isVisible(), "the reason is shown, not only in the DOM");
    assert(
      (await second.locator(`${video}[data-state="playing"]`).count()) === 0,
      "the second tab does not play",
    );
    // The reason and the tile's waiting line ("Waiting for video…" until the still picture
    // comes) are both readable: neither is written over the other.
    const clash = await second.evaluate(() => {
      const d = (globalThis as unknown as {
        document: {
          querySelector(s: string): unknown;
          createRange(): {
            selectNodeContents(n: unknown): void;
            getBoundingClientRect(): { x: number; y: number; width: number; height: number };
          };
        };
      }).document;
      const reason = d.querySelector(".live-reason") as {
        getBoundingClientRect(): { x: number; y: number; width: number; height: number };
      } | null;
      const waiting = d.querySelector(".live:has(.live-reason) .waiting:not([hidden])");
      if (!reason || !waiting) return null;
      const range = d.createRange();
      range.selectNodeContents(waiting);
      const a = range.getBoundingClientRect();
      const b = reason.getBoundingClientRect();
      const hit = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height &&
        b.y < a.y + a.height;
      return hit ? `waiting text ${JSON.stringify(a)} under the reason ${JSON.stringify(b)}` : null;
    });
    assertEquals(clash, null, "the waiting line is clear of the reason");
    await second.screenshot({ path: new URL("live-refused-1280.png", ARTIFACTS).pathname });
    await second.setViewportSize({ width: 390, height: 844 });
    assert((await sidewaysOverflow(second)) <= 0, "no sideways scrolling at 390 px");
    await second.screenshot({
      path: new URL("live-refused-390.png", ARTIFACTS).pathname,
      fullPage: true,
    });

    // The first viewer was not disturbed.
    await page.waitForFunction(
      (sel: string) => {
        const v = (globalThis as unknown as {
          document: { querySelector(s: string): { currentTime: number } | null };
        }).document.querySelector(sel);
        return !!v && v.currentTime > 1;
      },
      video,
      { timeout: 30_000 },
    );
    assert((await page.locator(`${video}[data-state="playing"]`).count()) === 1);
    await second.close();
    assert(errors.length === 0, `no page errors: ${errors.join("; ")}`);
    assert(secondErrors.length === 0, `no page errors: ${secondErrors.join("; ")}`);
  },
});
