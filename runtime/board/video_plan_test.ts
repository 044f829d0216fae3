import { assertEquals, assertMatch, assertThrows } from "../testing/assert.ts";
import { detectBoard } from "./detect.ts";
import { loadProfile } from "./profile.ts";
import { ListRegistry, loadRegistryFiles } from "./registry.ts";
import {
  defaultBitrateKbps,
  type EncodeFallback,
  keyframeInterval,
  planVideo,
  type SourceCodec,
  VideoPlanError,
} from "./video_plan.ts";

const testdata = new URL("./testdata/", import.meta.url).pathname;

/** The board as the daemon would see it: detected from the fixture tree, its fixture registry. */
async function fixtureBoard(name: string) {
  const info = await detectBoard({
    sysRoot: `${testdata}${name}/sys`,
    procRoot: `${testdata}${name}/proc`,
  });
  const registry = await loadRegistryFiles(
    `${testdata}${name}/registry.txt`,
    `${testdata}software.txt`,
  );
  return { profile: loadProfile(info.id), registry };
}

type Row = [SourceCodec, EncodeFallback | "*", string];
const ALL: EncodeFallback[] = ["x265", "h264-hw"];
/** "mode codec encoder decoder", "-" for null. */
const TABLE: Record<string, Row[]> = {
  "rpi4": [
    ["h264", "x265", "transcode h265 x265enc v4l2h264dec"],
    ["h264", "h264-hw", "passthrough h264 - -"],
    ["raw", "x265", "encode h265 x265enc -"],
    ["raw", "h264-hw", "encode h264 v4l2h264enc -"],
    ["mjpeg", "x265", "transcode h265 x265enc jpegdec"],
    ["mjpeg", "h264-hw", "transcode h264 v4l2h264enc jpegdec"],
  ],
  "rpi5": [
    ["h264", "x265", "transcode h265 x265enc avdec_h264"],
    ["h264", "h264-hw", "passthrough h264 - -"],
    ["raw", "x265", "encode h265 x265enc -"],
    ["raw", "h264-hw", "encode h264 x264enc -"],
    ["mjpeg", "x265", "transcode h265 x265enc jpegdec"],
    ["mjpeg", "h264-hw", "transcode h264 x264enc jpegdec"],
  ],
  "jetson-xavier-nx": [
    ["h264", "*", "transcode h265 nvv4l2h265enc nvv4l2decoder"],
    ["raw", "*", "encode h265 nvv4l2h265enc -"],
    ["mjpeg", "*", "transcode h265 nvv4l2h265enc nvv4l2decoder"],
  ],
  // nvv4l2h265enc is in its registry, but the profile knows it cannot run: no NVENC.
  "jetson-orin-nano": [
    ["h264", "x265", "transcode h265 x265enc nvv4l2decoder"],
    ["h264", "h264-hw", "passthrough h264 - -"],
    ["raw", "x265", "encode h265 x265enc -"],
    ["raw", "h264-hw", "encode h264 x264enc -"],
    ["mjpeg", "x265", "transcode h265 x265enc jpegdec"],
    ["mjpeg", "h264-hw", "transcode h264 x264enc jpegdec"],
  ],
  "rockchip-rk3588": [
    ["h264", "*", "transcode h265 mpph265enc mppvideodec"],
    ["raw", "*", "encode h265 mpph265enc -"],
    ["mjpeg", "*", "transcode h265 mpph265enc mppjpegdec"],
  ],
  "x86-intel": [
    ["h264", "*", "transcode h265 vah265enc vah264dec"],
    ["raw", "*", "encode h265 vah265enc -"],
    ["mjpeg", "*", "transcode h265 vah265enc vajpegdec"],
  ],
};

for (const [board, rows] of Object.entries(TABLE)) {
  Deno.test(`planVideo table: ${board} × source codec × fallback`, async () => {
    const { profile, registry } = await fixtureBoard(board);
    const all: Row[] = [["h265", "*", "passthrough h265 - -"], ...rows];
    for (const [codec, fallbackOrAll, expected] of all) {
      for (const fallback of fallbackOrAll === "*" ? ALL : [fallbackOrAll]) {
        const plan = planVideo({ codec, fallback, fps: 25 }, profile, registry);
        const got = [plan.mode, plan.codec, plan.encoder ?? "-", plan.decoder ?? "-"].join(" ");
        assertEquals(got, expected, `${board} ${codec} ${fallback}: ${plan.reason}`);
        if (plan.mode === "passthrough") assertEquals(plan.launch, "");
        else assertMatch(plan.launch, new RegExp(` ! ${plan.codec}parse$`));
      }
    }
  });
}

Deno.test("planVideo: the launch fragments and reasons, board by board", async () => {
  const input = { fps: 25, bitrateKbps: 4000 } as const;
  const plan = async (board: string, codec: SourceCodec, fallback: EncodeFallback) => {
    const { profile, registry } = await fixtureBoard(board);
    return planVideo({ ...input, codec, fallback }, profile, registry);
  };
  assertEquals(
    (await plan("jetson-xavier-nx", "h264", "x265")).launch,
    "nvv4l2decoder ! nvv4l2h265enc bitrate=4000000 control-rate=1 iframeinterval=25 " +
      "idrinterval=25 insert-sps-pps=true maxperf-enable=true ! h265parse",
  );
  assertEquals(
    (await plan("jetson-xavier-nx", "mjpeg", "x265")).launch.split(" ! nvv4l2h265enc")[0],
    "jpegparse ! nvv4l2decoder mjpeg=1",
  );
  assertEquals(
    (await plan("jetson-xavier-nx", "raw", "x265")).launch.split(" nvv4l2h265enc ")[0],
    "nvvidconv ! video/x-raw(memory:NVMM),format=NV12 !",
  );
  // NVDEC without NVENC: frames leave NVMM memory for the software encoder.
  assertEquals(
    (await plan("jetson-orin-nano", "h264", "x265")).launch,
    "nvv4l2decoder ! nvvidconv ! video/x-raw,format=I420 ! videoconvert ! x265enc " +
      "speed-preset=ultrafast tune=zerolatency key-int-max=25 bitrate=4000 ! h265parse",
  );
  assertEquals(
    (await plan("rpi4", "raw", "h264-hw")).launch,
    'videoconvert ! v4l2h264enc extra-controls="encode,video_bitrate=4000000,' +
      'h264_i_frame_period=25" ! video/x-h264,level=(string)4 ! h264parse',
  );
  assertEquals(
    (await plan("rockchip-rk3588", "h264", "x265")).launch,
    "mppvideodec ! mpph265enc bps=4000000 gop=25 rc-mode=cbr header-mode=each-idr ! h265parse",
  );
  assertEquals(
    (await plan("x86-intel", "mjpeg", "x265")).launch,
    "vajpegdec ! vah265enc bitrate=4000 key-int-max=25 b-frames=0 rate-control=cbr ! h265parse",
  );
  const pi5 = await plan("rpi5", "raw", "x265");
  assertEquals(
    pi5.launch,
    "videoconvert ! x265enc speed-preset=ultrafast tune=zerolatency key-int-max=25 bitrate=4000" +
      " ! h265parse",
  );
  assertEquals(
    pi5.reason,
    "camera sends raw frames; board rpi5 has no H.265 encoder; config fallback x265: software " +
      "encoding with x265enc (about 16 fps at 1080p on 2 x86 cores), 4000 kbit/s, keyframe every " +
      "25 frames",
  );
  assertEquals(
    (await plan("rpi5", "h265", "x265")).reason,
    "camera sends H.265: recorded as it comes, no re-encoding",
  );
  assertEquals(
    (await plan("rpi5", "h264", "h264-hw")).reason,
    "camera sends H.264; board rpi5 has no H.265 encoder; config fallback h264-hw: recorded as " +
      "it comes, no re-encoding",
  );
  assertEquals(
    (await plan("rpi5", "raw", "h264-hw")).reason,
    "camera sends raw frames; board rpi5 has no H.265 encoder and no H.264 encoder; config " +
      "fallback h264-hw: software H.264 encoding (lighter than x265) with x264enc, 4000 kbit/s, " +
      "keyframe every 25 frames",
  );
});

Deno.test("planVideo: a board whose hardware plugin is not installed falls back and says why", async () => {
  const { registry } = await fixtureBoard("rpi5");
  const plan = planVideo({ codec: "h264", fallback: "x265" }, loadProfile("jetson"), registry);
  assertEquals([plan.encoder, plan.decoder], ["x265enc", "avdec_h264"]);
  assertMatch(
    plan.reason,
    /^camera sends H\.264; board jetson cannot use its H\.265 encoder \(nvv4l2h265enc\); config fallback x265: /,
  );
  assertMatch(plan.reason, /\(passed over: nvv4l2h265enc: not installed\)$/);
  const partial = new ListRegistry(["nvv4l2h265enc", "x265enc", "videoconvert"]);
  const raw = planVideo({ codec: "raw", fallback: "x265" }, loadProfile("jetson"), partial);
  assertMatch(raw.reason, /passed over: nvv4l2h265enc: needs nvvidconv, not installed/);
});

Deno.test("planVideo: an encoder's size limit passes the work on", async () => {
  const { profile, registry } = await fixtureBoard("rpi4");
  const plan = planVideo(
    { codec: "raw", fallback: "h264-hw", width: 3840, height: 2160, fps: 30 },
    profile,
    registry,
  );
  assertEquals(plan.encoder, "x264enc");
  assertMatch(plan.reason, /passed over: v4l2h264enc: handles at most 1920x1080 at 30 fps\)$/);
  const ok = planVideo(
    { codec: "raw", fallback: "h264-hw", width: 1920, height: 1080, fps: 30 },
    profile,
    registry,
  );
  assertEquals(ok.encoder, "v4l2h264enc");
});

Deno.test("planVideo: nothing to encode or decode with is an error that says what to install", () => {
  const profile = loadProfile("rpi5");
  const bare = new ListRegistry(["videoconvert", "h264parse", "h265parse"]);
  const noEncoder = assertThrows(
    () => planVideo({ codec: "raw", fallback: "x265", camera: "garage" }, profile, bare),
    VideoPlanError,
  );
  assertEquals(
    noEncoder.message,
    "Camera 'garage' on board rpi5: no H.265 encoder can run here (x265enc: not installed); " +
      'install gstreamer1.0-plugins-bad, or set the fallback to "h264-hw"',
  );
  assertEquals([noEncoder.camera, noEncoder.board, noEncoder.name], [
    "garage",
    "rpi5",
    "VideoPlanError",
  ]);
  const noDecoder = assertThrows(
    () =>
      planVideo(
        { codec: "h264", fallback: "x265" },
        profile,
        new ListRegistry(["x265enc", "videoconvert"]),
      ),
    VideoPlanError,
  );
  assertEquals(
    noDecoder.message,
    "Board rpi5: no H.264 decoder can run here (avdec_h264: not installed); install gstreamer1.0-libav",
  );
});

Deno.test("keyframes come every second; bitrates follow size and fps", () => {
  assertEquals([keyframeInterval(30), keyframeInterval(12.5), keyframeInterval(undefined)], [
    30,
    13,
    15,
  ]);
  assertEquals(defaultBitrateKbps("h265"), 3110);
  assertEquals(defaultBitrateKbps("h264"), 4977);
  assertEquals(defaultBitrateKbps("h265", 1280, 720, 15), 691);
  assertEquals(defaultBitrateKbps("h265", 320, 240, 5), 300);
});
