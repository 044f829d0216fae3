/**
 * The real daemon, a real Mosquitto and a virtual camera with credentials: a camera configured
 * with its ONVIF device service shows up in the retained fingerprint on MQTT with vendor, model,
 * serial, firmware and MAC, each with its source; a camera without one says why. The message
 * carries the cameras' hash, sent again as soon as a camera is added, and the fleet console's
 * devices list shows it.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient } from "../testing/fleet_kit.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { validateConfig } from "../config/mod.ts";
import { camerasHash, camerasHashOfData } from "../fingerprint/hash.ts";
import { main as fleetMain } from "../fleet_console/main.ts";

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

/** Runs `deno task fleet <args>` in-process; what it printed. */
async function fleetCli(args: string[]): Promise<{ code: number; printed: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => lines.push(parts.join(" "));
  try {
    return { code: await fleetMain(args), printed: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

Deno.test("fingerprint on MQTT: camerasHash published, re-sent at once when a camera is added, shown by fleet devices", async () => {
  await using broker = await Mosquitto.start();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  await using cloud = await CloudClient.connect(url, ["nvr/v1/+/fingerprint"]);
  const small = { codec: "h264", width: 160, height: 120, manufacturer: "NVR Sim" } as const;
  await using door = await startVirtualCamera({ ...small, serial: "D-1", model: "SimCam-Door" });
  await using gate = await startVirtualCamera({ ...small, serial: "G-2", model: "SimCam-Gate" });
  await using h = await startHarness({
    mqtt: { url },
    cameras: [{ id: "door", url: door.rtspUrl, onvif: { url: door.onvifUrl } }],
  });
  const link = h.daemon.fleet;
  assert(link, "the fleet link started");
  const topic = `nvr/v1/${link.deviceId}/fingerprint`;
  const hashOf = (...serials: [string, string][]) =>
    camerasHash({
      cameras: serials.map(([model, serial]) => ({
        vendor: { value: "NVR Sim" },
        model: { value: model },
        serial: { value: serial },
      })),
    });
  type Message = { fingerprint: unknown; camerasHash: string | null };
  const first = await cloud.waitFor("fingerprint", (m) => m.find((x) => x.topic === topic), 20_000);
  const one = first.json as unknown as Message;
  assertEquals(one.camerasHash, await hashOf(["SimCam-Door", "D-1"]));
  assertEquals(one.camerasHash, await camerasHashOfData(one.fingerprint), "the fleet can check it");

  // A camera added on the box (as the page does): the fingerprint goes out again at once, not at
  // the link's 10-minute check, with the new camera in it and a new camerasHash.
  await h.daemon.updateConfig((cur) => ({
    ...cur,
    cameras: [
      ...cur.cameras,
      validateConfig({
        cameras: [{ id: "gate", url: gate.rtspUrl, onvif: { url: gate.onvifUrl } }],
      })
        .cameras[0]!,
    ],
  }));
  const twoCameras = await hashOf(["SimCam-Door", "D-1"], ["SimCam-Gate", "G-2"]);
  const second = await cloud.waitFor(
    "a fingerprint with the gate camera",
    (m) =>
      m.find((x) => x.topic === topic && (x.json as unknown as Message).camerasHash === twoCameras),
    20_000,
  );
  const fp = (second.json as { fingerprint: { cameras: { id: string }[] } }).fingerprint;
  assertEquals(fp.cameras.map((c) => c.id), ["door", "gate"]);

  // The fleet console's devices list shows it (shortened; whole with --json).
  const db = `${h.dir}/fleet-registry.db`;
  const table = await fleetCli(["devices", "--broker", url, "--db", db, "--follow-ms", "500"]);
  assertEquals(table.code, 0);
  const [header = "", row = ""] = table.printed.split("\n");
  assert(/\bcameras\b/.test(header), header);
  assert(row.startsWith(link.deviceId) && row.includes(twoCameras.slice(0, 12)), table.printed);
  const json = await fleetCli(["devices", "--broker", url, "--db", db, "--json"]);
  const rows = JSON.parse(json.printed) as { id: string; camerasHash: string }[];
  assertEquals(rows.find((r) => r.id === link.deviceId)?.camerasHash, twoCameras);
});
