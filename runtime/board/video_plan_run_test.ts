/** The planned software fragments, run for real through GStreamer on this machine. */
import { assertEquals } from "../testing/assert.ts";
import { ffprobe } from "../testing/ffprobe.ts";
import { Pipeline } from "../gst/mod.ts";
import { loadProfile } from "./profile.ts";
import { probeRegistry } from "./registry.ts";
import { type EncodeFallback, joinLaunch, planVideo, type SourceCodec } from "./video_plan.ts";
import { packetFlags } from "../testing/ffprobe.ts";

const FRAMES = "videotestsrc num-buffers=30 pattern=ball";
const SIZE = "width=320,height=240,framerate=15/1";
/** Stand-ins for what each source delivers before the plan's fragment. */
const SOURCES: Record<Exclude<SourceCodec, "h265">, string> = {
  raw: `${FRAMES} ! video/x-raw,format=YUY2,${SIZE}`,
  // Webcams send 4:2:2 JPEG: jpegdec gives Y42B, which no encoder takes as it is.
  mjpeg: `${FRAMES} ! video/x-raw,format=Y42B,${SIZE} ! jpegenc ! image/jpeg,${SIZE}`,
  h264: `${FRAMES} ! video/x-raw,${SIZE} ! x264enc key-int-max=15 ! h264parse`,
};

async function run(description: string): Promise<void> {
  await using pipeline = Pipeline.parse(description, { name: "plan-run" });
  pipeline.play();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const msg = await pipeline.next(200);
    if (msg?.type === "eos") return;
    if (msg?.type === "error") throw new Error(`${msg.source}: ${msg.message}\n${description}`);
  }
  throw new Error(`no EOS within 20 s: ${description}`);
}

async function keyframes(path: string): Promise<number> {
  return (await packetFlags(path)).filter((l) => l.startsWith("K")).length;
}

Deno.test("the software plans of a board without encoders record real files", async (t) => {
  const profile = loadProfile("generic");
  const registry = probeRegistry(profile);
  const dir = await Deno.makeTempDir({ prefix: "plan-run-" });
  try {
    for (const [codec, source] of Object.entries(SOURCES) as [keyof typeof SOURCES, string][]) {
      for (const fallback of ["x265", "h264-hw"] as EncodeFallback[]) {
        await t.step(`${codec}, fallback ${fallback}`, async () => {
          const plan = planVideo({ codec, fallback, fps: 15, bitrateKbps: 300 }, profile, registry);
          const file = `${dir}/${codec}-${fallback}.mp4`;
          await run(joinLaunch(source, plan.launch, `mp4mux ! filesink location=${file}`));
          const probe = await ffprobe(file);
          assertEquals([probe.codec, probe.frames], [plan.codec === "h265" ? "hevc" : "h264", 30]);
          // One keyframe a second at 15 fps: frames 0 and 15 (the camera's own GOP when kept).
          assertEquals(await keyframes(file), 2);
        });
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
