/**
 * CPU cost of receiving one RTSP stream (not a test): our RtspSession against
 * `ffmpeg -rtsp_transport tcp -i URL -c copy -f null -`, one after the other on the same virtual
 * camera serving the 1080p 15 fps H.265 loop clip of bench/recording.ts (about 4 Mbit/s).
 *
 *   .tools/bin/deno run -A bench/measure_receive.ts [--seconds 30] [--warmup 2] [--only ours]
 *
 * Ours: this process's CPU (process.cpuUsage(), all threads) from `warmup` s after PLAY for
 * `seconds` s, the handler only counting. ffmpeg: its /proc/<pid>/stat utime + stime over the
 * same window after the same warm-up. Prints one JSON line.
 */
import process from "node:process";
import { ensureLoopClip } from "../hw-tests/sim/loop_clip.ts";
import { startVirtualCamera } from "../hw-tests/sim/virtual_camera.ts";
import { clockTicksPerSecond, readProc } from "./proc_stats.ts";
import { RtspSession } from "../runtime/media/rtsp/session.ts";

const CLIP = { width: 1920, height: 1080, fps: 15, bitrateKbps: 4000, seconds: 15 } as const;

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ours(url: string, seconds: number, warmup: number) {
  await using session = await RtspSession.open({ url });
  let units = 0;
  let keyframes = 0;
  let damaged = 0;
  let nalBytes = 0;
  const stop = new AbortController();
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  let bytes0 = 0;
  let units0 = 0;
  const playing = session.play({
    onVideo(au) {
      units++;
      if (au.keyframe) keyframes++;
      if (au.damaged) damaged++;
      for (const n of au.nals) nalBytes += n.length;
    },
  }, stop.signal);
  await sleep(warmup * 1000);
  cpu0 = process.cpuUsage();
  t0 = performance.now();
  bytes0 = session.counters.bytes;
  units0 = units;
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  const bytes = session.counters.bytes - bytes0;
  const got = units - units0;
  stop.abort();
  await playing;
  return {
    wallSeconds: wall,
    cpuMsPerStreamSecond: (cpu.user + cpu.system) / 1000 / wall,
    userMs: cpu.user / 1000,
    systemMs: cpu.system / 1000,
    accessUnits: got,
    fps: got / wall,
    kbitPerSecond: (bytes * 8) / 1000 / wall,
    keyframes,
    damaged,
    packetsLost: session.counters.packetsLost,
    nalBytes,
  };
}

async function ffmpeg(url: string, seconds: number, warmup: number) {
  const hz = clockTicksPerSecond();
  const child = new Deno.Command("ffmpeg", {
    args: [
      "-hide_banner",
      "-nostats",
      "-loglevel",
      "error",
      "-rtsp_transport",
      "tcp",
      "-i",
      url,
      "-c",
      "copy",
      "-f",
      "null",
      "-",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    await sleep(warmup * 1000);
    const a = readProc(child.pid);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const b = readProc(child.pid);
    const wall = (performance.now() - t0) / 1000;
    if (a === null || b === null) throw new Error("ffmpeg exited early");
    return {
      wallSeconds: wall,
      cpuMsPerStreamSecond: ((b.ticks - a.ticks) / hz) * 1000 / wall,
      ticks: b.ticks - a.ticks,
      hz,
    };
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stderr.cancel().catch(() => {});
  }
}

if (import.meta.main) {
  const seconds = arg("seconds", 30);
  const warmup = arg("warmup", 2);
  const cacheDir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/nvr-bench/clips`;
  const clip = await ensureLoopClip(cacheDir, CLIP);
  await using cam = await startVirtualCamera({
    loopFile: clip.path,
    width: clip.width,
    height: clip.height,
    fps: clip.fps,
    bitrateKbps: clip.bitrateKbps,
  });
  const only = Deno.args.includes("--only") ? Deno.args[Deno.args.indexOf("--only") + 1] : null;
  console.error(`camera ${cam.rtspUrl}: ${clip.measuredKbps} kbit/s clip; ${seconds} s each`);
  const ourResult = only === "ffmpeg" ? null : await ours(cam.rtspUrl, seconds, warmup);
  if (ourResult) console.error(`ours: ${ourResult.cpuMsPerStreamSecond.toFixed(2)} ms CPU / s`);
  if (only === null) await sleep(2000);
  const ffResult = only === "ours" ? null : await ffmpeg(cam.rtspUrl, seconds, warmup);
  console.log(JSON.stringify({
    clip: { kbps: clip.measuredKbps, width: clip.width, height: clip.height, fps: clip.fps },
    ours: ourResult,
    ffmpeg: ffResult,
    ratio: ourResult && ffResult
      ? ourResult.cpuMsPerStreamSecond / ffResult.cpuMsPerStreamSecond
      : null,
  }));
}
