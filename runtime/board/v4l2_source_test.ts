import { assertEquals, assertThrows } from "../testing/assert.ts";
import { Pipeline } from "../gst/mod.ts";
import { loadProfile } from "./profile.ts";
import { loadRegistryFiles, probeRegistry } from "./registry.ts";
import {
  chooseCapture,
  discoverV4l2Devices,
  fpsFraction,
  parseV4l2Formats,
  usbCameraLaunch,
  V4l2FormatError,
  type V4l2Mode,
  v4l2SourceLaunch,
} from "./v4l2_source.ts";

const testdata = new URL("./testdata/", import.meta.url).pathname;
const formats = async (name: string) =>
  parseV4l2Formats(await Deno.readTextFile(`${testdata}v4l2/${name}.txt`));
const pick = (modes: V4l2Mode[], limits = {}) => {
  const c = chooseCapture("/dev/video0", modes, limits);
  return `${c.kind} ${c.caps}`;
};

Deno.test("parseV4l2Formats reads v4l2-ctl --list-formats-ext", async () => {
  const c920 = await formats("c920");
  assertEquals(c920.length, 19);
  assertEquals(c920[0], { fourcc: "YUYV", width: 640, height: 480, fps: 30 });
  assertEquals(c920.find((m) => m.fps === 7.5)?.fourcc, "YUYV");
  assertEquals([...new Set(c920.map((m) => m.fourcc))], ["YUYV", "H264", "MJPG"]);
});

Deno.test("chooseCapture: biggest frame, then fps; MJPEG from 720p up, raw below", async () => {
  const c920 = await formats("c920");
  // Raw 1080p is offered only at 5 fps (USB 2 bandwidth): MJPEG at 30.
  assertEquals(pick(c920), "mjpeg image/jpeg,width=1920,height=1080,framerate=30/1");
  assertEquals(
    pick(c920, { maxWidth: 1280, maxHeight: 720 }),
    "mjpeg image/jpeg,width=1280,height=720,framerate=30/1",
  );
  // Both at 640x480@30: raw needs no decoding.
  assertEquals(
    pick(c920, { maxWidth: 640, maxHeight: 480 }),
    "raw video/x-raw,format=YUY2,width=640,height=480,framerate=30/1",
  );
  const usb2 = await formats("usb2-camera");
  assertEquals(pick(usb2), "mjpeg image/jpeg,width=1920,height=1080,framerate=30/1");
  assertEquals(
    pick(usb2, { maxWidth: 1280, maxFps: 60 }),
    "mjpeg image/jpeg,width=1280,height=720,framerate=60/1",
  );
  assertEquals(
    pick(await formats("vga-yuyv")),
    "raw video/x-raw,format=YUY2,width=640,height=480,framerate=30/1",
  );
  // Slow modes only when nothing else is offered.
  assertEquals(
    pick([{ fourcc: "YUYV", width: 1920, height: 1080, fps: 7.5 }]),
    "raw video/x-raw,format=YUY2,width=1920,height=1080,framerate=15/2",
  );
});

Deno.test("chooseCapture: a camera with nothing usable is an error naming the device", () => {
  const err = assertThrows(
    () => chooseCapture("/dev/video2", [{ fourcc: "H264", width: 1920, height: 1080, fps: 30 }]),
    V4l2FormatError,
  );
  assertEquals(
    err.message,
    "USB camera /dev/video2: no MJPEG or raw (YUYV, UYVY, NV12, YU12) mode up to 1920x1080 at " +
      "30 fps; it offers H264",
  );
});

Deno.test("fpsFraction writes GStreamer fractions", () => {
  assertEquals([30, 7.5, 12.5, 29.97, 59.94].map(fpsFraction), [
    "30/1",
    "15/2",
    "25/2",
    "30000/1001",
    "60000/1001",
  ]);
});

Deno.test("discoverV4l2Devices: capture nodes (index 0), USB cameras told from SoC nodes", async () => {
  const pi4 = await discoverV4l2Devices(`${testdata}rpi4/sys`);
  assertEquals(pi4.map((d) => [d.device, d.name, d.usb]), [
    ["/dev/video0", "HD Pro Webcam C920", true],
    ["/dev/video10", "bcm2835-codec-decode", false],
    ["/dev/video11", "bcm2835-codec-encode", false],
    ["/dev/video12", "bcm2835-codec-isp", false],
  ]);
  const pi5 = await discoverV4l2Devices(`${testdata}rpi5/sys`);
  assertEquals(pi5.filter((d) => d.usb).map((d) => d.node), ["video0"]);
  assertEquals(await discoverV4l2Devices(`${testdata}x86-intel/sys`), []);
});

Deno.test("usbCameraLaunch: v4l2src, caps, the board's decoder and encoder", async () => {
  const pi4 = await loadRegistryFiles(`${testdata}rpi4/registry.txt`, `${testdata}software.txt`);
  const c920 = await formats("c920");
  const onPi4 = usbCameraLaunch("/dev/video0", c920, loadProfile("rpi4"), pi4, {
    fallback: "h264-hw",
  });
  assertEquals(
    onPi4.launch,
    "v4l2src device=/dev/video0 ! image/jpeg,width=1920,height=1080,framerate=30/1 ! jpegdec ! " +
      'videoconvert ! v4l2h264enc extra-controls="encode,video_bitrate=4977000,' +
      'h264_i_frame_period=30" ! video/x-h264,level=(string)4 ! h264parse',
  );
  const nx = await loadRegistryFiles(
    `${testdata}jetson-xavier-nx/registry.txt`,
    `${testdata}software.txt`,
  );
  const onJetson = usbCameraLaunch("/dev/video0", c920, loadProfile("jetson"), nx, {
    fallback: "x265",
    bitrateKbps: 3000,
  });
  assertEquals(
    onJetson.launch.split(" ! nvv4l2h265enc ")[0],
    "v4l2src device=/dev/video0 ! image/jpeg,width=1920,height=1080,framerate=30/1 ! jpegparse " +
      "! nvv4l2decoder mjpeg=1",
  );
  assertEquals(onJetson.plan.mode, "transcode");
});

Deno.test("v4l2SourceLaunch quotes a device path that needs it", () => {
  const capture = chooseCapture("x", [{ fourcc: "YUYV", width: 320, height: 240, fps: 30 }]);
  assertEquals(
    v4l2SourceLaunch("/dev/v4l/by-id/usb-046d_C920_A1-video-index0", capture).split(" ! ")[0],
    "v4l2src device=/dev/v4l/by-id/usb-046d_C920_A1-video-index0",
  );
  assertEquals(
    v4l2SourceLaunch('/tmp/my "cam"', capture).split(" ! ")[0],
    'v4l2src device="/tmp/my \\"cam\\""',
  );
});

/** The launch with v4l2src replaced by test frames in the same caps, run to EOS. */
async function runWithTestFrames(launch: string, jpeg: boolean): Promise<void> {
  const frames = "videotestsrc num-buffers=10";
  const description = jpeg
    ? launch.replace(
      /^v4l2src device=\S+ ! image\/jpeg,([^ ]+)/,
      `${frames} ! video/x-raw,format=Y42B,$1 ! jpegenc ! image/jpeg,$1`,
    )
    : launch.replace(/^v4l2src device=\S+/, frames);
  await using pipeline = Pipeline.parse(`${description} ! fakesink`, { name: "usb-run" });
  pipeline.play();
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    const msg = await pipeline.next(200);
    if (msg?.type === "eos") return;
    if (msg?.type === "error") throw new Error(`${msg.message}: ${description}`);
  }
  throw new Error(`no EOS: ${description}`);
}

Deno.test("usbCameraLaunch on this machine: the raw and MJPEG heads really run", async () => {
  const profile = loadProfile("generic");
  const registry = probeRegistry(profile);
  const raw = usbCameraLaunch("/dev/video0", await formats("vga-yuyv"), profile, registry, {
    fallback: "x265",
  });
  assertEquals(raw.capture.kind, "raw");
  await runWithTestFrames(raw.launch, false);
  const mjpeg = usbCameraLaunch("/dev/video0", await formats("usb2-camera"), profile, registry, {
    fallback: "h264-hw",
    limits: { maxWidth: 1280, maxHeight: 720 },
  });
  assertEquals([mjpeg.capture.kind, mjpeg.plan.encoder], ["mjpeg", "x264enc"]);
  await runWithTestFrames(mjpeg.launch, true);
});
