/**
 * PTZ on the camera page in Debian's Chromium (playwright-core), against the real daemon and the
 * virtual camera's PTZ head: the pad shows over the live view of a PTZ camera (not of one without
 * ONVIF), an arrow key held turns the head and letting go stops it, a saved view is listed and
 * "Go to" brings the head back to it. Where the head points is asked of the camera itself.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin } from "../testing/chromium.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { PtzService } from "../onvif/ptz.ts";

const ARTIFACTS = new URL("../../test-artifacts/ptz/", import.meta.url);

Deno.test({
  name:
    "ptz page: arrow keys turn the camera and + zooms it, letting go stops it, a saved view is gone back to",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await using cam = await startVirtualCamera({
      codec: "h264",
      width: 640,
      height: 360,
      fps: 10,
      ptz: true,
    });
    await using h = await startHarness({
      cameras: [
        { id: "gate", url: cam.rtspUrl, codec: "h264", onvif: { url: cam.onvifUrl } },
        { id: "plain", url: "rtsp://127.0.0.1:9/main", codec: "h264" },
      ],
    });
    const head = new PtzService({
      target: () => ({ url: cam.onvifUrl, username: null, password: null }),
    });
    try {
      await using session = await openAsNewAdmin(h);
      const { page, errors } = session;
      const where = async () => (await head.status("gate")).status!;

      // A camera without ONVIF: no pad.
      await page.goto(`${session.base}#/camera/plain`);
      await page.waitForSelector("h1:has-text('Camera plain')");
      assertEquals(await page.isVisible("#ptz-pad button"), false);

      await page.goto(`${session.base}#/camera/gate`);
      await page.waitForSelector("#ptz-pad:not([hidden])", { timeout: 20_000 });
      await page.waitForSelector("#ptz-no-presets");
      assertEquals((await where()).position, { pan: 0, tilt: 0, zoom: 0 });

      // Hold → moves; let go → stops.
      await page.keyboard.down("ArrowRight");
      const deadline = Date.now() + 15_000;
      while ((await where()).position.pan <= 0.05) {
        assert(Date.now() < deadline, "the head did not turn right within 15 s of the key");
        await new Promise((r) => setTimeout(r, 100));
      }
      await page.keyboard.up("ArrowRight");
      const stopDeadline = Date.now() + 15_000;
      while ((await where()).moving) {
        assert(Date.now() < stopDeadline, "the head did not stop within 15 s of letting go");
        await new Promise((r) => setTimeout(r, 100));
      }
      assert((await where()).position.pan > 0);

      // The keyboard zooms too: hold + → zooms in; let go → stops.
      await page.keyboard.down("+");
      const plusDeadline = Date.now() + 15_000;
      while ((await where()).position.zoom <= 0.05) {
        assert(Date.now() < plusDeadline, "the head did not zoom within 15 s of the + key");
        await new Promise((r) => setTimeout(r, 100));
      }
      await page.keyboard.up("+");
      const plusStop = Date.now() + 15_000;
      while ((await where()).moving) {
        assert(Date.now() < plusStop, "the zoom did not stop within 15 s of letting go of +");
        await new Promise((r) => setTimeout(r, 100));
      }
      const there = (await where()).position;
      assert(there.pan > 0 && there.zoom > 0.05);

      // Save this view, turn away with the zoom button, go back.
      await page.fill("#ptz-preset-name", "Gate view");
      await page.click("#ptz-save");
      await page.waitForSelector("#ptz-presets li:has-text('Gate view')");
      const zoomIn = page.locator("#ptz-pad button.zoom-in");
      const box = (await zoomIn.boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      const zoomDeadline = Date.now() + 15_000;
      while ((await where()).position.zoom <= there.zoom + 0.05) {
        assert(Date.now() < zoomDeadline, "the zoom button did not zoom within 15 s");
        await new Promise((r) => setTimeout(r, 100));
      }
      await page.mouse.up();
      await page.screenshot({ path: new URL("ptz-camera-1280.png", ARTIFACTS).pathname });
      await page.click("#ptz-presets li:has-text('Gate view') button.ptz-goto");
      const backDeadline = Date.now() + 15_000;
      while (JSON.stringify((await where()).position) !== JSON.stringify(there)) {
        assert(Date.now() < backDeadline, "Go to did not bring the head back within 15 s");
        await new Promise((r) => setTimeout(r, 100));
      }
      assertEquals(errors, []);
    } finally {
      await head.close();
    }
  },
});
