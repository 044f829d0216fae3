/**
 * The configuration the image ships (rootfs-overlay/etc/nvr/config.json) loads with the real loader,
 * and the pre-start step nvr.service names exists and puts the provisioning file where that config
 * says the daemon reads it.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { loadConfig } from "./load.ts";

const overlay = new URL("../../rootfs-overlay/", import.meta.url).pathname;

Deno.test("the image's config loads, records only on the SSD and reads the provisioning file from the identity store", async () => {
  const cfg = await loadConfig(`${overlay}etc/nvr/config.json`, {});
  assertEquals(cfg.storage.requireMount, "/mnt/ssd");
  assert(cfg.storage.dataDir.startsWith("/mnt/ssd/"), cfg.storage.dataDir);
  assertEquals(cfg.provision.file, `${cfg.provision.identityDir}/nvr-provision.json`);
  const script = await Deno.readTextFile(`${overlay}usr/lib/nvr/nvr-prestart.sh`);
  assert(script.includes(`dst=${cfg.provision.file}`), "nvr-prestart.sh moves the file there");
  const unit = await Deno.readTextFile(`${overlay}usr/lib/systemd/system/nvr.service`);
  assert(unit.includes("ExecStartPre=+/usr/lib/nvr/nvr-prestart.sh"));
  // The daemon saves changes (cameras from the page, apply-config): its file is on a writable
  // partition, seeded from the image's read-only one.
  const configEnv = /^Environment=NVR_CONFIG=(\S+)$/m.exec(unit)?.[1];
  assertEquals(configEnv, "/var/lib/nvr-state/config/config.json");
  assert(script.includes(`/etc/nvr/config.json ${configEnv}`), "nvr-prestart.sh seeds it");
  const mode = (await Deno.stat(`${overlay}usr/lib/nvr/nvr-prestart.sh`)).mode! & 0o111;
  assert(mode !== 0, "nvr-prestart.sh is executable");
});

Deno.test("the image serves NTP to its cameras on port 123, which its unprivileged service may bind", async () => {
  const cfg = await loadConfig(`${overlay}etc/nvr/config.json`, {});
  assertEquals(cfg.ntp.listen, ["0.0.0.0:123"]);
  const unit = await Deno.readTextFile(`${overlay}usr/lib/systemd/system/nvr.service`);
  assert(/^User=nvr$/m.test(unit), "the daemon runs as nvr");
  assert(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m.test(unit), "nvr may bind ports below 1024");
});
