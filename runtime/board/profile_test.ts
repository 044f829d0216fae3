import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { BOARD_IDS } from "./detect.ts";
import {
  buildProfile,
  COMMON_PROFILE_FILE,
  fillTemplate,
  loadProfile,
  PROFILE_FILES,
  ProfileError,
} from "./profile.ts";

Deno.test("every board id has a profile, and every profile file is loaded", async () => {
  const files: string[] = [];
  for await (const e of Deno.readDir(new URL("./profiles/", import.meta.url))) files.push(e.name);
  assertEquals(files.sort(), [...BOARD_IDS.map((id) => `${id}.json`), "common.json"].sort());
  for (const id of BOARD_IDS) assertEquals(loadProfile(id).id, id);
});

Deno.test("a profile is the board's hardware elements, then the common software ones", () => {
  const jetson = loadProfile("jetson");
  assertEquals(jetson.encoders.h265.map((e) => [e.element, e.hardware]), [
    ["nvv4l2h265enc", true],
    ["x265enc", false],
  ]);
  assertEquals(jetson.encoders.h264.map((e) => e.element), [
    "nvv4l2h264enc",
    "x264enc",
    "openh264enc",
  ]);
  assertEquals(jetson.decoders.mjpeg.map((d) => [d.element, d.props, d.before]), [
    ["nvv4l2decoder", "mjpeg=1", "jpegparse"],
    ["jpegdec", "", ""],
  ]);
  const generic = loadProfile("generic");
  assert(Object.values(generic.encoders).flat().every((e) => !e.hardware));
  assert(Object.values(generic.decoders).flat().every((d) => !d.hardware));
});

Deno.test("the Orin Nano profile extends jetson: NVDEC kept, no NVENC, its own notes", () => {
  const nano = loadProfile("jetson-orin-nano");
  assertEquals(nano.name, "NVIDIA Jetson Orin Nano (no NVENC)");
  assertEquals(nano.encoders.h265.map((e) => e.element), ["x265enc"]);
  assertEquals(nano.encoders.h264.map((e) => e.element), ["x264enc", "openh264enc"]);
  assertEquals(nano.decoders.h264.map((d) => d.element), ["nvv4l2decoder", "avdec_h264"]);
  assertEquals(nano.decoders.mjpeg.map((d) => d.element), ["jpegdec"]);
  assert(nano.notes[0]?.startsWith("No NVENC"));
});

Deno.test("fillTemplate puts in bits, kilobits and the keyframe interval", () => {
  assertEquals(
    fillTemplate('extra-controls="encode,video_bitrate={bps},h264_i_frame_period={gop}"', {
      kbps: 2500,
      gop: 25,
    }),
    'extra-controls="encode,video_bitrate=2500000,h264_i_frame_period=25"',
  );
  assertEquals(
    fillTemplate("bitrate={kbps} key-int-max={gop}", { kbps: 999.6, gop: 15 }),
    "bitrate=1000 key-int-max=15",
  );
});

Deno.test("a bad profile names the file, each bad key, the value and what is allowed", () => {
  const files = {
    acme: {
      id: "acme2",
      name: "",
      colour: "red",
      h265Encoders: [
        { element: "Bad Enc", props: "bitrate={mbps}", maxFps: 0, port: 1 },
        "x265enc",
      ],
      mjpegDecoders: { element: "jpegdec" },
    },
  };
  const err = assertThrows(() => buildProfile("acme", files, COMMON_PROFILE_FILE), ProfileError);
  assertEquals(err.file, "profiles/acme.json");
  assertEquals(
    err.message,
    [
      "Board profile profiles/acme.json is invalid:",
      "  - unknown key 'colour'; allowed: id, extends, name, notes, transcode, h265Encoders, " +
      "h264Encoders, h265Decoders, h264Decoders, mjpegDecoders",
      `  - 'id' is "acme2"; it must be the file name, "acme"`,
      `  - 'name' is ""; it must be a non-empty string`,
      "  - 'h265Encoders[0].port' is not a key; allowed: element, props, convert, linksFrom, caps, " +
      "maxWidth, maxHeight, maxFps, speed, package",
      `  - 'h265Encoders[0].element' is "Bad Enc"; it must be a GStreamer factory name like "x265enc"`,
      "  - 'h265Encoders[0].maxFps' is 0; it must be a positive whole number",
      "  - 'h265Encoders[0].props' uses {mbps}; allowed: {bps}, {kbps}, {gop}",
      "  - 'h265Encoders[1]' must be an object",
      "  - 'mjpegDecoders' must be a list",
      "Fix the file (see runtime/board/README.md for the keys).",
    ].join("\n"),
  );
});

Deno.test("extends must name a profile and must not loop", () => {
  const loop = {
    a: { id: "a", extends: "rpi4", name: "A" },
    rpi4: { id: "rpi4", extends: "rpi5", name: "B" },
    rpi5: { id: "rpi5", extends: "rpi4", name: "C" },
  };
  assertThrows(() => buildProfile("a", loop, COMMON_PROFILE_FILE), ProfileError, "makes a loop");
  const unknown = { a: { id: "a", extends: "nope", name: "A" } };
  assertThrows(
    () => buildProfile("a", unknown, COMMON_PROFILE_FILE),
    ProfileError,
    `'extends' is "nope"; allowed: rpi4, rpi5`,
  );
  assertThrows(
    () => buildProfile("zz", PROFILE_FILES, COMMON_PROFILE_FILE),
    ProfileError,
    "missing",
  );
});

Deno.test("transcode capacity: the board's own where it has one, common.json's software one always", () => {
  assertEquals(loadProfile("rockchip").transcode.hardware?.maxSessions, 4);
  assertEquals(loadProfile("jetson").transcode.hardware?.maxSessions, 4);
  assertEquals(loadProfile("x86").transcode.hardware?.maxSessions, 4);
  assertEquals(loadProfile("rpi4").transcode.hardware?.maxSessions, 2);
  // Boards without a hardware H.264 encoder have no number of their own; the Orin Nano drops
  // the one of the jetson profile it extends.
  for (const id of ["generic", "rpi5", "jetson-orin-nano"] as const) {
    assertEquals(loadProfile(id).transcode.hardware, null, id);
  }
  for (const id of BOARD_IDS) {
    const p = loadProfile(id);
    assertEquals(p.transcode.software.maxSessions, 2, `${id}: measured, docs/benchmarks.md`);
    // A board's number is argued from a document until someone measures it on the board.
    if (p.transcode.hardware) assert(p.transcode.hardware.basis.includes("needs the board"), id);
    // Only boards whose profile lists a hardware H.264 encoder (what a transcode encodes with).
    assertEquals(p.transcode.hardware !== null, p.encoders.h264.some((e) => e.hardware), id);
  }
});

Deno.test("a bad transcode capacity names the key, the value and what is allowed", () => {
  const files = {
    acme: { id: "acme", name: "Acme", transcode: { maxSessions: 17, why: "x" } },
    beta: { id: "beta", name: "Beta", transcode: 4 },
  };
  const acme = assertThrows(() => buildProfile("acme", files, COMMON_PROFILE_FILE), ProfileError);
  assertEquals(acme.message.split("\n").slice(1, -1), [
    "  - 'transcode.why' is not a key; allowed: maxSessions, basis",
    "  - 'transcode.maxSessions' is 17; it must be a whole number from 0 to 16",
    "  - 'transcode.basis' is missing; say where the number comes from (measured, or the " +
    "vendor's document)",
  ]);
  assertThrows(
    () => buildProfile("beta", files, COMMON_PROFILE_FILE),
    ProfileError,
    "'transcode' must be an object { maxSessions, basis } or null",
  );
  const { transcode: _, ...common } = COMMON_PROFILE_FILE as Record<string, unknown>;
  assertThrows(
    () => buildProfile("generic", PROFILE_FILES, common),
    ProfileError,
    "profiles/common.json is invalid:\n  - 'transcode' is missing; it must be the software " +
      "transcode's cap",
  );
});
