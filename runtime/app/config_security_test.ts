/**
 * Who may change the configuration, and how it is kept on disk, seen on the real daemon with a
 * real Mosquitto and a real config file: local changes reach the fleet, a fleet apply keeps the
 * keys it may not change, and every file with secrets is its owner's only.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient } from "../testing/fleet_kit.ts";
import { validateConfig } from "../config/mod.ts";

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test("file modes: config/users/audit/kv are 0600 in a 0700 folder, also after an apply; local changes reach config/reported", async () => {
  await using broker = await Mosquitto.start();
  await using cloud = await CloudClient.connect(broker.url, ["nvr/v1/#"]);
  const dir = await Deno.makeTempDir({ prefix: "nvr-config-sec-" });
  try {
    const configPath = `${dir}/config.json`;
    await Deno.writeTextFile(configPath, "{}\n", { mode: 0o600 });
    await using h = await startHarness({ mqtt: { url: broker.url } }, { dir, configPath });
    const link = h.daemon.fleet;
    assert(link, "the fleet link started");
    const data = `${dir}/data`;
    assertEquals(await mode(data), 0o700);
    for (const file of ["users.sqlite", "audit.sqlite", "fleet.kv"]) {
      assertEquals(await mode(`${data}/${file}`), 0o600, file);
    }

    // A local change (as the API makes it) is written 0600 and reported to the fleet.
    await h.daemon.updateConfig((cur) => ({ ...cur, device: { name: "front-desk" } }));
    assertEquals(await mode(configPath), 0o600, "a 0600 config stays 0600 after an apply");
    const reported = await cloud.waitFor(
      "config/reported local",
      (m) => m.find((x) => x.topic.endsWith("/config/reported") && x.json?.status === "local"),
    );
    assertEquals((reported.json?.config as { device: { name: string } }).device.name, "front-desk");
    assertEquals(link.config().device.name, "front-desk");

    // A fleet apply that slipped a locked key past the shadow still cannot change it.
    const running = link.config();
    await h.daemon.applyConfig(validateConfig({
      ...JSON.parse(JSON.stringify(running)),
      device: { name: "from-fleet" },
      mqtt: { ...running.mqtt, url: "mqtt://127.0.0.1:1" },
      analytics: { enabled: true },
    }));
    const written = JSON.parse(await Deno.readTextFile(configPath));
    assertEquals(
      [written.device.name, written.mqtt.url, written.analytics.enabled],
      ["from-fleet", broker.url, false],
    );
    assertEquals(await mode(configPath), 0o600);
    assertEquals(await mode(`${configPath}.bak`), 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
