/**
 * On a real board: the profile's encoders are installed and really encode (smoke test), and an
 * element the profile leaves out on purpose (the Orin Nano's nvv4l2h265enc) really fails.
 */
import { assert } from "../../runtime/testing/assert.ts";
import {
  EncoderSmokeTests,
  fillTemplate,
  loadProfile,
  planVideo,
  probeRegistry,
  type SmokeResult,
} from "../../runtime/board/mod.ts";
import { requireBoard } from "./board_args.ts";

/** Installed by the vendor's packages but not usable on these boards. */
const KNOWN_BROKEN: Record<string, readonly string[]> = {
  "jetson-orin-nano": ["nvv4l2h265enc", "nvv4l2h264enc"],
};

Deno.test("board encoders: present, and the planned ones really encode", async () => {
  const { info, args } = await requireBoard();
  const profile = loadProfile(info.id);
  const registry = probeRegistry(profile);
  const smoke = new EncoderSmokeTests();
  console.log(`board ${info.id}: ${info.model} (from ${info.source})`);

  const results = new Map<string, SmokeResult>();
  for (const spec of [...profile.encoders.h265, ...profile.encoders.h264]) {
    if (!registry.has(spec.element)) {
      console.log(`  ${spec.element}: not installed`);
      continue;
    }
    const props = fillTemplate(spec.props, { kbps: 2000, gop: 30 });
    const result = await smoke.run(spec.element, props, { convert: spec.convert });
    results.set(spec.element, result);
    console.log(
      `  ${spec.element}: ${result.ok ? "works" : `FAILS: ${result.error}`} (${result.ms} ms)`,
    );
  }

  for (const codec of ["h265", "h264"] as const) {
    const hardware = profile.encoders[codec].filter((e) => e.hardware);
    if (hardware.length === 0) continue;
    assert(
      hardware.some((e) => registry.has(e.element)),
      `none of the board's ${codec} encoders is installed (${
        hardware.map((e) => e.element).join(", ")
      }): install the vendor's GStreamer plugin (see runtime/board/README.md)`,
    );
  }

  for (const fallback of new Set([args.fallback, "x265", "h264-hw"] as const)) {
    const plan = planVideo({ codec: "raw", fallback, fps: 30 }, profile, registry);
    const result = plan.encoder ? results.get(plan.encoder) : undefined;
    console.log(`  raw camera, fallback ${fallback}: ${plan.reason}`);
    assert(
      result?.ok,
      `the planned encoder ${plan.encoder} does not work: ${result?.error ?? "not tested"}\n` +
        `  ${result?.description ?? ""}\nFix the board's GStreamer install or its profile ` +
        `(runtime/board/profiles/${profile.id}.json).`,
    );
  }

  for (const element of KNOWN_BROKEN[info.id] ?? []) {
    if (!registry.has(element)) continue;
    const result = await smoke.run(element, "");
    console.log(`  ${element} (left out of the profile): ${result.ok ? "works" : result.error}`);
    assert(
      !result.ok,
      `${element} works on this ${info.model}: the profile leaves it out as broken; add it to ` +
        `runtime/board/profiles/${profile.id}.json`,
    );
  }
});
