/**
 * The real-camera checklist (hw-tests/cameras/try_camera.ts) against the virtual camera's ONVIF
 * service on 127.0.0.1 (scan only, no multicast): every step passes, so a failure on a real
 * camera is the camera's (or the code's meeting it), not the checklist's.
 */
import { assert, assertEquals, assertThrows } from "../../runtime/testing/assert.ts";
import { parseTryArgs, tryCamera } from "../cameras/try_camera.ts";
import { startOnvifService } from "./onvif_service.ts";
import { lineCrossingEvent } from "./onvif_events.ts";
import { ptzService } from "./onvif_ptz.ts";
import { PtzState } from "./ptz_state.ts";

Deno.test("real-camera checklist against the virtual camera: discovery, identity, profiles, clock, PTZ and a line crossing pass", async () => {
  await using cam = startOnvifService({
    port: 0,
    device: {
      manufacturer: "NVR Sim",
      model: "SimCam-PTZ",
      firmwareVersion: "2.0",
      serialNumber: "SN-TRY-1",
      hardwareId: "HW",
    },
    name: "try",
    profiles: [{
      token: "main",
      name: "main",
      encoding: "H264",
      width: 640,
      height: 360,
      fps: 10,
      bitrateKbps: 500,
      govLength: 10,
      rtspUri: "rtsp://127.0.0.1:9/main",
    }],
    credentials: { user: "admin", password: "try pw" },
    snapshot: () => Promise.resolve(new Uint8Array()),
    events: {},
    ptz: ptzService(new PtzState(), ["main"]),
  });
  const args = parseTryArgs([
    "--user=admin",
    "--password",
    "try pw",
    "--no-multicast",
    "--range",
    "127.0.0.1",
    "--ports",
    String(cam.port),
    "--ptz",
    "--events-seconds",
    "20",
  ]);
  const lines: string[] = [];
  const steps = await tryCamera(args, (line) => {
    lines.push(line);
    // The person at the camera: once subscribed, something crosses the line.
    if (line.includes("events subscribed")) cam.raiseEvent(lineCrossingEvent(3));
  }, {
    // Stop listening once the crossing came, not after the full 20 s.
    stopEventsWhen: (e) => e.type === "line-crossing",
  });
  assertEquals(
    steps.map((s) => [s.step, s.outcome]),
    [
      ["discovery", "pass"],
      ["identity (fingerprint)", "pass"],
      ["profiles", "pass"],
      ["clock", "pass"],
      ["ptz", "pass"],
      ["events", "pass"],
    ],
    lines.join("\n"),
  );
  const events = steps.find((s) => s.step === "events")!.detail as { types: string[] };
  assert(events.types.includes("line-crossing"), JSON.stringify(events));
  assert(!lines.join("\n").includes("try pw"), "the password is never printed");
});

Deno.test("real-camera checklist: bad arguments are named with the usage", () => {
  assertThrows(() => parseTryArgs(["--ports", "80,x"]), Error, "--ports");
  assertThrows(() => parseTryArgs(["--events-seconds", "-1"]), Error, "--events-seconds");
  assertThrows(() => parseTryArgs(["--user"]), Error, "--user needs a value");
});
