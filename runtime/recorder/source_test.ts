import { assert, assertEquals, assertMatch, assertThrows } from "../testing/assert.ts";
import { ffprobe } from "../testing/ffprobe.ts";
import { runPipeline, videoKeyFlags } from "../testing/record_pipeline.ts";
import { openGst, startRtspServer } from "../gst/rtsp_server.ts";
import { validateConfig } from "../config/mod.ts";
import {
  type BoardId,
  ListRegistry,
  loadProfile,
  loadRegistryFiles,
  parseV4l2Formats,
  probeRegistry,
  type V4l2Mode,
} from "../board/mod.ts";
import { recordingPipeline } from "./gstreamer/recording_pipeline.ts";
import {
  planSource,
  readSourceFormats,
  sourceDescription,
  SourcePlanError,
  UnsupportedSourceError,
} from "./source.ts";

const testdata = new URL("../board/testdata/", import.meta.url).pathname;
const camera = (raw: Record<string, unknown>) =>
  validateConfig({ cameras: [{ id: "cam1", ...raw }] }).cameras[0]!;
/** The pipeline up to the tee: what the source and the plan make of the camera. */
const head = (description: string) => description.split(" ! tee name=t ")[0];

Deno.test("RTSP heads: transport, credentials from the config or the URL, quoted", () => {
  assertEquals(
    sourceDescription(camera({ url: "rtsp://10.0.0.5/main", transport: "udp", codec: "h264" })),
    'rtspsrc name=src location="rtsp://10.0.0.5/main" protocols=udp latency=200 buffer-mode=none ' +
      "tcp-timeout=5000000 timeout=5000000 ! rtph264depay ! h264parse",
  );
  assertEquals(
    sourceDescription(camera({ url: "rtsps://admin:p%40ss@cam.lan:322/s" })),
    'rtspsrc name=src location="rtsps://cam.lan:322/s" protocols=tcp latency=200 buffer-mode=none ' +
      'tcp-timeout=5000000 timeout=5000000 user-id="admin" user-pw="p@ss" ! rtph265depay ! ' +
      "h265parse",
  );
  const quoted = sourceDescription(
    camera({ url: "rtsp://10.0.0.5/main", username: "a", password: 'x" y' }),
  );
  assertMatch(quoted, /user-id="a" user-pw="x\\" y"/);
});

Deno.test("unknown schemes and USB cameras without their capture mode are refused by name", () => {
  const err = assertThrows(
    () => sourceDescription(camera({ url: "http://10.0.0.5/video.mjpg" })),
    UnsupportedSourceError,
  );
  assertEquals(
    err.message,
    "Camera 'cam1': URL scheme 'http:' is not supported; use one of rtsp:, rtsps:, v4l2: " +
      "(fix cameras[].url in the config)",
  );
  const usb = camera({ url: "v4l2:///dev/video0" });
  assertMatch(
    assertThrows(() => sourceDescription(usb), SourcePlanError).message,
    /^Camera 'cam1': USB camera \/dev\/video0 has no capture mode in its plan; /,
  );
});

const C920 = parseV4l2Formats(await Deno.readTextFile(`${testdata}v4l2/c920.txt`));
const BY_ID = "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_A1B2C3D4-video-index0";
const C920_HEAD = `v4l2src name=src device=${BY_ID} ! ` +
  "image/jpeg,width=1920,height=1080,framerate=30/1";

Deno.test("a C920-like USB camera on each board: MJPEG 1080p30 in, the board's decoder and encoder", async () => {
  const usb = camera({ url: `v4l2://${BY_ID}` });
  const boards: [BoardId, string, string][] = [
    [
      "rpi4",
      "rpi4",
      'jpegdec ! videoconvert ! v4l2h264enc extra-controls="encode,video_bitrate=4977000,' +
      'h264_i_frame_period=30" ! video/x-h264,level=(string)4 ! h264parse',
    ],
    [
      "rpi5",
      "rpi5",
      "jpegdec ! videoconvert ! x264enc speed-preset=ultrafast tune=zerolatency key-int-max=30 " +
      "bitrate=4977 ! h264parse",
    ],
    [
      "jetson",
      "jetson-xavier-nx",
      "jpegparse ! nvv4l2decoder mjpeg=1 ! nvv4l2h265enc bitrate=3110000 control-rate=1 " +
      "iframeinterval=30 idrinterval=30 insert-sps-pps=true maxperf-enable=true ! h265parse",
    ],
    [
      "x86",
      "x86-intel",
      "vajpegdec ! vah265enc bitrate=3110 key-int-max=30 b-frames=0 rate-control=cbr ! h265parse",
    ],
  ];
  for (const [board, fixture, plan] of boards) {
    const registry = await loadRegistryFiles(
      `${testdata}${fixture}/registry.txt`,
      `${testdata}software.txt`,
    );
    const planned = planSource(usb, C920, {
      profile: loadProfile(board),
      registry,
      fallback: "h264-hw",
    });
    assertEquals(planned.capture?.caps, "image/jpeg,width=1920,height=1080,framerate=30/1");
    const description = recordingPipeline(usb, {
      location: "/r/%05d.mp4",
      segmentSeconds: 10,
      plan: planned,
    });
    assertEquals(head(description), `${C920_HEAD} ! ${plan}`, board);
    // Plain data: the plan crosses to recorder workers as JSON and comes back the same.
    assertEquals(JSON.parse(JSON.stringify(planned)), planned);
  }
});

Deno.test("cameras[].width/height/fps limit the capture mode; RTSP plans come from the codec", async () => {
  const registry = await loadRegistryFiles(
    `${testdata}rpi5/registry.txt`,
    `${testdata}software.txt`,
  );
  const board = { profile: loadProfile("rpi5"), registry, fallback: "h264-hw" } as const;
  const plan = (raw: Record<string, unknown>) =>
    planSource(camera({ url: "v4l2:///dev/video0", ...raw }), C920, board).capture?.caps;
  assertEquals(
    plan({ width: 1280, height: 720 }),
    "image/jpeg,width=1280,height=720,framerate=30/1",
  );
  assertEquals(plan({ fps: 15 }), "image/jpeg,width=1920,height=1080,framerate=15/1");
  assertEquals(plan({ width: 640 }), "video/x-raw,format=YUY2,width=640,height=480,framerate=30/1");
  const rtsp = planSource(camera({ url: "rtsp://x/y", codec: "h264" }), null, board);
  assertEquals([rtsp.mode, rtsp.capture], ["passthrough", undefined]);
  // Passthrough gets decode times (B-frames) where the board's GStreamer has the timestamper.
  assertEquals(rtsp.timestamper, "h264timestamper");
  assertMatch(
    sourceDescription(camera({ url: "rtsp://x/y", codec: "h264" }), rtsp),
    /h264parse ! h264timestamper$/,
  );
  const old = {
    profile: board.profile,
    registry: new ListRegistry(["h264parse"]),
    fallback: "h264-hw",
  } as const;
  assertEquals(
    planSource(camera({ url: "rtsp://x/y", codec: "h264" }), null, old).timestamper,
    undefined,
  );
  assertThrows(
    () => planSource(camera({ url: "v4l2:///dev/video0" }), null, board),
    SourcePlanError,
  );
});

Deno.test("readSourceFormats asks v4l2-ctl about USB cameras only", async () => {
  const asked: string[] = [];
  const read = (device: string) => {
    asked.push(device);
    return Promise.resolve(C920);
  };
  assertEquals(await readSourceFormats(camera({ url: "rtsp://x/y" }), read), null);
  const escaped = "v4l2:///dev/v4l/by-id/usb-My%20Cam-video-index0";
  assertEquals((await readSourceFormats(camera({ url: escaped }), read))?.length, C920.length);
  assertEquals(asked, ["/dev/v4l/by-id/usb-My Cam-video-index0"]);
});

/**
 * The recording pipeline of a USB camera with v4l2src replaced by 45 test frames in the same caps
 * (MJPEG made by jpegenc from 4:2:2, as webcams send it).
 */
function withTestFrames(description: string): string {
  const frames = "videotestsrc name=src num-buffers=45 pattern=ball";
  const jpeg = description.replace(
    /^v4l2src name=src device=\S+ ! image\/jpeg,(\S+)/,
    `${frames} ! video/x-raw,format=Y42B,$1 ! jpegenc ! image/jpeg,$1`,
  );
  return jpeg !== description ? jpeg : description.replace(/^v4l2src name=src device=\S+/, frames);
}

Deno.test("a USB camera's recording pipeline runs here (test frames for v4l2src): MJPEG and raw", async () => {
  const profile = loadProfile("generic");
  const registry = probeRegistry(profile);
  const modes: V4l2Mode[] = [
    { fourcc: "MJPG", width: 320, height: 240, fps: 15 },
    { fourcc: "YUYV", width: 320, height: 180, fps: 15 },
  ];
  const dir = await Deno.makeTempDir({ prefix: "nvr-usb-" });
  try {
    for (
      const [fourcc, fallback, codec] of [["MJPG", "h264-hw", "h264"], [
        "YUYV",
        "x265",
        "hevc",
      ]] as const
    ) {
      const usb = camera({ url: "v4l2:///dev/video0" });
      const plan = planSource(usb, modes.filter((m) => m.fourcc === fourcc), {
        profile,
        registry,
        fallback,
      });
      const description = recordingPipeline(usb, {
        location: `${dir}/${fourcc}-%05d.mp4`,
        segmentSeconds: 2,
        plan,
      });
      assert(description.startsWith("v4l2src name=src device=/dev/video0 ! "), description);
      await runPipeline(withTestFrames(description), 20_000, `usb-${fourcc}`);
      const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
        n.startsWith(fourcc)
      )
        .sort();
      assertEquals(files.length, 2, `${fourcc}: ${files}`);
      const [first, second] = await Promise.all(files.map((f) => ffprobe(`${dir}/${f}`)));
      assertEquals(
        [first?.codec, first?.width, first?.height, first?.frames, second?.frames],
        [codec, plan.capture?.width, plan.capture?.height, 30, 15],
        fourcc,
      );
      for (const f of files) assertEquals((await videoKeyFlags(`${dir}/${f}`))[0], "K", f);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const RTSP_H264 = "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=10/1 ! " +
  "x264enc speed-preset=ultrafast tune=zerolatency key-int-max=10 ! rtph264pay name=pay0 pt=96";

Deno.test("rtspsrc logs in with Digest alone and with Basic alone, and records", async () => {
  const ffi = openGst();
  const dir = await Deno.makeTempDir({ prefix: "nvr-auth-" });
  try {
    for (const method of ["digest", "basic"] as const) {
      await using server = startRtspServer(ffi, {
        port: 0,
        mounts: [{ path: "/main", launch: RTSP_H264 }],
        auth: { user: "nvr", password: "pa ss", methods: [method] },
      });
      const cam = camera({
        url: server.urlFor("/main"),
        codec: "h264",
        username: "nvr",
        password: "pa ss",
      });
      const description = recordingPipeline(cam, {
        location: `${dir}/${method}-%05d.mp4`,
        segmentSeconds: 2,
        plan: planSource(cam, null, {
          profile: loadProfile("generic"),
          registry: probeRegistry(loadProfile("generic")),
          fallback: "h264-hw",
        }),
      });
      await runPipeline(description, 1_500, method);
      const files = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith(method));
      assert(files.length >= 1, `${method}: no segment`);
      const probe = await ffprobe(`${dir}/${files[0]!.name}`);
      assertEquals([probe.codec, probe.width], ["h264", 160], method);
    }
  } finally {
    ffi.close();
    await Deno.remove(dir, { recursive: true });
  }
});
