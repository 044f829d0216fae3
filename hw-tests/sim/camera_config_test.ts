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
    [["--rtsp-port", "1", "--onvif-port", "2", "--loop-file", "clip.h265"], "absolute path"],
    [["--rtsp-port", "1", "--onvif-port", "2", "--loop-file", '/a"b'], "without quotes"],
    [
      ["--rtsp-port", "1", "--onvif-port", "2", "--codec", "h264", "--loop-file", "/c.h265"],
      "--loop-file serves H.265 only",
    ],
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

Deno.test("--loop-file: round trip, and /main reads the file in a loop without an encoder", () => {
  const cfg = parseCameraArgs([
    "--rtsp-port",
    "1",
    "--onvif-port",
    "2",
    "--fps",
    "15",
    "--loop-file",
    "/tmp/clips/loop.h265",
  ]);
  assertEquals(cfg.loopFile, "/tmp/clips/loop.h265");
  assertEquals(parseCameraArgs(cameraArgs(cfg)), cfg);
  const main = mainLaunch(cfg);
  assertMatch(main, /^multifilesrc location="\/tmp\/clips\/loop.h265" loop=true /);
  assertMatch(main, /framerate=15\/1/);
  assertMatch(main, /clocksync ! rtph265pay name=pay0 config-interval=-1 pt=96$/);
  assertEquals(/x26[45]enc|videotestsrc/.test(main), false);
});

Deno.test("--audio: round trip, a second stream pay1 on /main, and nothing for none", () => {
  const base = ["--rtsp-port", "1", "--onvif-port", "2"];
  const pay1: Record<string, RegExp> = {
    aac:
      / audiotestsrc is-live=true .* ! voaacenc bitrate=32000 ! aacparse ! rtpmp4gpay name=pay1 pt=97$/,
    pcma: / audiotestsrc is-live=true .*rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1$/,
    pcmu: / audiotestsrc is-live=true .*rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1$/,
  };
  for (const [audio, pattern] of Object.entries(pay1)) {
    const cfg = parseCameraArgs([...base, "--audio", audio]);
    assertEquals(cfg.audio, audio);
    assertEquals(parseCameraArgs(cameraArgs(cfg)), cfg);
    assertMatch(mainLaunch(cfg), pattern);
  }
  const none = parseCameraArgs([...base, "--audio", "none"]);
  assertEquals([none.audio, mainLaunch(none).includes("pay1")], [undefined, false]);
  assertThrows(
    () => parseCameraArgs([...base, "--audio", "opus"]),
    Error,
    "--audio must be one of",
  );
});

Deno.test("--no-events and --motion-every-ms: round trip; a bad interval is named", () => {
  const cfg = parseCameraArgs([
    "--rtsp-port=1",
    "--onvif-port=2",
    "--no-events",
    "--motion-every-ms",
    "5000",
  ]);
  assertEquals([cfg.noEvents, cfg.motionEveryMs], [true, 5000]);
  assertEquals(parseCameraArgs(cameraArgs(cfg)), cfg);
  const plain = parseCameraArgs(["--rtsp-port=1", "--onvif-port=2"]);
  assertEquals(["noEvents" in plain, "motionEveryMs" in plain], [false, false]);
  assertThrows(
    () => parseCameraArgs(["--rtsp-port=1", "--onvif-port=2", "--motion-every-ms=5"]),
    Error,
    "motion-every-ms",
  );
});
