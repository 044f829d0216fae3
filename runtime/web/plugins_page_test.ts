/**
 * The Plugins screen in Debian's Chromium (playwright-core) against the real daemon, its real
 * plugin host and the virtual serial sensor on a socat pty (as `/dev/ttyUSB0`): install the
 * shipped serial-sensor by name, install w1-temperature from a tar.gz with a wrong then the right
 * SHA-256, configure serial-sensor from the form its schema makes, enable it, see its readings and
 * a door-open alarm arrive (in the event index and among a camera's timeline marks), disable it,
 * remove the other; each change in the audit log. Screenshots at 1280 and 390 px in
 * test-artifacts/plugins/.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin } from "../testing/chromium.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startSerialSensor } from "../../hw-tests/sim/serial_sensor.ts";
import { removeTree } from "../plugins/plugin_fixture.ts";

const ARTIFACTS = new URL("../../test-artifacts/plugins/", import.meta.url).pathname;
const REPO = new URL("../../", import.meta.url).pathname;

/** plugins/w1-temperature as a .tar.gz (made by tar itself) and its SHA-256. */
async function w1Archive(dir: string): Promise<{ path: string; sha256: string }> {
  const path = `${dir}/w1-temperature.tar.gz`;
  const out = await new Deno.Command("tar", {
    args: ["-czf", path, "-C", `${REPO}plugins`, "w1-temperature"],
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { path, sha256 };
}

Deno.test({
  name: "plugins in Chromium: install, configure, enable, readings and a door alarm, remove",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const dir = await Deno.makeTempDir({ prefix: "nvr-plugins-page-" });
    try {
      await Deno.mkdir(`${dir}/dev`);
      await using sensor = await startSerialSensor({
        dir: `${dir}/dev`,
        deviceName: "ttyUSB0",
        intervalMs: 200,
        drift: false,
        initial: { temperatureC: 23.5, humidity: 48 },
      });
      await sensor.setDoor(false);
      const archive = await w1Archive(dir);
      // One camera (nothing answers there) so the page opens on its grid as usual.
      await using h = await startHarness({
        cameras: [{ id: "door", url: "rtsp://127.0.0.1:9/none", codec: "h264" }],
      }, {
        dir,
        plugins: { devRoot: `${dir}/dev`, restartMs: [500] },
      });
      await using session = await openAsNewAdmin(h);
      const { page, errors } = session;

      await page.click('[data-nav="plugins"]');
      await page.waitForSelector("#no-plugins");

      // A folder the recorder ships, by name.
      await page.fill("#plugin-install-shipped [name=shipped]", "serial-sensor");
      await page.click("#plugin-install-shipped button[type=submit]");
      const serial = '[data-plugin="serial-sensor"]';
      await page.waitForSelector(serial);
      assertEquals(await page.getAttribute(serial, "data-enabled"), "false");

      // An archive: a wrong SHA-256 is refused and says so; the right one installs it.
      await page.setInputFiles("#plugin-install-archive [name=archive]", archive.path);
      await page.fill("#plugin-install-archive [name=sha256]", "0".repeat(64));
      await page.click("#plugin-install-archive button[type=submit]");
      await page.waitForSelector("#notice.error");
      assert(
        (await page.textContent("#notice"))?.includes("nothing was installed"),
        "the checksum refusal is shown",
      );
      await page.fill("#plugin-install-archive [name=sha256]", archive.sha256);
      await page.click("#plugin-install-archive button[type=submit]");
      const w1 = '[data-plugin="w1-temperature"]';
      await page.waitForSelector(w1);

      // Settings from the schema: a number, a text and a checkbox field, defaults filled in.
      await page.click(`${serial} .plugin-settings summary`);
      assertEquals(await page.inputValue(`${serial} [name=device]`), "/dev/ttyUSB0");
      assertEquals(await page.inputValue(`${serial} [name=highC]`), "40");
      assert(await page.isChecked(`${serial} [name=doorAlarm]`), "doorAlarm defaults to on");
      await page.fill(`${serial} [name=highC]`, "30");
      await page.fill(`${serial} [name=staleSeconds]`, "10");
      await page.click(`${serial} .plugin-settings button[type=submit]`);
      await page.waitForSelector('#notice:has-text("settings saved")');
      // Its alarms concern the door camera, whose recordings are kept 5 min around each.
      await page.click(`${serial} .plugin-alarms summary`);
      await page.check(`${serial} .plugin-alarms input[value="door"]`);
      await page.fill(`${serial} .plugin-alarms [name=keepMinutes]`, "5");
      await page.locator(serial).screenshot({ path: `${ARTIFACTS}plugins-alarms-1280.png` });
      await page.click(`${serial} .plugin-alarms button[type=submit]`);
      await page.waitForSelector('#notice:has-text("alarms saved")');
      await page.click(`${serial} button.toggle`);
      await page.waitForSelector(`${serial}[data-enabled="true"]`);

      // Readings arrive on the screen as it refreshes; then the door opens: an alarm.
      await page.waitForSelector(`${serial} [data-reading="temperature"]`, { timeout: 30_000 });
      assertEquals(
        await page.textContent(`${serial} [data-reading="temperature"] .value`),
        "23.5 °C",
      );
      await page.waitForSelector(`${serial} .state[data-state="running"]`);
      await sensor.setDoor(true);
      await page.waitForSelector(`${serial} [data-reading="door"] .value:has-text("open")`, {
        timeout: 30_000,
      });
      const deadline = Date.now() + 30_000;
      while (!h.index().events(0, Date.now() + 1).some((e) => e.kind === "sensor-alarm")) {
        assert(Date.now() < deadline, "a sensor-alarm is indexed within 30 s");
        await new Promise((r) => setTimeout(r, 100));
      }
      const alarm = h.index().events(0, Date.now() + 1).find((e) => e.kind === "sensor-alarm");
      const { keepFromMs, keepToMs, ...detail } = alarm?.detail ?? {};
      assertEquals(detail, {
        plugin: "serial-sensor",
        sensor: "door",
        reason: "door opened",
        value: "open",
        cameras: ["door"],
      });
      assertEquals(Number(keepToMs) - Number(keepFromMs), 10 * 60_000, "kept 5 min each side");

      // The box-wide alarm is among the camera's timeline marks.
      const marks = await page.evaluate(
        `fetch("/api/cameras/door/events?from=${Date.now() - 3_600_000}&to=${
          Date.now() + 60_000
        }")` +
          ".then((r) => r.json()).then((j) => j.events.map((e) => e.kind))",
      ) as string[];
      assert(marks.includes("sensor-alarm"), `the door alarm on the timeline: ${marks}`);

      await page.screenshot({ path: `${ARTIFACTS}plugins-1280.png`, fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      const sideways = await page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth",
      );
      assertEquals(sideways, false, "no sideways scrolling at 390 px");
      await page.screenshot({ path: `${ARTIFACTS}plugins-390.png`, fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });

      // Disable one, remove the other (asked once more in place).
      await page.click(`${serial} button.toggle`);
      await page.waitForSelector(`${serial}[data-enabled="false"]`);
      await page.click(`${w1} button.remove`);
      await page.click(`${w1} button.confirm`);
      await page.waitForSelector(w1, { state: "detached" });

      // Every change is in the audit log, the refused install too.
      await page.click('[data-nav="audit"]');
      await page.waitForSelector('#audit-list tr[data-action="plugin.remove"]');
      const actions = await page.$$eval(
        "#audit-list tbody tr",
        (rows) =>
          rows.map((r) => `${r.getAttribute("data-action")}/${r.getAttribute("data-outcome")}`),
      );
      for (
        const want of [
          "plugin.install/ok",
          "plugin.install/failed",
          "plugin.configure/ok",
          "plugin.enable/ok",
          "plugin.disable/ok",
          "plugin.remove/ok",
        ]
      ) assert(actions.includes(want), `${want} in the audit list: ${actions}`);
      assertEquals(errors, []);
    } finally {
      await removeTree(dir);
    }
  },
});
