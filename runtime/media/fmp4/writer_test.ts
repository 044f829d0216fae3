import { assert, assertEquals, assertThrows } from "../../testing/assert.ts";
import { runCommand } from "../../testing/ffmpeg.ts";
import { scanFmp4 } from "./scan.ts";
import {
  type AccessUnit,
  accessUnits,
  encodeAac,
  encodeTestStream,
} from "../../testing/encode_fixture.ts";
import {
  type AudioSample,
  type AudioTrackConfig,
  Fmp4WriteError,
  initSegment,
  mediaFragment,
  type VideoSample,
  type VideoTrackConfig,
} from "./writer.ts";
import {
  isAccessUnitDelimiter,
  parameterSetKind,
  SpsParseError,
  type VideoCodec,
} from "../codec/h26x.ts";

const FRAME_TICKS = 6000; // 15 fps at 90 kHz
const PER_FRAGMENT = 15;

interface Track {
  readonly config: VideoTrackConfig;
  readonly samples: VideoSample[];
}

/** Parameter sets go to the init segment; samples keep the rest (slices, SEI). */
function toTrack(codec: VideoCodec, aus: AccessUnit[]): Track {
  const sets: Partial<Record<"vps" | "sps" | "pps", Uint8Array>> = {};
  const samples = aus.map((au) => {
    for (const nal of au.nals) {
      const kind = parameterSetKind(codec, nal);
      if (kind) sets[kind] ??= nal;
    }
    const nals = au.nals.filter((n) =>
      !parameterSetKind(codec, n) && !isAccessUnitDelimiter(codec, n)
    );
    return { nals, duration: FRAME_TICKS, keyframe: au.keyframe };
  });
  assert(sets.sps && sets.pps, `${codec}: no SPS/PPS`);
  const config: VideoTrackConfig = {
    codec,
    sps: sets.sps,
    pps: sets.pps,
    timescale: 90000,
    ...(sets.vps ? { vps: sets.vps } : {}),
  };
  return { config, samples };
}

/** init + fragments of 15 pictures; audio frames go with the fragment their start falls in. */
function writeFile(
  track: Track,
  audio?: { config: AudioTrackConfig; frames: Uint8Array[] },
  videoStart = 0,
): { bytes: Uint8Array; fragmentEnds: number[] } {
  const parts = [initSegment(track.config, audio?.config)];
  const fragmentEnds: number[] = [];
  let size = parts[0]!.length;
  const videoFragments = Math.ceil(track.samples.length / PER_FRAGMENT);
  const audioTicksPerFragment = audio ? audio.config.timescale * PER_FRAGMENT / 15 : 0;
  const audioFrameTicks = 1024;
  let nextAudio = 0;
  for (let f = 0; nextAudio < (audio?.frames.length ?? 0) || f < videoFragments; f++) {
    const samples = track.samples.slice(f * PER_FRAGMENT, (f + 1) * PER_FRAGMENT);
    const audioSamples: AudioSample[] = [];
    const audioBase = nextAudio * audioFrameTicks;
    if (audio) {
      const last = f >= videoFragments; // past the video: the rest, audio only
      while (
        nextAudio < audio.frames.length &&
        (last || nextAudio * audioFrameTicks < (f + 1) * audioTicksPerFragment)
      ) {
        audioSamples.push({ data: audio.frames[nextAudio++]!, duration: audioFrameTicks });
      }
    }
    const fragment = mediaFragment(
      f + 1,
      { baseTime: videoStart + f * PER_FRAGMENT * FRAME_TICKS, samples },
      audio ? { baseTime: audioBase, samples: audioSamples } : null,
    );
    parts.push(fragment);
    size += fragment.length;
    fragmentEnds.push(size);
    if (!audio && f + 1 >= videoFragments) break;
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, fragmentEnds };
}

async function probe(path: string) {
  const out = await runCommand("ffprobe", [
    "-v",
    "error",
    "-count_packets",
    "-show_streams",
    "-show_format",
    "-of",
    "json",
    path,
  ], 20_000);
  assertEquals(out.stderr, "", `ffprobe ${path}`);
  return JSON.parse(out.stdout);
}

async function assertDecodes(path: string, codec: VideoCodec): Promise<void> {
  const ff = await runCommand("ffmpeg", ["-v", "error", "-i", path, "-f", "null", "-"], 20_000);
  assertEquals([ff.code, ff.stderr], [0, ""], `ffmpeg decode of ${path}`);
  const gst = await runCommand("gst-launch-1.0", [
    "-q",
    "filesrc",
    `location=${path}`,
    "!",
    "qtdemux",
    "!",
    `${codec}parse`,
    "!",
    `avdec_${codec}`,
    "!",
    "fakesink",
  ], 20_000);
  assertEquals(gst.code, 0, `gst-launch qtdemux of ${path}: ${gst.stderr}`);
}

for (const codec of ["h264", "h265"] as const) {
  Deno.test(`${codec}: init + 3 fragments play in ffmpeg and GStreamer, scanFmp4 agrees`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "fmp4_writer_test_" });
    try {
      const stream = await encodeTestStream(dir, codec, { width: 320, height: 240, frames: 45 });
      const track = toTrack(codec, accessUnits(codec, stream));
      assertEquals(track.samples.length, 45);
      const { bytes, fragmentEnds } = writeFile(track);
      const path = `${dir}/out.mp4`;
      await Deno.writeFile(path, bytes);

      const info = await probe(path);
      assertEquals(info.streams.length, 1);
      const v = info.streams[0];
      assertEquals(
        [v.codec_name, v.codec_tag_string, v.width, v.height, v.nb_read_packets],
        [codec === "h264" ? "h264" : "hevc", codec === "h264" ? "avc1" : "hvc1", 320, 240, "45"],
      );
      assert(Math.abs(Number(info.format.duration) - 3) < 0.01, `duration ${info.format.duration}`);
      const flags = await runCommand("ffprobe", [
        "-v",
        "error",
        "-show_entries",
        "packet=flags",
        "-of",
        "csv=p=0",
        path,
      ], 20_000);
      const keys = flags.stdout.trim().split("\n").flatMap((f, i) => f.startsWith("K") ? [i] : []);
      assertEquals(keys, [0, 15, 30]);
      await assertDecodes(path, codec);

      const scan = await scanFmp4(path);
      assertEquals(scan, {
        isMp4: true,
        completeBytes: bytes.length,
        fragments: 3,
        frames: 45,
        durationSeconds: 3,
      });
      // Cut in the middle of the last fragment: only the complete ones count.
      const cutPath = `${dir}/cut.mp4`;
      await Deno.writeFile(cutPath, bytes.subarray(0, (fragmentEnds[1]! + fragmentEnds[2]!) >> 1));
      assertEquals(await scanFmp4(cutPath), {
        isMp4: true,
        completeBytes: fragmentEnds[1]!,
        fragments: 2,
        frames: 30,
        durationSeconds: 2,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("h265 + AAC: both streams with their durations, audio-only last fragment", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fmp4_writer_test_" });
  try {
    const [stream, aac] = await Promise.all([
      encodeTestStream(dir, "h265", { width: 320, height: 240, frames: 45 }),
      encodeAac(dir, 3, 16000),
    ]);
    assertEquals([aac.sampleRate, aac.channels], [16000, 1]);
    const track = toTrack("h265", accessUnits("h265", stream));
    const audio: AudioTrackConfig = {
      codec: "aac",
      config: aac.config,
      sampleRate: aac.sampleRate,
      channels: aac.channels,
      timescale: aac.sampleRate,
    };
    // 3 s of AAC is more than 46 frames of 1024 samples (encoder priming adds some): the
    // last fragment holds audio only.
    assert(aac.frames.length * 1024 > 3 * 16000, `${aac.frames.length} AAC frames`);
    const { bytes } = writeFile(track, { config: audio, frames: aac.frames });
    const path = `${dir}/av.mp4`;
    await Deno.writeFile(path, bytes);

    const info = await probe(path);
    const [v, a] = info.streams;
    assertEquals([v.codec_name, v.width, v.height, v.nb_read_packets], ["hevc", 320, 240, "45"]);
    assert(Math.abs(Number(v.duration) - 3) < 0.01, `video duration ${v.duration}`);
    assertEquals(
      [a.codec_name, a.sample_rate, a.channels, a.nb_read_packets],
      ["aac", "16000", 1, String(aac.frames.length)],
    );
    const audioSeconds = aac.frames.length * 1024 / 16000;
    assert(Math.abs(Number(a.duration) - audioSeconds) < 0.01, `audio duration ${a.duration}`);
    await assertDecodes(path, "h265");
    const scan = await scanFmp4(path);
    assertEquals([scan.fragments, scan.frames, scan.durationSeconds], [4, 45, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("base decode times beyond 2^32 are written as 64 bits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fmp4_writer_test_" });
  try {
    const stream = await encodeTestStream(dir, "h264", { width: 160, height: 120, frames: 30 });
    const track = toTrack("h264", accessUnits("h264", stream));
    const start = 2 ** 33 + 12345 * 6000; // ~26.5 hours of 90 kHz ticks past 2^32 twice over
    const { bytes } = writeFile(track, undefined, start);
    const path = `${dir}/late.mp4`;
    await Deno.writeFile(path, bytes);
    const info = await probe(path);
    const v = info.streams[0];
    assertEquals(v.nb_read_packets, "30");
    assert(Math.abs(Number(v.start_time) - start / 90000) < 0.001, `start ${v.start_time}`);
    const scan = await scanFmp4(path);
    assertEquals([scan.fragments, scan.frames, scan.durationSeconds], [2, 30, 2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mediaFragment: one exact buffer, box layout, refusals", () => {
  const nal = (n: number) => new Uint8Array(n).fill(0x42);
  const samples: VideoSample[] = [
    { nals: [Uint8Array.of(0x65, 1, 2), nal(10)], duration: 3000, keyframe: true },
    { nals: [Uint8Array.of(0x41, 3)], duration: 3000, keyframe: false },
  ];
  const out = mediaFragment(7, { baseTime: 2 ** 40 + 5, samples }, {
    baseTime: 0,
    samples: [{ data: Uint8Array.of(9, 9, 9), duration: 1024 }],
  });
  assertEquals(out.byteOffset, 0);
  assertEquals(out.buffer.byteLength, out.length);
  const view = new DataView(out.buffer);
  const moofSize = view.getUint32(0);
  const type = (at: number) => String.fromCharCode(...out.subarray(at + 4, at + 8));
  assertEquals([type(0), type(moofSize)], ["moof", "mdat"]);
  assertEquals(moofSize + view.getUint32(moofSize), out.length);
  assertEquals(view.getUint32(8 + 12), 7, "mfhd sequence");
  // mdat: length-prefixed NAL units of both pictures, then the audio frame.
  assertEquals(
    [...out.subarray(moofSize + 8)],
    [0, 0, 0, 3, 0x65, 1, 2, 0, 0, 0, 10, ...nal(10), 0, 0, 0, 2, 0x41, 3, 9, 9, 9],
  );
  // tfdt of the video traf: version 1, 2^40 + 5.
  const tfdt = 8 + 16 + 8 + 16;
  assertEquals(type(tfdt), "tfdt");
  assertEquals([out[tfdt + 8], view.getBigUint64(tfdt + 12)], [1, 2n ** 40n + 5n]);

  const audioOnly = mediaFragment(1, { baseTime: 0, samples: [] }, {
    baseTime: 0,
    samples: [{ data: Uint8Array.of(1), duration: 1024 }],
  });
  assertEquals(type(8 + 16), "traf");
  assertEquals(new DataView(audioOnly.buffer).getUint32(8 + 16 + 8 + 12), 2, "audio track id");

  assertThrows(() => mediaFragment(1, { baseTime: 0, samples: [] }), Fmp4WriteError, "at least");
  assertThrows(
    () => mediaFragment(1, { baseTime: -1, samples }),
    Fmp4WriteError,
    "base time -1",
  );
  assertThrows(
    () => mediaFragment(1, { baseTime: 0, samples: [{ nals: [], duration: 1.5, keyframe: true }] }),
    Fmp4WriteError,
    "duration 1.5",
  );
});

Deno.test("mediaFragment: composition offsets go in a version 1 trun, signed; none: no field", () => {
  const sample = (cto: number): VideoSample => ({
    nals: [Uint8Array.of(0x41, 1)],
    duration: 3000,
    keyframe: false,
    compositionOffset: cto,
  });
  const out = mediaFragment(1, { baseTime: 0, samples: [sample(0), sample(6000), sample(-3000)] });
  const view = new DataView(out.buffer);
  const trun = 8 + 16 + 8 + 16 + 20;
  assertEquals(String.fromCharCode(...out.subarray(trun + 4, trun + 8)), "trun");
  assertEquals(out[trun + 8], 1, "version 1");
  assertEquals(view.getUint32(trun + 8) & 0x800, 0x800, "sample-composition-time-offset");
  assertEquals(view.getUint32(trun), 20 + 3 * 16);
  const ctos = [0, 1, 2].map((i) => view.getInt32(trun + 20 + i * 16 + 12));
  assertEquals(ctos, [0, 6000, -3000]);
  const plain = mediaFragment(1, { baseTime: 0, samples: [sample(0), sample(0)] });
  assertEquals(plain[trun + 8], 0, "version 0");
  assertEquals(new DataView(plain.buffer).getUint32(trun), 20 + 2 * 12, "no offset field");
});

Deno.test("initSegment refuses an H.265 track without VPS and a damaged SPS", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fmp4_writer_test_" });
  try {
    const stream = await encodeTestStream(dir, "h265", { width: 160, height: 120, frames: 1 });
    const { config } = toTrack("h265", accessUnits("h265", stream));
    assert(config.vps);
    const { vps: _, ...noVps } = config;
    assertThrows(() => initSegment(noVps), Fmp4WriteError, "needs its VPS");
    assertThrows(
      () => initSegment({ ...config, sps: config.sps.subarray(0, 8) }),
      SpsParseError,
      "H.265 SPS",
    );
    assertThrows(() => initSegment({ ...config, pps: config.sps }), Fmp4WriteError, "PPS");
    const init = initSegment(config);
    assertEquals(String.fromCharCode(...init.subarray(4, 12)), "ftypiso5");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
