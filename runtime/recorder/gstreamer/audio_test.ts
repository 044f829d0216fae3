import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import {
  decodeAll,
  probeStreams,
  runPipeline,
  videoKeyFlags,
} from "../../testing/record_pipeline.ts";
import { type AudioCodec, startVirtualCamera } from "../../../hw-tests/sim/virtual_camera.ts";
import { validateConfig } from "../../config/mod.ts";
import type { VideoPlan } from "../../board/mod.ts";
import { planAudio, probeAudio } from "./audio.ts";
import { recordingPipeline } from "./recording_pipeline.ts";
import type { SdpMedia } from "../../media/rtsp/sdp.ts";

const media = (encoding: string, extra: Partial<SdpMedia> = {}): SdpMedia => ({
  media: "audio",
  payloadType: 97,
  encoding,
  clockRate: 8000,
  channels: 1,
  fmtp: "",
  direction: "sendrecv",
  control: null,
  ...extra,
});
const video: SdpMedia = { ...media("H265"), media: "video", clockRate: 90000, channels: null };
const all = () => true;

Deno.test("planAudio: AAC kept, G.711 encoded to AAC, the rest and no audio: video only", () => {
  const aac = planAudio([video, media("PCMA"), media("MPEG4-GENERIC", { clockRate: 16000 })], all);
  assertEquals(aac.audio?.codec, "aac");
  assertEquals(aac.audio?.launch, "rtpmp4gdepay ! aacparse");
  assertEquals(aac.audio?.reason, "camera sends AAC 16000 Hz mono: recorded as it comes");

  const pcmu = planAudio([video, media("PCMU")], all).audio;
  assertEquals(
    pcmu?.launch,
    "rtppcmudepay ! mulawdec ! audioconvert ! audioresample ! voaacenc bitrate=32000 ! aacparse",
  );
  assertEquals(
    pcmu?.reason,
    "camera sends G.711 µ-law 8000 Hz mono: encoded to AAC (voaacenc, 32 kbit/s)",
  );
  const noVoaac = planAudio([media("PCMA")], (e) => e !== "voaacenc").audio;
  assertEquals([noVoaac?.encoder, noVoaac?.encoding], ["avenc_aac", "PCMA"]);

  assertEquals(planAudio([video], all), {
    audio: null,
    reason: "camera sends no audio: video only",
  });
  // A back channel (the camera's speaker) is not the camera's sound.
  assertEquals(planAudio([video, media("PCMU", { direction: "recvonly" })], all).audio, null);
  assertEquals(
    planAudio([media("G726-32"), media("", { payloadType: 101 })], all).reason,
    "camera sends G726-32, payload type 101 audio, which is not recorded (AAC and G.711 are): " +
      "video only",
  );
  assertEquals(
    planAudio([media("PCMA")], (e) => !e.includes("aacenc") && e !== "avenc_aac").reason,
    "camera sends G.711 A-law audio, but voaacenc or avenc_aac is not installed " +
      "(gstreamer1.0-plugins-good, -bad or -libav): video only",
  );
});

Deno.test("probeAudio never throws: USB cameras and unreachable cameras get video only", async () => {
  const [usb, gone] = validateConfig({
    cameras: [
      { id: "usb", url: "v4l2:///dev/video0" },
      { id: "gone", url: "rtsp://nvr:secret@127.0.0.1:1/main" },
    ],
  }).cameras;
  assertEquals(await probeAudio(usb!), { audio: null, reason: "v4l2: source: video only" });
  const probe = await probeAudio(gone!);
  assertEquals(probe.audio, null);
  assertMatch(
    probe.reason,
    /^audio not known \(RTSP DESCRIBE rtsp:\/\/127\.0\.0\.1:1\/main: cannot connect: .*\): video only$/,
  );
});

const PASSTHROUGH: VideoPlan = {
  mode: "passthrough",
  codec: "h265",
  encoder: null,
  decoder: null,
  reason: "camera sends H.265",
  launch: "",
};

/** A virtual camera recorded through the real pipeline for ~4.5 s into 2 s segments. */
async function record(audio: AudioCodec, transport: "tcp" | "udp", dir: string) {
  await using cam = await startVirtualCamera({ width: 320, height: 240, fps: 15, audio });
  const camera = validateConfig({
    cameras: [{ id: `cam-${audio}`, url: cam.rtspUrl, transport }],
  }).cameras[0]!;
  const probe = await probeAudio(camera);
  await Deno.mkdir(`${dir}/${audio}`);
  const description = recordingPipeline(camera, {
    location: `${dir}/${audio}/%05d.mp4`,
    segmentSeconds: 2,
    plan: PASSTHROUGH,
    audio: probe.audio,
  });
  await runPipeline(description, 4_500, camera.id);
  const files = [...Deno.readDirSync(`${dir}/${audio}`)].map((e) => `${dir}/${audio}/${e.name}`)
    .sort();
  return { probe, files };
}

Deno.test("audio next to the video, over TCP and UDP: AAC as it comes, G.711 as AAC, none when none", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-audio-" });
  try {
    // In parallel: each camera is its own process; about 6 s in all.
    const [aac, pcma, pcmu, none] = await Promise.all([
      record("aac", "tcp", dir),
      record("pcma", "tcp", dir),
      record("pcmu", "udp", dir),
      record("none", "tcp", dir),
    ]);
    assertEquals(aac.probe.audio?.encoder, null);
    assertEquals(pcma.probe.audio?.encoder, "voaacenc");
    assertEquals(none.probe.reason, "camera sends no audio: video only");
    const expected: [typeof aac, number | null][] = [
      [aac, 16000],
      [pcma, 8000],
      [pcmu, 8000],
      [none, null],
    ];
    for (const [{ probe, files }, rate] of expected) {
      const what = probe.reason;
      assert(files.length >= 2, `${what}: ${files.length} segments`);
      for (const [i, file] of files.entries()) {
        const streams = await probeStreams(file);
        assertEquals(
          streams.map((s) => [s.type, s.codec, s.sampleRate]),
          [["video", "hevc", null], ...(rate ? [["audio", "aac", rate]] : [])],
          `${what}: ${file}`,
        );
        // Cut on video keyframes (one a second): a full 2 s segment is two whole GOPs.
        const flags = await videoKeyFlags(file);
        assertEquals(flags[0], "K", `${what}: ${file} starts on a keyframe`);
        if (i < files.length - 1) {
          assertEquals(flags.length, 30, `${what}: ${file} frames`);
          const audio = streams.find((s) => s.type === "audio");
          if (audio) {
            assert(
              Math.abs(audio.durationSeconds - 2) < 0.2,
              `${what}: ${file} has ${audio.durationSeconds} s of audio`,
            );
          }
        }
        await decodeAll(file);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
