import { assert, assertEquals, assertMatch, assertThrows } from "../../testing/assert.ts";
import { runCommand } from "../../testing/ffmpeg.ts";
import { accessUnits, encodeTestStream } from "../../testing/encode_fixture.ts";
import {
  isAccessUnitDelimiter,
  isFirstSliceOfPicture,
  isKeyframeNal,
  nalType,
  parameterSetKind,
  parseSps,
  splitAnnexB,
  SpsParseError,
  unescapeRbsp,
  type VideoCodec,
} from "./h26x.ts";

function firstSps(codec: VideoCodec, stream: Uint8Array): Uint8Array {
  const sps = splitAnnexB(stream).find((n) => parameterSetKind(codec, n) === "sps");
  assert(sps, `no ${codec} SPS in the stream`);
  return sps;
}

Deno.test("NAL types of both codecs", () => {
  const h264 = (type: number) => Uint8Array.of(0x60 | type, 0x88);
  const h265 = (type: number) => Uint8Array.of(type << 1, 0x01, 0x80);
  assertEquals(nalType("h264", h264(5)), 5);
  assertEquals(nalType("h265", h265(19)), 19);
  assertEquals(nalType("h264", new Uint8Array()), -1);
  assert(isKeyframeNal("h264", h264(5)));
  assert(!isKeyframeNal("h264", h264(1)));
  for (let t = 0; t < 64; t++) assertEquals(isKeyframeNal("h265", h265(t)), t >= 16 && t <= 23);
  assertEquals([7, 8, 1].map((t) => parameterSetKind("h264", h264(t))), ["sps", "pps", null]);
  assertEquals(
    [32, 33, 34, 1].map((t) => parameterSetKind("h265", h265(t))),
    ["vps", "sps", "pps", null],
  );
  assert(isAccessUnitDelimiter("h264", h264(9)));
  assert(isAccessUnitDelimiter("h265", h265(35)));
  assert(!isAccessUnitDelimiter("h265", h265(9)));
  assert(isFirstSliceOfPicture("h264", h264(1)));
  assert(!isFirstSliceOfPicture("h264", Uint8Array.of(0x61, 0x40)));
  assert(isFirstSliceOfPicture("h265", h265(1)));
  assert(!isFirstSliceOfPicture("h265", h265(33)), "an SPS is not a slice");
});

Deno.test("splitAnnexB: 3- and 4-byte start codes, subarrays without copies", () => {
  const bytes = Uint8Array.of(
    0xaa, // garbage before the first start code is dropped
    0,
    0,
    0,
    1,
    0x67,
    1,
    2,
    0,
    0,
    1,
    0x68,
    3,
    0,
    0,
    0,
    1, // 4-byte start code: its leading zero is not part of the previous unit
    0x65,
    0,
    0,
    3,
    0,
    9,
    0,
    0, // trailing zeros
  );
  const units = splitAnnexB(bytes);
  assertEquals(units.map((u) => [...u]), [[0x67, 1, 2], [0x68, 3], [0x65, 0, 0, 3, 0, 9]]);
  for (const u of units) assert(u.buffer === bytes.buffer, "a unit was copied");
  assertEquals(splitAnnexB(Uint8Array.of(1, 2, 3)), []);
  assertEquals(splitAnnexB(Uint8Array.of(0, 0, 1)), []);
  assertEquals([...unescapeRbsp(Uint8Array.of(0x65, 0, 0, 3, 0, 0, 3, 1))], [
    0x65,
    0,
    0,
    0,
    0,
    1,
  ]);
});

Deno.test("parseSps on real x264/x265 streams: sizes, cropping and codec strings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "h26x_test_" });
  try {
    for (const codec of ["h264", "h265"] as const) {
      const stream = await encodeTestStream(dir, codec, { width: 320, height: 240, frames: 2 });
      const sps = firstSps(codec, stream);
      const info = parseSps(codec, sps);
      assertEquals([info.width, info.height, info.codedWidth, info.codedHeight], [
        320,
        240,
        320,
        240,
      ]);
      assertEquals([info.chromaFormatIdc, info.bitDepthLuma, info.bitDepthChroma], [1, 8, 8]);
      // What ffprobe reads from the same stream.
      const path = `${dir}/probe.${codec}`;
      await Deno.writeFile(path, stream);
      const probe = await runCommand("ffprobe", [
        "-v",
        "error",
        "-show_entries",
        "stream=profile,level",
        "-of",
        "json",
        path,
      ], 10_000);
      const stream0 = JSON.parse(probe.stdout).streams[0];
      assertEquals(info.levelIdc, stream0.level, `${codec} level`);
      if (codec === "h264") {
        const hex = [...sps.subarray(1, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
        assertEquals(info.codecString, `avc1.${hex}`);
        assertEquals(stream0.profile, "Constrained Baseline");
        assertEquals(info.profileIdc, 66);
      } else {
        assertEquals(stream0.profile, "Main");
        // Main profile (1), compatible with Main and Main 10 (flags 1 and 2, reversed: 6),
        // main tier, progressive_source and frame_only constraint flags (0x90).
        assertEquals(info.codecString, `hvc1.1.6.L${info.levelIdc}.90`);
        assertEquals([info.profileSpace, info.tierFlag, info.profileIdc], [0, 0, 1]);
        assertEquals(info.profileCompatibilityFlags, 0x60000000);
        assertEquals([...info.constraintIndicatorFlags], [0x90, 0, 0, 0, 0, 0]);
      }
      // Sizes that are not multiples of the coding block are cropped back.
      for (const [w, h, coded] of [[1920, 1080, 1088], [322, 242, 256]] as const) {
        const big = parseSps(
          codec,
          firstSps(codec, await encodeTestStream(dir, codec, { width: w, height: h, frames: 1 })),
        );
        assertEquals([big.width, big.height, big.codedHeight], [w, h, coded], `${codec} ${w}x${h}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("access units of a real stream: keyframes every 15 pictures", async () => {
  const dir = await Deno.makeTempDir({ prefix: "h26x_test_" });
  try {
    for (const codec of ["h264", "h265"] as const) {
      const stream = await encodeTestStream(dir, codec, { width: 160, height: 120, frames: 31 });
      const aus = accessUnits(codec, stream);
      assertEquals(aus.length, 31, codec);
      assertEquals(aus.flatMap((a, i) => a.keyframe ? [i] : []), [0, 15, 30], codec);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** xorshift32: reproducible noise without module state. */
function noise(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) & 0xff;
  };
}

Deno.test("parseSps on garbage and truncated SPSs throws SpsParseError, never hangs", async () => {
  const started = performance.now();
  for (const codec of ["h264", "h265"] as const) {
    const next = noise(codec === "h264" ? 0x1234567 : 0x7654321);
    let parsed = 0;
    for (let i = 0; i < 5000; i++) {
      const bytes = new Uint8Array(1 + (next() % 64));
      for (let j = 0; j < bytes.length; j++) bytes[j] = next();
      if (codec === "h264") bytes[0] = 0x67;
      else bytes.set([0x42, 0x01].slice(0, bytes.length), 0);
      try {
        const info = parseSps(codec, bytes);
        assert(info.width >= 1 && info.width <= 16384 && info.height >= 1 && info.height <= 16384);
        parsed++;
      } catch (err) {
        assert(err instanceof SpsParseError, `${codec}: ${err}`);
      }
    }
    assert(parsed < 5000, "some noise must be refused");
    const zeros = new Uint8Array(200);
    zeros.set(codec === "h264" ? [0x67] : [0x42, 0x01]);
    assertThrows(() => parseSps(codec, zeros), SpsParseError, "exp-Golomb");
    const notSps = assertThrows(() => parseSps(codec, Uint8Array.of(0x65, 0x88)), SpsParseError);
    assertMatch(notSps.message, /NAL unit type \d+ is not an SPS/);
    assertEquals(notSps.name, "SpsParseError");
    assertThrows(() => parseSps(codec, new Uint8Array()), SpsParseError, "empty");
  }
  // Truncations of real SPSs: a cut before the size fields throws, a later one (in the VUI)
  // may still give the full answer, nothing else.
  const dir = await Deno.makeTempDir({ prefix: "h26x_test_" });
  try {
    for (const codec of ["h264", "h265"] as const) {
      const sps = firstSps(
        codec,
        await encodeTestStream(dir, codec, { width: 1920, height: 1080, frames: 1 }),
      );
      const full = parseSps(codec, sps);
      for (let cut = 0; cut < sps.length; cut++) {
        try {
          const info = parseSps(codec, sps.subarray(0, cut));
          assertEquals([info.width, info.height], [full.width, full.height]);
          assert(cut > 6, `${codec} SPS cut at ${cut} bytes parsed`);
        } catch (err) {
          assert(err instanceof SpsParseError, `${codec} cut at ${cut}: ${err}`);
          if (cut >= 2) assertMatch(err.message, /truncated at bit \d+ of \d+ while reading \w/);
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert(performance.now() - started < 8000, "garbage parsing took too long");
});
