/**
 * The Settings screen in Debian's Chromium (playwright-core) against the real daemon: the form made
 * from GET /api/settings/schema changes a number and a camera's boolean (only those reach the
 * configuration), an out-of-range value is refused on the page in the server's words, a value
 * only the server can judge is refused by it beside its field, and the Advanced view still edits
 * the raw JSON. Screenshots at 1280 and 390 px in /tmp/s25-settings/.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin } from "../testing/chromium.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import type { NvrConfig } from "../config/types.ts";

const SHOTS = "/tmp/s25-settings/";

Deno.test({
  name:
    "settings in Chromium: a form from the schema saves only changes, shows refusals beside fields",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(SHOTS, { recursive: true });
    // One camera (nothing answers there) so the page opens on its grid as usual.
    await using h = await startHarness({
      cameras: [{ id: "door", url: "rtsp://127.0.0.1:9/none", codec: "h264" }],
    });
    await using session = await openAsNewAdmin(h);
    const { page, errors } = session;
    const config = async () =>
      (await page.evaluate(() => fetch("/api/config").then((r) => r.json()))).config as NvrConfig;
    const before = await config();

    await page.click('[data-nav="settings"]');
    await page.waitForSelector("#settings-fields");
    assertEquals(await page.inputValue('[name="http.liveViewersTotal"]'), "16");
    assert(await page.isChecked('[name="cameras.door.enabled"]'));
    assertEquals(await page.inputValue('[name="log.level"]'), "info");
    assert(await page.isHidden("#settings-json"), "the raw JSON starts collapsed");
    // Nothing outside the allowlist is in the form.
    assertEquals(await page.locator('[name="mqtt.url"], [name="storage.dataDir"]').count(), 0);
    await page.screenshot({ path: `${SHOTS}settings-1280.png`, fullPage: true });

    // A number and a boolean; only they change.
    await page.fill('[name="http.liveViewersTotal"]', "8");
    await page.uncheck('[name="cameras.door.enabled"]');
    await page.click("#settings-fields button[type=submit]");
    await page.waitForSelector('#settings-form-result[data-kind="ok"]');
    assertMatch(await page.textContent("#settings-form-result") ?? "", /Saved 2 settings/);
    const saved = await config();
    assertEquals(saved.http.liveViewersTotal, 8);
    assertEquals(saved.cameras[0]?.enabled, false);
    assertEquals(
      { ...saved, http: { ...saved.http, liveViewersTotal: 16 }, cameras: before.cameras },
      before,
    );
    // The daemon runs it: the camera's recorder stops.
    await h.until("door", (c) => c.state === "disabled", "the camera disabled from the form");

    // Out of range: refused on the page with the server's words, nothing sent.
    await page.fill('[name="recording.stallSeconds"]', "999");
    await page.click("#settings-fields button[type=submit]");
    const stallError = '[data-key="recording.stallSeconds"] .field-error';
    await page.waitForSelector(stallError);
    assertEquals(await page.textContent(stallError), "999 is out of range; allowed: 2 to 300");
    assertEquals(
      await page.getAttribute('[name="recording.stallSeconds"]', "aria-invalid"),
      "true",
    );
    assertEquals(await config(), saved);

    // What only the server judges (a window that ends where it starts): its message, beside it.
    await page.fill('[name="recording.stallSeconds"]', "10");
    await page.fill('[name="update.rebootWindow"]', "03:00-03:00");
    await page.click("#settings-fields button[type=submit]");
    const windowError = '[data-key="update.rebootWindow"] .field-error';
    await page.waitForSelector(windowError);
    assertMatch(await page.textContent(windowError) ?? "", /"03:00-03:00" is not a window/);
    assert(await page.isHidden(stallError), "the old error is cleared");
    assertEquals(await config(), saved);
    await page.screenshot({ path: `${SHOTS}settings-refused-1280.png`, fullPage: true });

    // Advanced: the raw JSON still applies, and the form follows it.
    await page.fill('[name="update.rebootWindow"]', "");
    await page.click("#settings-advanced summary");
    await page.waitForSelector("#settings-json", { state: "visible" });
    const raw = JSON.parse(await page.inputValue("#settings-json"));
    raw.log.level = "debug";
    await page.fill("#settings-json", JSON.stringify(raw, null, 2));
    await page.click("#settings-form button[type=submit]");
    await page.waitForSelector('#settings-result[data-kind="ok"]');
    assertEquals((await config()).log.level, "debug");
    assertEquals(await page.inputValue('[name="log.level"]'), "debug");
    await page.screenshot({ path: `${SHOTS}settings-advanced-1280.png`, fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.click("#settings-advanced summary");
    await page.screenshot({ path: `${SHOTS}settings-390.png`, fullPage: true });
    assertEquals(errors, []);
  },
});
