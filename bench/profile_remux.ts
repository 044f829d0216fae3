/**
 * Where the built-in remuxer's time goes (issue 15), not a test: a V8 CPU profile of one process
 * recording N streams the way a recorder worker does (recordCameraRemux per stream, one segment
 * index), from virtual cameras serving the bench's noisy loop clip.
 *
 *   .tools/bin/deno run -A --unstable-net bench/profile_remux.ts --streams 8 --fps 25 --gop 2 \
 *     [--size 1920x1080] [--seconds 30] [--warmup 5] [--transport tcp|udp] [--out FILE]
 *
 * The profile is taken with the inspector's Profiler in this process (node:inspector), after the
 * warm-up, for --seconds; it is written as a .cpuprofile (Chrome DevTools, speedscope) and the
 * functions with the most self time are printed, with the process's CPU over the window.
 */
import inspector from "node:inspector";
import process from "node:process";
import { ensureLoopClip } from "../hw-tests/sim/loop_clip.ts";
import type { VirtualCamera } from "../hw-tests/sim/virtual_camera.ts";
import { startCameras } from "./bench_util.ts";
import { clipOptions, parseBenchArgs } from "./recording.ts";
import { clockTicksPerSecond, threadDelta, threadTicksByName } from "./proc_stats.ts";
import { validateConfig } from "../runtime/config/mod.ts";
import { memoryLogger } from "../runtime/lib/log.ts";
import { ensureWritable, indexPath, SegmentIndex } from "../runtime/storage/mod.ts";
import { recordCameraRemux } from "../runtime/recorder/builtin/remux_recorder.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function take(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = args[i + 1] ?? "";
  args.splice(i, 2);
  return v;
}

const args = [...Deno.args];
const seconds = Number(take(args, "seconds", "30"));
const warmup = Number(take(args, "warmup", "5"));
const out = take(args, "out", `/tmp/nvr-remux-${Date.now()}.cpuprofile`);
const opts = parseBenchArgs(args);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const clip = await ensureLoopClip(
  `${Deno.env.get("TMPDIR") ?? "/tmp"}/nvr-bench/clips`,
  clipOptions(opts),
);
let cams: readonly VirtualCamera[] = [];
const dir = await Deno.makeTempDir({ prefix: "nvr-profile-" });
const stop = new AbortController();
try {
  cams = await startCameras(clip, Math.ceil(opts.streams / opts.clientsPerCamera), "profile");
  using index = SegmentIndex.open(indexPath(dir));
  let segments = 0;
  const runs = Array.from({ length: opts.streams }, (_, i) => {
    const camera = validateConfig({
      cameras: [{
        id: `cam${i}`,
        url: cams[i % cams.length]!.rtspUrl,
        codec: "h265",
        transport: opts.transport === "udp" ? "udp" : "tcp",
      }],
    }).cameras[0]!;
    return recordCameraRemux(camera, {
      dataDir: dir,
      segmentSeconds: opts.segment,
      index: () => index,
      log: memoryLogger("warn"),
      now: Date.now,
      checkStorage: () => ensureWritable(dir),
      stallMs: 10_000,
      plan: {
        mode: "passthrough",
        codec: "h265",
        encoder: null,
        decoder: null,
        reason: "bench",
        launch: "",
      },
      onSegment: () => void segments++,
    }, stop.signal).catch((e) => console.error(`cam${i}: ${(e as Error).message}`));
  });
  await sleep(warmup * 1000);
  const session = new inspector.Session();
  session.connect();
  const post = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve, reject) =>
      session.post(method, params, (e: unknown, r: unknown) => e ? reject(e) : resolve(r as T))
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 500 });
  await post("Profiler.start");
  const hz = clockTicksPerSecond();
  const threads0 = threadTicksByName([Deno.pid]);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const threads = threadDelta(threads0, threadTicksByName([Deno.pid]), hz);
  const wall = (performance.now() - t0) / 1000;
  const { profile } = await post<{ profile: Profile }>("Profiler.stop");
  session.disconnect();
  stop.abort();
  await Promise.all(runs);
  await Deno.writeTextFile(out, JSON.stringify(profile));

  const self = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  );
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    total += us;
    const f = node.callFrame;
    const where = f.url === ""
      ? ""
      : ` ${f.url.replace(/^.*\/(runtime|ext|node)\//, "$1/")}:${f.lineNumber + 1}`;
    const key = `${f.functionName || "(anonymous)"}${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  console.log(
    `${opts.streams} streams ${clip.width}x${clip.height} ${clip.fps} fps, ${
      clip.gopSeconds ?? 1
    } s GOP, ${clip.measuredKbps} kbit/s, ${opts.transport}; window ${wall.toFixed(1)} s; ` +
      `process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s ` +
      `(${((cpu.user + cpu.system) / 1e4 / wall).toFixed(1)} % of a core; ` +
      `${
        ((cpu.user + cpu.system) / 1e3 / (wall * opts.streams)).toFixed(2)
      } ms per stream-second); ` +
      `segments ${segments}; profile ${out}`,
  );
  console.log(
    `user ${(cpu.user / 1e6).toFixed(2)} s, system ${(cpu.system / 1e6).toFixed(2)} s; ` +
      `threads (CPU s): ${threads.map((t) => `${t.name} ${t.seconds.toFixed(2)}`).join(", ")}`,
  );
  console.log("self time (% of samples), top 25:");
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${(100 * us / total).toFixed(1).padStart(5)} %  ${name}`);
  }
} finally {
  stop.abort();
  await Promise.allSettled(cams.map((c) => c.stop()));
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
