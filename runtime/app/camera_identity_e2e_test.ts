/**
 * The real daemon, a real Mosquitto and a virtual camera with credentials: a camera configured
 * with its ONVIF device service shows up in the retained fingerprint on MQTT with vendor, model,
 * serial, firmware and MAC, each with its source; a camera without one says why.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient } from "../testing/fleet_kit.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";

Deno.test("fingerprint on MQTT: each camera's identity from ONVIF, with sources", async () => {
  await using broker = await Mosquitto.start();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  await using cloud = await CloudClient.connect(url, ["nvr/v1/#"]);
  await using cam = await startVirtualCamera({
    codec: "h264",
    width: 160,
    height: 120,
    serial: "SN-77-1",
    model: "SimCam-Door",
    manufacturer: "NVR Sim",
    firmware: "2.4.1",
    user: "admin",
    password: "s3cret",
  });
  await using h = await startHarness({
    mqtt: { url },
    cameras: [
      {
        id: "door",
        url: cam.rtspUrl,
        username: "admin",
        password: "s3cret",
        onvif: { url: cam.onvifUrl },
      },
      { id: "yard", url: "rtsp://127.0.0.1:9/none", enabled: false },
    ],
  });
  const link = h.daemon.fleet;
  assert(link, "the fleet link started");
  const message = await cloud.waitFor(
    "fingerprint",
    (m) => m.find((x) => x.topic === `nvr/v1/${link.deviceId}/fingerprint`),
    20_000,
  );
  const fp = (message.json as { fingerprint: { cameras: Record<string, unknown>[] } }).fingerprint;
  const [door, yard] = fp.cameras;
  const src = `onvif:GetDeviceInformation ${cam.onvifUrl}`;
  assertEquals(door?.origin, "onvif");
  assertEquals(door?.vendor, { value: "NVR Sim", source: src });
  assertEquals(door?.model, { value: "SimCam-Door", source: src });
  assertEquals(door?.serial, { value: "SN-77-1", source: src });
  assertEquals(door?.firmware, { value: "2.4.1", source: src });
  const mac = door?.mac as { value: string; source: string } | null;
  assertEquals(mac?.source, `onvif:GetNetworkInterfaces ${cam.onvifUrl}`);
  assert(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac?.value ?? ""), `a MAC: ${mac?.value}`);
  assertEquals(yard?.origin, "config");
  assertEquals(yard?.onvifError, "no ONVIF URL configured");
  assertEquals(JSON.stringify(message.json).includes("s3cret"), false, "no password on MQTT");
});
