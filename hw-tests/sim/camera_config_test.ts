import { assertEquals, assertMatch, assertThrows } from "../../runtime/testing/assert.ts";
import {
  cameraArgs,
  mainLaunch,
  parseCameraArgs,
  snapshotLaunch,
  subLaunch,
} from "./camera_config.ts";

Deno.test("parseCameraArgs: defaults, both flag styles, and the cameraArgs round trip", () => {
  const cfg = parseCameraArgs(["--rtsp-port", "8554", "--onvif-port=8081"]);
  assertEquals(cfg, {
    rtspPort: 8554,
    onvifPort: 8081,
    codec: "h265",
    width: 1280,
    height: 720,
    fps: 15,
    bitrateKbps: 1000,
    serial: "SIM-0001",
    model: "SimCam-1",
    manufacturer: "NVR Sim",
    firmware: "1.0.0",
    name: "cam1",
    exitOnStdinEof: false,
  });
  const full = parseCameraArgs([
    ...[
      "--rtsp-port",
      "1",
      "--onvif-port",
      "2",
      "--codec",
      "h264",
      "--width",
      "320",
      "--height",
      "240",
    ],
    ...[
      "--fps",
      "10",
      "--bitrate",
      "200",
      "--name",
      "gate 2",
      "--user",
      "u",
      "--password",
      "p:w=1",
    ],
    "--exit-on-stdin-eof",
  ]);
  assertEquals(parseCameraArgs(cameraArgs(full)), full);
  assertEquals(full.password, "p:w=1");
});

Deno.test("parseCameraArgs: errors say what to fix and include the usage", () => {
  const cases: [string[], string][] = [
    [["--onvif-port", "2"], "--rtsp-port and --onvif-port are required"],
    [["--rtsp-port", "1", "--onvif-port", "2", "--codec", "vp8"], "--codec must be h264 or h265"],
    [["--rtsp-port", "1", "--onvif-port", "2", "--width", "321"], "must be even"],
    [["--rtsp-port", "1", "--onvif-port", "2", "--user", "u"], "give both --user and --password"],
    [["--rtsp-port", "1", "--onvif-port", "2", "--name", 'a"b'], "--name must be"],
    [["--rtsp-port", "1", "--onvif-port", "1"], "must differ"],
    [["--rtsp-port", "x", "--onvif-port", "2"], "--rtsp-port must be an integer"],
    [["--rtsp-port", "1", "--onvif-port", "2", "--colour", "red"], "unknown option --colour"],
  ];
  for (const [args, msg] of cases) {
    const e = assertThrows(() => parseCameraArgs(args), Error, msg);
    assertMatch(e.message, /usage: deno run/);
  }
});

Deno.test("launch strings: encoder per codec, keyframe every second, pay0, sub is 640x360 H.264", () => {
  const h265 = parseCameraArgs([
    "--rtsp-port",
    "1",
    "--onvif-port",
    "2",
    "--fps",
    "12",
    "--bitrate",
    "800",
  ]);
  assertMatch(
    mainLaunch(h265),
    /x265enc speed-preset=ultrafast tune=zerolatency key-int-max=12 bitrate=800 /,
  );
  assertMatch(mainLaunch(h265), /h265parse ! rtph265pay name=pay0 config-interval=-1 pt=96$/);
  assertMatch(mainLaunch(h265), /video\/x-raw,format=I420,width=1280,height=720,framerate=12\/1/);
  assertMatch(mainLaunch(h265), /clockoverlay text="cam1"/);
  const h264 = parseCameraArgs(["--rtsp-port", "1", "--onvif-port", "2", "--codec", "h264"]);
  assertMatch(mainLaunch(h264), /x264enc .* ! h264parse ! rtph264pay name=pay0/);
  assertMatch(
    subLaunch(h265),
    /width=640,height=360,framerate=12\/1 .*x264enc .*rtph264pay name=pay0/,
  );
  assertMatch(
    snapshotLaunch(h265, "/tmp/a.jpg"),
    /num-buffers=1 .*jpegenc .*location="\/tmp\/a.jpg"$/,
  );
});
