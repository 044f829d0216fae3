/** The H.265 → H.264 transcode plan per board (transcode_plan.ts): pure, a fixed element list. */
import { assert, assertEquals, assertMatch, assertThrows } from "../testing/assert.ts";
import { loadProfile } from "./profile.ts";
import type { BoardId } from "./detect.ts";
import { detectBoard } from "./detect.ts";
import { ListRegistry, loadRegistryFiles, profileElements } from "./registry.ts";
import { planTranscode, transcodeCapacity, TranscodePlanError } from "./transcode_plan.ts";

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

const testdata = new URL("./testdata/", import.meta.url).pathname;

/** The cap a box would have: its board from the fixture /sys and /proc, its GStreamer registry. */
async function capOf(fixture: string, registry: string[]) {
  const board = await detectBoard({
    sysRoot: `${testdata}${fixture}/sys`,
    procRoot: `${testdata}${fixture}/proc`,
  });
  const profile = loadProfile(board.id);
  const reg = await loadRegistryFiles(...registry.map((r) => `${testdata}${r}`));
  let plan = null;
  try {
    plan = planTranscode(profile, reg);
  } catch (err) {
    if (!(err instanceof TranscodePlanError)) throw err;
  }
  const cap = transcodeCapacity(profile, plan);
  return { board: board.id, encoder: plan?.encoder ?? null, max: cap.maxSessions, cap };
}

Deno.test("transcode cap from the board profile: fixture boards with and without their encoder", async () => {
  const hw = (f: string) => [`${f}/registry.txt`, "software.txt"];
  const rk = await capOf("rockchip-rk3588", hw("rockchip-rk3588"));
  assertEquals([rk.board, rk.encoder, rk.max], ["rockchip", "mpph264enc", 4]);
  assertEquals(rk.cap.source, 'board profile "rockchip" (hardware encoder mpph264enc)');
  assertMatch(rk.cap.basis, /not measured here — needs the board\. Rockchip's data sheets/);
  const xavier = await capOf("jetson-xavier-nx", hw("jetson-xavier-nx"));
  assertEquals([xavier.board, xavier.encoder, xavier.max], ["jetson", "nvv4l2h264enc", 4]);
  const x86 = await capOf("x86-intel", hw("x86-intel"));
  assertEquals([x86.board, x86.encoder, x86.max], ["x86", "vah264enc", 4]);
  const pi4 = await capOf("rpi4", hw("rpi4"));
  assertEquals([pi4.board, pi4.encoder, pi4.max], ["rpi4", "v4l2h264enc", 2]);
  // No hardware H.264 encoder: the software transcode's measured cap.
  for (const f of ["rpi5", "jetson-orin-nano"]) {
    const c = await capOf(f, hw(f));
    assertEquals([c.encoder, c.max], ["x264enc", 2], f);
    assertEquals(
      c.cap.source,
      `board profile "${c.board}" (software encoder x264enc; ` +
        "profiles/common.json)",
    );
    assertMatch(c.cap.basis, /^measured here/);
  }
  // An RK3588 image without the Rockchip plugin transcodes with x264enc: not the board's 4.
  const bare = await capOf("rockchip-rk3588", ["software.txt"]);
  assertEquals([bare.board, bare.encoder, bare.max], ["rockchip", "x264enc", 2]);
  // No H.265 decoder at all: no plan; the software number stands (nothing can be transcoded).
  const none = transcodeCapacity(loadProfile("generic"), null);
  assertEquals([none.maxSessions, none.source], [
    2,
    'board profile "generic" (no transcode plan; profiles/common.json)',
  ]);
});
