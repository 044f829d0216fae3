/**
 * Finding a camera in the page, in Debian's Chromium (playwright-core) against the real daemon:
 * the "Find cameras" screen scans loopback (the virtual camera's ONVIF port; the multicast probe
 * is unticked so nothing leaves 127.0.0.1 — the probe itself is tested in a network namespace in
 * runtime/onvif/ws_discovery_test.ts), lists the camera with vendor, model and address, checks
 * the credentials (a wrong password is said to be wrong), offers its profiles, and adds it; the
 * camera then records a segment. Screenshots at 1280 and 390 px in test-artifacts/web/.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin } from "../testing/chromium.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { boxInterfaces } from "../onvif/interfaces.ts";

const ARTIFACTS = new URL("../../test-artifacts/web/", import.meta.url);
const shot = (name: string) => new URL(`${name}.png`, ARTIFACTS).pathname;

Deno.test({
  name: "find cameras in Chromium: scan, credentials checked, profiles chosen, added, records",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await using cam = await startVirtualCamera({
      codec: "h264",
      width: 320,
      height: 180,
      fps: 10,
      name: "porch",
      serial: "PORCH-7",
      model: "SimCam-Porch",
      user: "admin",
      password: "s3cret",
    });
    // One camera there already (disabled: nothing to receive), so the grid shows as it does on
    // a box in use.
    await using h = await startHarness({
      // (A camera without ONVIF at the scanned host would count as that camera already added.)
      cameras: [{ id: "yard", url: "rtsp://192.0.2.1/none", enabled: false }],
    });
    await using session = await openAsNewAdmin(h);
    const { page, errors } = session;
    // What the page showed when a step failed: test-artifacts/web/find-failed.png.
    const consoleErrors: string[] = [];
    page.on("console", (m) => void (m.type() === "error" && consoleErrors.push(m.text())));
    try {
      await steps();
    } catch (err) {
      await page.screenshot({ path: shot("find-failed"), fullPage: true }).catch(() => {});
      const note = await page.textContent("#notice").catch(() => null);
      throw new Error(
        `${
          (err as Error).message
        }\nnotice: ${note}\npage errors: ${errors}\nconsole: ${consoleErrors}`,
        {
          cause: err,
        },
      );
    }
    async function steps() {
      const port = new URL(cam.onvifUrl).port;
      const address = `127.0.0.1:${port}`;

      await page.click("#find-link");
      await page.waitForSelector("#find-form");
      // The probe's interface: "Any", then the box's own (GET /api/cameras/discover/interfaces).
      const mine = boxInterfaces();
      if (mine[0]) {
        await page.waitForSelector(`#find-interface option[value="${mine[0].name}"]`, {
          state: "attached",
        });
      }
      assertEquals(
        await page.$$eval("#find-interface option", (os) => os.map((o) => o.getAttribute("value"))),
        ["", ...mine.map((i) => i.name)],
      );
      // Loopback only: no probe on the machine's real network.
      await page.uncheck("#find-form [name=multicast]");
      assertEquals(await page.isChecked("#find-form [name=multicast]"), false);
      await page.fill("#find-form [name=range]", "127.0.0.1");
      await page.fill("#find-form [name=ports]", port);
      await page.fill("#find-form [name=username]", "admin");
      await page.fill("#find-form [name=password]", "s3cret");
      await page.click("#find-form button[type=submit]");
      const row = `#found-list li[data-address="${address}"]`;
      await page.waitForSelector(row);
      const text = (await page.textContent(row)) ?? "";
      for (const want of ["NVR Sim SimCam-Porch", address, "PORCH-7", "credentials work"]) {
        assert(text.includes(want), `the row shows ${want}: ${text}`);
      }
      await page.screenshot({ path: shot("find-results-1280"), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: shot("find-results-390"), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });

      // Click one: the credentials of the search are checked on the camera at once.
      await page.click(`${row} button`);
      await page.waitForSelector("#find-credentials-result[data-credentials=ok]");
      await page.waitForSelector("#find-profiles-form");
      // A wrong password is said to be wrong, and no profiles are offered.
      await page.fill("#find-credentials [name=password]", "wrong");
      await page.click("#find-credentials button[type=submit]");
      await page.waitForSelector("#find-credentials-result[data-credentials=refused]");
      assertEquals(await page.$("#find-profiles-form"), null);
      await page.fill("#find-credentials [name=password]", "s3cret");
      await page.click("#find-credentials button[type=submit]");
      await page.waitForSelector("#find-credentials-result[data-credentials=ok]");
      await page.waitForSelector("#find-profiles-form");
      assertEquals(await page.inputValue("#find-profiles-form [name=mainProfile]"), "main");
      assertEquals(await page.inputValue("#find-profiles-form [name=subProfile]"), "sub");
      await page.fill("#find-profiles-form [name=id]", "porch");
      await page.screenshot({ path: shot("find-add-1280"), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: shot("find-add-390"), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });

      // Click two: added with the main stream recorded and the sub-stream for live view.
      await page.click("#find-profiles-form button[type=submit]");
      await page.waitForURL(/#\/camera\/porch$/);
      const { config } = await page.evaluate(
        "fetch('/api/config').then((r) => r.json())",
      ) as { config: { cameras: Record<string, unknown>[] } };
      const added = config.cameras.find((c) => c.id === "porch") as {
        url?: string;
        subUrl?: string;
        onvif?: { url?: string };
        username?: string;
      } | undefined;
      assertEquals(
        [added?.url, added?.subUrl, added?.onvif?.url, added?.username],
        [cam.rtspUrl, cam.subUrl, cam.onvifUrl, "admin"],
      );
      await h.until("porch", (s) => s.segments >= 1, "the camera found in the page records");
      assertEquals(errors, [], "no page errors");
    }
  },
});
