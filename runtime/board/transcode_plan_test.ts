/** The H.265 → H.264 transcode plan per board (transcode_plan.ts): pure, a fixed element list. */
import { assert, assertEquals, assertMatch, assertThrows } from "../testing/assert.ts";
import { loadProfile } from "./profile.ts";
import type { BoardId } from "./detect.ts";
import { ListRegistry, profileElements } from "./registry.ts";
import { planTranscode, TranscodePlanError } from "./transcode_plan.ts";

const everything = (id: BoardId) => new ListRegistry(profileElements(loadProfile(id)));

Deno.test("transcode plan: the board's hardware H.264 encoder first, software at ≤ 640 px otherwise", () => {
  const pi = planTranscode(loadProfile("rpi4"), everything("rpi4"));
  assertEquals([pi.encoder, pi.hardware], ["v4l2h264enc", true]);
  assertMatch(pi.launch, /video_bitrate=800000,h264_i_frame_period=30/);
  const generic = planTranscode(loadProfile("generic"), everything("generic"));
  assertEquals([generic.decoder, generic.encoder, generic.hardware], [
    "avdec_h265",
    "x264enc",
    false,
  ]);
  assertMatch(generic.chain, /width=\[16,640\]/);
  assertMatch(generic.chain, /x264enc speed-preset=ultrafast tune=zerolatency key-int-max=30/);
  assert(generic.launch.startsWith("appsrc name=in") && generic.launch.endsWith("drop=false"));
  assert(generic.launch.includes(generic.chain), "the live pipeline wraps the same chain");
});

Deno.test("transcode plan: a board without an H.265 decoder is named with the package to install", () => {
  const names = profileElements(loadProfile("generic")).filter((n) => n !== "avdec_h265");
  const err = assertThrows(
    () => planTranscode(loadProfile("generic"), new ListRegistry(names)),
    TranscodePlanError,
  );
  assertMatch(err.message, /^Board generic cannot transcode H\.265 to H\.264 .*no H\.265 decoder/);
  assertMatch(err.message, /install /);
});
