/**
 * Cost of the H.265 → H.264 transcode for browsers without H.265 (board/transcode_plan.ts, the
 * "generic" board: avdec_h265, videoscale to 640 px, x264enc ultrafast zerolatency): a camera's
 * H.265 stream (1280×720 and 1920×1080, 15 fps, GOP 2 s, made once by x265enc) pushed through
 * the live transcoder (playback/transcoder.ts, the same class live view uses) at the camera's own
 * pace, ROUNDS rounds of SECONDS each. CPU of this process (GStreamer runs in it) over the run,
 * as a share of one core: what one running transcode costs the box. The box's cap
 * (http.transcodesMax) comes from it: docs/benchmarks.md, "transcode".
 *
 *   flock /tmp/nvr-heavy.lock deno run -A bench/transcode.ts [--seconds 20] [--rounds 3]
 */
import { Pipeline } from "../runtime/gst/mod.ts";
import { loadProfile } from "../runtime/board/profile.ts";
import { GstRegistry } from "../runtime/board/registry.ts";
import { planTranscode } from "../runtime/board/transcode_plan.ts";
import { Transcoder } from "../runtime/playback/transcoder.ts";
import { ensureLoopClip } from "../hw-tests/sim/loop_clip.ts";

const arg = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
};
const SECONDS = arg("seconds", 20);
const ROUNDS = arg("rounds", 3);
const FPS = 15;
const cpuMs = () => {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // utime + stime in 10 ms ticks
};

/**
 * SECONDS of a camera's H.265 access units (Annex-B, parameter sets before keyframes): a cached
 * clip with sensor-like noise (hw-tests/sim/loop_clip.ts; a clean test pattern costs a decoder
 * and an encoder unrealistically little), played in a loop.
 */
async function camera(width: number, height: number): Promise<Uint8Array<ArrayBuffer>[]> {
  const clip = await ensureLoopClip(`${Deno.env.get("TMPDIR") ?? "/tmp"}/nvr-bench/clips`, {
    width,
    height,
    fps: FPS,
    bitrateKbps: width >= 1920 ? 4000 : 2000,
    seconds: 4,
    noise: true,
  });
  await using p = Pipeline.parse(
    `filesrc location=${clip.path} ! h265parse config-interval=-1 ! ` +
      "video/x-h265,stream-format=byte-stream,alignment=au ! " +
      "appsink name=out sync=false max-buffers=1000",
    { name: "bench-camera" },
  );
  p.play();
  const out = p.element("out")!;
  const once: Uint8Array<ArrayBuffer>[] = [];
  for (let s = await out.pullSample(5_000); s; s = await out.pullSample(1_000)) {
    once.push(new Uint8Array(s.data));
    if (once.length >= clip.frames) break;
  }
  console.log(`clip ${width}x${height}: ${once.length} pictures, ${clip.measuredKbps} kbit/s`);
  return Array.from({ length: SECONDS * FPS }, (_, i) => once[i % once.length]!);
}

const launch = planTranscode(loadProfile("generic"), new GstRegistry()).launch;
const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
console.log(`transcode: ${launch}`);
console.log(`${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores, load ${load()}`);
for (const [w, hgt] of [[1280, 720], [1920, 1080]] as const) {
  const aus = await camera(w, hgt);
  const shares: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    let out = 0;
    const tc = Transcoder.open(`bench-${w}`, launch, () => out++);
    const frameNs = BigInt(Math.round(1e9 / FPS));
    const cpu0 = cpuMs();
    const t0 = performance.now();
    for (let i = 0; i < aus.length; i++) {
      // The camera's pace: picture i is due at i / FPS s.
      const due = t0 + (i * 1000) / FPS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      tc.push(aus[i]!, BigInt(i) * frameNs + 1_000_000_000n, frameNs, Date.now());
    }
    tc.end();
    await tc.done;
    const wall = performance.now() - t0;
    const cpu = cpuMs() - cpu0;
    await tc.close();
    const share = cpu / (aus.length * 1000 / FPS);
    shares.push(share);
    console.log(
      `${w}x${hgt} round ${round}: ${aus.length} pictures in, ${out} out, ` +
        `${(wall / 1000).toFixed(1)} s wall, ${(cpu / 1000).toFixed(2)} s CPU = ` +
        `${(share * 100).toFixed(0)} % of a core; load ${load()}`,
    );
  }
  shares.sort((a, b) => a - b);
  console.log(
    `${w}x${hgt}: ${(shares[0]! * 100).toFixed(0)}–${(shares.at(-1)! * 100).toFixed(0)} % ` +
      `of a core per transcode (${ROUNDS} rounds of ${SECONDS} s)`,
  );
}
