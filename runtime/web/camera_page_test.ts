/**
 * The camera page in Debian's Chromium (playwright-core; it has no H.265 decoder) against the real
 * daemon recording an H.265 virtual camera with an H.264 sub-stream: a recorded H.265 segment
 * picked in the last hour's list plays as H.264 made on the box (the timeline's range transcode,
 * one slot of http.transcodesMax), and a visit to a camera without PTZ asks nothing about PTZ
 * (/api/cameras says `ptz: false`), so the audit log gets no entry from it. Screenshots at 1280 and 390 px in test-artifacts/camera/.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin } from "../testing/chromium.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { VENDORED, vendorHls } from "./vendor_hls.ts";

const ARTIFACTS = new URL("../../test-artifacts/camera/", import.meta.url);

Deno.test({
  name:
    "camera page in Chromium without H.265: an H.265 recording plays as H.264 made on the box; a camera without PTZ is not asked about it, nothing audited",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    if (!(await Deno.stat(VENDORED).then(() => true, () => false))) await vendorHls();
    await using cam = await startVirtualCamera({ codec: "h265", width: 640, height: 360, fps: 15 });
    // The sub-stream carries live view, so the one transcode here is the recording's.
    await using h = await startHarness({
      cameras: [{ id: "door", url: cam.rtspUrl, subUrl: cam.subUrl }],
    });
    await h.until("door", (s) => s.segments >= 2, "door records two segments", 60_000);
    await using session = await openAsNewAdmin(h);
    const { page, errors } = session;
    /** Refusals in the audit log, and what /api/cameras says about door's PTZ. */
    const audited = () =>
      page.evaluate(async () => {
        const { entries } = await (await fetch("/api/audit?action=request.refused&limit=500"))
          .json();
        const { cameras } = await (await fetch("/api/cameras")).json();
        return {
          refused: (entries as { target?: string }[]).map((e) => e.target ?? ""),
          ptz: (cameras as { id: string; ptz?: boolean }[]).find((c) => c.id === "door")?.ptz,
        };
      });
    const before = await audited();
    assertEquals(before.ptz, false, "door has no ONVIF address: no PTZ, said by /api/cameras");
    const ptzAsked: string[] = [];
    page.on("request", (r) => {
      if (r.url().includes("/ptz")) ptzAsked.push(r.url());
    });
    await page.evaluate(() => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = "#/camera/door";
    });
    await page.waitForSelector("#segments li.segment");
    await page.locator("#segments li.segment button.play").first().click();
    const video = '#player video#player-video[data-transcoded="yes"]';
    await page.waitForSelector(`${video}[data-state="playing"]`, { timeout: 45_000 })
      .catch(async (e) => {
        const text = await page.textContent("#player");
        throw new Error(`the H.265 recording did not play on the camera page: ${text}`, {
          cause: e,
        });
      });
    const played = await page.waitForFunction(
      (sel: string) => {
        const v = (globalThis as unknown as {
          document: { querySelector(s: string): { currentTime: number } | null };
        }).document.querySelector(sel);
        return v !== null && v.currentTime > 0.5 && v.currentTime;
      },
      video,
      { timeout: 30_000 },
    ).then((r) => r.jsonValue());
    const size = await page.$eval(video, (v) => {
      const el = v as unknown as { videoWidth: number; videoHeight: number };
      return [el.videoWidth, el.videoHeight];
    });
    assertEquals(size, [640, 360], "the picture as made on the box");
    assert(
      (await page.textContent("#player-status"))?.includes("shown as H.264"),
      "the page says what is shown",
    );
    assertEquals(await page.locator("#player-fallback").count(), 0, "no 'cannot play'");
    console.log(`camera page: the H.265 segment played to ${played} s as H.264`);
    // The visit asked nothing about PTZ, and the audit log has no new refusal from it.
    assertEquals(ptzAsked, [], "no PTZ request for a camera without PTZ");
    assert(await page.isHidden("#ptz-panel"), "no PTZ controls");
    const after = await audited();
    assertEquals(after.refused, before.refused, "no audit entry from the visit");
    await page.screenshot({
      path: new URL("camera-h265-1280.png", ARTIFACTS).pathname,
      fullPage: true,
    });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({
      path: new URL("camera-h265-390.png", ARTIFACTS).pathname,
      fullPage: true,
    });
    assert(errors.length === 0, `no page errors: ${errors.join("; ")}`);
  },
});
