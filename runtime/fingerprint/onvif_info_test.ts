/** Real ONVIF reads against virtual cameras (hw-tests/sim), through npm:onvif. */
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../testing/assert.ts";
import {
  collectFingerprint,
  fingerprintHash,
  OnvifReadError,
  readOnvifDeviceInformation,
} from "./mod.ts";
import { xmlElementText } from "./onvif_info.ts";

Deno.test("ONVIF: GetDeviceInformation from a virtual camera, and the fingerprint's camera list", async () => {
  await using cam = await startVirtualCamera({
    codec: "h264",
    width: 160,
    height: 120,
    serial: "0012345",
    model: "SimCam-7",
    manufacturer: "NVR Sim+Co",
    firmware: "1.10", // must stay text: npm:onvif's parsed object has the number 1.1
    user: "admin",
    password: "s3cret",
  });
  const info = await readOnvifDeviceInformation(cam.onvifUrl, {
    username: "admin",
    password: "s3cret",
  });
  assertEquals(info, {
    manufacturer: "NVR Sim+Co",
    model: "SimCam-7",
    firmwareVersion: "1.10",
    serialNumber: "0012345",
    hardwareId: "SimCam-7-HW",
    mac: info.mac ?? "(none)",
  });
  assertMatch(
    info.mac ?? "",
    /^02(:[0-9a-f]{2}){5}$/,
    "the camera's own MAC (GetNetworkInterfaces)",
  );

  await assertRejects(
    () => readOnvifDeviceInformation(cam.onvifUrl, { username: "admin", password: "wrong" }),
    OnvifReadError,
    cam.onvifUrl,
  );

  // Port 1: refused, always (a port from freePort() may be bound by another test meanwhile).
  const deadUrl = "http://127.0.0.1:1/onvif/device_service";
  const started = performance.now();
  const fp = await collectFingerprint({
    sysRoot: "/nonexistent/sys",
    procRoot: "/nonexistent/proc",
    smartctl: null,
    networkInterfaces: () => [],
    onvifTimeoutMs: 2000,
    cameras: [
      {
        id: "front",
        url: cam.rtspUrl,
        onvifUrl: cam.onvifUrl,
        username: "admin",
        password: "s3cret",
      },
      { id: "yard", url: "rtsp://192.168.1.77:554/stream1" },
      { id: "gone", url: "rtsp://127.0.0.1:1/main", onvifUrl: deadUrl },
      { id: "usb", url: "v4l2:///dev/video0" },
    ],
  });
  const ms = performance.now() - started;
  const onvifSource = `onvif:GetDeviceInformation ${cam.onvifUrl}`;
  assertEquals(fp.cameras[0], {
    id: "front",
    origin: "onvif",
    vendor: { value: "NVR Sim+Co", source: onvifSource },
    model: { value: "SimCam-7", source: onvifSource },
    serial: { value: "0012345", source: onvifSource },
    firmware: { value: "1.10", source: onvifSource },
    hardwareId: { value: "SimCam-7-HW", source: onvifSource },
    ip: { value: "127.0.0.1", source: "config:cameras[0].url" },
    mac: { value: info.mac!, source: `onvif:GetNetworkInterfaces ${cam.onvifUrl}` },
    onvifError: null,
  });
  assertEquals(fp.cameras[1], {
    id: "yard",
    origin: "config",
    vendor: null,
    model: null,
    serial: null,
    firmware: null,
    hardwareId: null,
    ip: { value: "192.168.1.77", source: "config:cameras[1].url" },
    mac: null,
    onvifError: "no ONVIF URL configured",
  });
  assertEquals(fp.cameras[2]?.origin, "config");
  assertMatch(fp.cameras[2]?.onvifError ?? "", /ECONNREFUSED|refused/i);
  assertEquals(fp.cameras[3]?.ip, null);
  assert(ms < 5000, `an unreachable camera must not hold the fingerprint up: ${ms.toFixed(0)} ms`);
  // Cameras do not bind the licence.
  const noCams = { ...fp, cameras: [] };
  assertEquals(await fingerprintHash(noCams), await fingerprintHash(fp));
});

Deno.test("xmlElementText: any prefix, entities decoded, empty is null", () => {
  const xml = `<s:Body><tds:GetDeviceInformationResponse><tds:Manufacturer>A &amp; B &#x263A;` +
    `</tds:Manufacturer><tds:SerialNumber>  007 </tds:SerialNumber><HardwareId></HardwareId>` +
    `</tds:GetDeviceInformationResponse></s:Body>`;
  assertEquals(xmlElementText(xml, "Manufacturer"), "A & B \u263a");
  assertEquals(xmlElementText(xml, "SerialNumber"), "007");
  assertEquals(xmlElementText(xml, "HardwareId"), null);
  assertEquals(xmlElementText(xml, "Model"), null);
});
