/**
 * Recording benchmark (issue 3): this daemon against the Frigate-style ffmpeg segmenter, on the
 * same streams in the same run, one side after the other so they never share the CPU.
 *
 *   deno task bench                                      # 8 streams × 60 s, 10 s segments
 *   deno task bench --streams 32 --seconds 60 --segment 10
 *   deno task bench --reconnect [--outages 2,5,15]       # recording again after the camera returns
 *   deno task bench --fps 25 --size 2560x1440 --gop 2 --audio g711 --streams 16
 *   deno task bench --matrix --seconds 30                # the grid of issue 15, a table of ratios
 *   deno task bench --soak [--minutes 120]               # only the daemon, hours, retention on (soak.ts)
 *
 * Source: virtual cameras (hw-tests/sim) serving one pre-encoded H.265 clip (default 1920x1080,
 * 15 fps, 1 s GOPs, about 4 Mbit/s; 2560x1440 gets 8 Mbit/s, other sizes by pixels) with sensor-like
 * noise in a loop, without encoding (the clip is encoded once and cached), and optionally an audio
 * track (G.711 µ-law or AAC, encoded live by the camera: a tick a second). Each camera
 * process serves one shared mount to up to --clients-per-camera clients (default 8): one file
 * reader per camera, and a stalled client can hold back at most 7 others.
 *
 * --transport udp: RTP over UDP on both sides (cameras[].transport, -rtsp_transport udp); tls:
 * rtsps:// through a TLS-terminating relay per camera in this process (hw-tests/sim/tls_relay.ts;
 * its CPU is on the source side, not measured), the daemon given the relay's CA as
 * cameras[].caFile, ffmpeg over rtsps:// with -rtsp_transport tcp.
 *
 * Third side, the floor: bench/floor_reader.ts, one process that only receives each stream's bytes
 * and appends them to a file (no parsing): the table reads ours / ffmpeg / floor.
 *
 * CPU and memory: Linux /proc. Ours = the daemon's whole process tree; baseline = the sum of the
 * ffmpeg processes; floor = the floor reader's process. The source's processes are not counted on either side (their CPU is shown for
 * context). The window starts when every stream has written its first bytes, so start-up cost is
 * left out, and lasts --seconds.
 *
 * Frames: every segment is counted with ffprobe -count_packets, and every frame of the clip
 * carries its index in an SEI marker, so the frames on disk are matched to the frames the source
 * sent from each stream's first recorded frame to its last: holes are lost frames.
 *
 * Prints progress on stderr, a table on stdout, and last a JSON line with every figure.
 */
import { ensureLoopClip, type LoopClip, type LoopClipOptions } from "../hw-tests/sim/loop_clip.ts";
import type { VirtualCamera } from "../hw-tests/sim/virtual_camera.ts";
import {
  clipLine,
  fileBytes,
  machine,
  machineJiffies,
  mib,
  progress,
  sleep,
  startCameras,
  startSources,
  table,
  waitFlowing,
} from "./bench_util.ts";
import {
  clockTicksPerSecond,
  threadDelta,
  threadTicksByName,
  TreeMonitor,
  type TreeSample,
} from "./proc_stats.ts";
import {
  loggedPipelines,
  type Recorder,
  type RecorderKind,
  startBaseline,
  startFloor,
  startGstLaunch,
  startOurs,
} from "./recorders.ts";
import { countStream, mapLimit, type StreamFrames } from "./segment_frames.ts";
import { soakMode } from "./soak.ts";

/** Clip length: a multiple of every GOP the bench offers (1, 2, 4 s… up to 10 would not be). */
const CLIP_SECONDS = 16;
/** The matrix of issue 15: every combination, each one run of ours against the baseline. */
const MATRIX = {
  fps: [15, 25, 30],
  size: [[1920, 1080], [2560, 1440]] as const,
  gop: [1, 2, 4],
  streams: [8, 16, 32, 64],
} as const;
/** The longest a matrix may take, all runs together. */
const MATRIX_MAX_HOURS = 8;
const SAMPLE_MS = 250;
const SETTLE_MS = 3_000;
const REPO_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

export interface BenchOptions {
  readonly streams: number;
  readonly seconds: number;
  readonly segment: number;
  readonly clientsPerCamera: number;
  readonly startTimeoutSeconds: number;
  readonly watchdogSeconds: number;
  readonly reconnect: boolean;
  readonly outages: readonly number[];
  readonly keep: boolean;
  /** Also run the daemon's own pipelines under gst-launch-1.0 (GStreamer without Deno). */
  readonly gstLaunch: boolean;
  /** The daemon's recording.remux: its own RTSP client and muxer, or GStreamer's. */
  readonly remux: "builtin" | "gstreamer";
  readonly fps: number;
  readonly width: number;
  readonly height: number;
  /** Seconds between keyframes. */
  readonly gop: number;
  /** B-frames between reference pictures (0: none). */
  readonly bframes: number;
  readonly audio: "none" | "g711" | "aac";
  readonly transport: "tcp" | "udp" | "tls";
  /**
   * recording.thumbnails of ours. Default "on-demand": the ffmpeg segmenter makes no pictures, so
   * the ratio compares recording with recording; "on-close" (the daemon's default) adds a JPEG per
   * closed segment, measured on its own in bench/thumbnails.ts.
   */
  readonly thumbnails: "on-close" | "on-demand";
  /** Run the whole grid (MATRIX) instead of one configuration. */
  readonly matrix: boolean;
  /** Only the daemon, for `minutes`, with retention running: memory and the byte budget. */
  readonly soak: boolean;
  readonly minutes: number;
  /** --soak: storage.maxBytes in MiB; null: reached after about 10 minutes (soak.ts). */
  readonly budgetMb: number | null;
}

/** The longest soak: a day. */
const SOAK_MAX_MINUTES = 24 * 60;

export const BENCH_USAGE = `usage: deno task bench [--streams 8] [--seconds 60] [--segment 10]
  [--clients-per-camera 8] [--start-timeout 60] [--watchdog 10] [--gst-launch] [--keep]
  [--remux builtin|gstreamer] [--fps 15] [--size 1920x1080] [--gop 1 (s)] [--bframes 0]
  [--audio none|g711|aac] [--transport tcp|udp|tls] [--thumbnails on-demand|on-close] [--matrix]
  deno task bench --reconnect [--outages 2,5,15] [--watchdog 10]
  deno task bench --soak [--minutes 120] [--budget-mb N] [--streams 16] [--fps 25] [--gop 2]
    [--segment 10] [--size …] [--audio …] [--transport …] [--remux …] [--keep]`;

class UsageError extends Error {
  constructor(message: string) {
    super(`${message}\n${BENCH_USAGE}`);
    this.name = "UsageError";
  }
}

export function parseBenchArgs(args: readonly string[]): BenchOptions {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (!a.startsWith("--")) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (["reconnect", "keep", "gst-launch", "matrix", "soak"].includes(name)) {
      flags.add(name);
      continue;
    }
    const v = eq >= 0 ? a.slice(eq + 1) : args[++i];
    if (v === undefined) throw new UsageError(`--${name} needs a value`);
    values.set(name, v);
  }
  const known = [
    "streams",
    "seconds",
    "segment",
    "clients-per-camera",
    "start-timeout",
    "watchdog",
    "outages",
    "remux",
    "fps",
    "size",
    "gop",
    "bframes",
    "audio",
    "transport",
    "thumbnails",
    "minutes",
    "budget-mb",
  ];
  for (const k of values.keys()) if (!known.includes(k)) throw new UsageError(`unknown --${k}`);
  const soak = flags.has("soak");
  if (soak) {
    for (const f of ["matrix", "reconnect", "gst-launch"]) {
      if (flags.has(f)) {
        throw new UsageError(`--soak runs only the daemon; it cannot be combined with --${f}`);
      }
    }
    if (values.has("seconds")) {
      throw new UsageError("--seconds does not apply to --soak: give its length with --minutes");
    }
  } else {
    for (const k of ["minutes", "budget-mb"]) {
      if (values.has(k)) throw new UsageError(`--${k} applies only to --soak`);
    }
  }
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = values.get(name);
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      throw new UsageError(`--${name} must be an integer ${min}..${max}, got "${raw}"`);
    }
    return n;
  };
  const outages = (values.get("outages") ?? "2,5,15").split(",").map((s) => {
    const n = Number(s);
    if (!/^\d+(\.\d+)?$/.test(s) || n > 300) {
      throw new UsageError(`--outages must be seconds 0..300 separated by commas, got "${s}"`);
    }
    return n;
  });
  const size = values.get("size") ?? "1920x1080";
  const wh = /^(\d{2,4})x(\d{2,4})$/.exec(size);
  const [width, height] = [Number(wh?.[1]), Number(wh?.[2])];
  if (!wh || width % 2 !== 0 || height % 2 !== 0 || width > 4096 || height > 4096) {
    throw new UsageError(`--size must be WIDTHxHEIGHT, even, at most 4096, got "${size}"`);
  }
  const minutesRaw = values.get("minutes");
  if (
    minutesRaw !== undefined && /^\d+$/.test(minutesRaw) && Number(minutesRaw) > SOAK_MAX_MINUTES
  ) {
    throw new UsageError(
      `--minutes ${minutesRaw} is refused: a soak lasts at most ${SOAK_MAX_MINUTES} minutes (24 h)`,
    );
  }
  // A soak defaults to issue 15's load: 16 streams at 25 fps with 2 s GOPs.
  const gop = int("gop", soak ? 2 : 1, 1, 8);
  if (CLIP_SECONDS % gop !== 0) {
    throw new UsageError(`--gop must divide the ${CLIP_SECONDS} s loop clip: 1, 2, 4 or 8`);
  }
  const bframes = int("bframes", 0, 0, 4);
  if (bframes > 0) {
    // The loop clip is served with decode times taken for presentation times (loopLaunch).
    throw new UsageError(
      "--bframes: not available yet: the looped source clip cannot carry B-frames (its camera " +
        "serves it with decode times as presentation times); B-frames are tested, not benched",
    );
  }
  const audio = values.get("audio") ?? "none";
  if (audio !== "none" && audio !== "g711" && audio !== "aac") {
    throw new UsageError(`--audio must be none, g711 or aac, got "${audio}"`);
  }
  const transport = values.get("transport") ?? "tcp";
  if (transport !== "tcp" && transport !== "udp" && transport !== "tls") {
    throw new UsageError(`--transport must be tcp, udp or tls, got "${transport}"`);
  }
  // A soak runs the daemon as shipped; a ratio run compares recording with recording.
  const thumbnails = values.get("thumbnails") ?? (soak ? "on-close" : "on-demand");
  if (thumbnails !== "on-close" && thumbnails !== "on-demand") {
    throw new UsageError(`--thumbnails must be on-demand or on-close, got "${thumbnails}"`);
  }
  return {
    thumbnails,
    fps: int("fps", soak ? 25 : 15, 1, 60),
    width,
    height,
    gop,
    bframes,
    audio,
    transport,
    matrix: flags.has("matrix"),
    soak,
    minutes: int("minutes", 120, 1, SOAK_MAX_MINUTES),
    budgetMb: values.has("budget-mb") ? int("budget-mb", 0, 1, 1_000_000) : null,
    streams: int("streams", soak ? 16 : 8, 1, 64),
    seconds: int("seconds", 60, 5, 3600),
    segment: int("segment", 10, 2, 3600),
    clientsPerCamera: int("clients-per-camera", 8, 1, 64),
    startTimeoutSeconds: int("start-timeout", 60, 5, 600),
    watchdogSeconds: int("watchdog", 10, 1, 600),
    reconnect: flags.has("reconnect"),
    outages,
    keep: flags.has("keep"),
    gstLaunch: flags.has("gst-launch"),
    remux: remuxArg(values.get("remux") ?? "builtin"),
  };
}

function remuxArg(raw: string): "builtin" | "gstreamer" {
  if (raw === "builtin" || raw === "gstreamer") return raw;
  throw new UsageError(`--remux must be builtin or gstreamer, got "${raw}"`);
}

export interface SideResult {
  readonly kind: RecorderKind;
  readonly streams: number;
  readonly windowSeconds: number;
  readonly cpuSeconds: number;
  readonly cpuSecondsPerStreamHour: number;
  /** Share of one core over the window. */
  readonly corePercent: number;
  /** Largest Σ VmRSS of the tree seen in the samples (every 250 ms). */
  readonly peakRssKb: number;
  /** Σ of each process's own VmHWM. */
  readonly sumHwmKb: number;
  readonly processes: number;
  readonly startupSeconds: number;
  readonly notFlowing: string[];
  readonly stopSeconds: number;
  readonly segments: number;
  readonly bytes: number;
  readonly framesOnDisk: number;
  readonly markers: number;
  readonly framesSentInSpan: number;
  readonly framesLost: number;
  readonly duplicates: number;
  readonly largestGap: number;
  /** fps × (stop − first bytes seen), per stream, summed: what a recorder could have kept. */
  readonly framesByClock: number;
  readonly unreadableSegments: number;
  /** Streams whose first recorded frame is not a keyframe (their first frames cannot be decoded). */
  readonly startsBeforeKeyframe: number;
  readonly restarts: number;
  readonly sourceCorePercent: number;
  /** Whole machine busy over the window (all cores = 100 %): shows other load on the box. */
  readonly machineBusyPercent: number;
  readonly topThreads: { name: string; seconds: number }[];
  readonly problems: string[];
  readonly perStream: StreamFrames[];
  /** ours only: the pipeline description the daemon logged for each stream, in stream order. */
  readonly pipelines: string[];
}

interface SideContext {
  readonly opts: BenchOptions;
  readonly clip: LoopClip;
  readonly urls: readonly string[];
  readonly cams: readonly VirtualCamera[];
  readonly runDir: string;
  readonly hz: number;
  readonly signal: AbortSignal;
  /** --transport tls: the CA the relays' certificates chain to. */
  readonly caFile?: string;
}

async function startRecorder(
  kind: RecorderKind,
  urls: readonly string[],
  workDir: string,
  opts: BenchOptions,
  pipelines: readonly string[] = [],
  caFile?: string,
): Promise<Recorder> {
  await Deno.mkdir(workDir, { recursive: true });
  const tls = caFile !== undefined ? { caFile } : {};
  switch (kind) {
    case "ours":
      return await startOurs({
        repoRoot: REPO_ROOT,
        workDir,
        urls,
        segmentSeconds: opts.segment,
        remux: opts.remux,
        transport: opts.transport === "udp" ? "udp" : "tcp",
        thumbnails: opts.thumbnails,
        ...tls,
      });
    case "baseline":
      return await startBaseline({
        workDir,
        urls,
        segmentSeconds: opts.segment,
        watchdogSeconds: opts.watchdogSeconds,
        transport: opts.transport === "udp" ? "udp" : "tcp",
      });
    case "gst":
      return await startGstLaunch({ workDir, descriptions: pipelines });
    case "floor":
      return await startFloor({
        repoRoot: REPO_ROOT,
        workDir,
        urls,
        transport: opts.transport,
        ...tls,
      });
  }
}

async function runSide(
  kind: RecorderKind,
  ctx: SideContext,
  pipelines: readonly string[] = [],
): Promise<SideResult> {
  const { opts, clip, hz, signal } = ctx;
  const workDir = `${ctx.runDir}/${kind}`;
  progress(`${kind}: starting ${ctx.urls.length} streams`);
  const t0 = performance.now();
  const rec = await startRecorder(kind, ctx.urls, workDir, opts, pipelines, ctx.caFile);
  const mon = new TreeMonitor(() => rec.roots(), hz);
  const src = new TreeMonitor(
    () => ctx.cams.map((c) => c.pid).filter((p): p is number => p !== null),
    hz,
  );
  try {
    mon.start(SAMPLE_MS);
    const firstSeen = await waitFlowing(rec, opts.startTimeoutSeconds * 1000, signal);
    const notFlowing = rec.streams.filter((s) => !firstSeen.has(s));
    const startupSeconds = (performance.now() - t0) / 1000;
    progress(
      `${kind}: ${firstSeen.size}/${rec.streams.length} streams writing after ` +
        `${startupSeconds.toFixed(1)} s; measuring ${opts.seconds} s`,
    );
    const s0: TreeSample & { procs: { pid: number }[] } = mon.sample();
    const th0 = threadTicksByName(s0.procs.map((p) => p.pid));
    const src0 = src.sample();
    const m0 = machineJiffies();
    await sleep(opts.seconds * 1000, signal);
    const failure = rec.failure();
    if (failure !== null) throw new Error(`${kind} died during the window: ${failure}`);
    const s1 = mon.sample();
    const th1 = threadTicksByName(s1.procs.map((p) => p.pid));
    const src1 = src.sample();
    const m1 = machineJiffies();
    const stopAt = performance.now();
    progress(`${kind}: stopping`);
    await rec.stop();
    mon.stop();
    const stopSeconds = (performance.now() - stopAt) / 1000;
    const logged = kind === "ours" ? await loggedPipelines(workDir) : new Map<string, string>();

    progress(`${kind}: counting frames on disk`);
    // The floor writes raw RTSP bytes, not MP4: nothing to count.
    const perStream = kind === "floor" ? [] : await mapLimit(
      rec.streams,
      2,
      async (s) => countStream(s, await rec.files(s), clip.frames),
    );
    const windowSeconds = (s1.atMs - s0.atMs) / 1000;
    const cpuSeconds = s1.cpuSeconds - s0.cpuSeconds;
    const sum = (f: (s: StreamFrames) => number) => perStream.reduce((a, s) => a + f(s), 0);
    const framesByClock = rec.streams.reduce((a, s) => {
      const seen = firstSeen.get(s);
      return seen === undefined ? a : a + Math.floor((stopAt - seen) / 1000 * clip.fps);
    }, 0);
    return {
      kind,
      streams: rec.streams.length,
      windowSeconds,
      cpuSeconds,
      cpuSecondsPerStreamHour: cpuSeconds / (rec.streams.length * windowSeconds / 3600),
      corePercent: 100 * cpuSeconds / windowSeconds,
      peakRssKb: mon.peakRssKb,
      sumHwmKb: mon.sumHwmKb,
      processes: s1.processes,
      startupSeconds,
      notFlowing,
      stopSeconds,
      segments: sum((s) => s.files),
      bytes: sum((s) => s.bytes),
      framesOnDisk: sum((s) => s.packets),
      markers: sum((s) => s.markers),
      framesSentInSpan: sum((s) => s.span),
      framesLost: sum((s) => s.lost),
      duplicates: sum((s) => s.duplicates),
      largestGap: perStream.reduce((a, s) => Math.max(a, s.largestGap), 0),
      framesByClock,
      unreadableSegments: sum((s) => s.unreadable.length),
      startsBeforeKeyframe: sum((s) => s.startsOnKeyframe ? 0 : 1),
      restarts: rec.restarts(),
      sourceCorePercent: 100 * (src1.cpuSeconds - src0.cpuSeconds) / windowSeconds,
      machineBusyPercent: 100 * (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total),
      topThreads: threadDelta(th0, th1, hz).slice(0, 8),
      problems: rec.problems(),
      perStream,
      pipelines: rec.streams.map((s) => logged.get(s) ?? ""),
    };
  } finally {
    mon.stop();
    await rec.stop();
    if (!opts.keep) await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
}

function ratio(a: number, b: number): string {
  return b > 0 ? (a / b).toFixed(2) : "n/a";
}

/** One configuration, ours then the baseline; prints the report, returns both sides. */
async function cpuMode(
  opts: BenchOptions,
  clip: LoopClip,
  signal: AbortSignal,
): Promise<{ ours: SideResult; base: SideResult; floor: SideResult }> {
  const hz = clockTicksPerSecond();
  const runDir = await Deno.makeTempDir({ prefix: "nvr-bench-run-" });
  const cameraCount = Math.ceil(opts.streams / opts.clientsPerCamera);
  const startedAt = new Date();
  const box = machine();
  progress(`${cameraCount} virtual camera(s) serving ${clipLine(clip)}`);
  const sources = await startSources(clip, opts, `${runDir}/pki`);
  const { cams, urls, caFile } = sources;
  try {
    const ctx: SideContext = {
      opts,
      clip,
      urls,
      cams,
      runDir,
      hz,
      signal,
      ...(caFile !== undefined ? { caFile } : {}),
    };
    const ours = await runSide("ours", ctx);
    await sleep(SETTLE_MS, signal);
    const base = await runSide("baseline", ctx);
    await sleep(SETTLE_MS, signal);
    const floor = await runSide("floor", ctx);
    let gst: SideResult | null = null;
    if (opts.gstLaunch) {
      if (ours.pipelines.some((p) => p === "")) {
        progress("gst: the daemon did not log every pipeline description; skipping gst-launch");
      } else {
        await sleep(SETTLE_MS, signal);
        gst = await runSide("gst", ctx, ours.pipelines);
      }
    }
    report(
      opts,
      clip,
      box,
      startedAt,
      cameraCount,
      [ours, base, floor, ...(gst ? [gst] : [])],
      runDir,
    );
    return { ours, base, floor };
  } finally {
    await sources.stop();
    if (!opts.keep) await Deno.remove(runDir, { recursive: true }).catch(() => {});
  }
}

function report(
  opts: BenchOptions,
  clip: LoopClip,
  box: ReturnType<typeof machine>,
  startedAt: Date,
  cameraCount: number,
  sides: readonly SideResult[],
  runDir: string,
): void {
  const ours = sides.find((s) => s.kind === "ours");
  const base = sides.find((s) => s.kind === "baseline");
  const floor = sides.find((s) => s.kind === "floor");
  if (ours === undefined || base === undefined) throw new Error("report needs ours and baseline");
  const row = (
    label: string,
    f: (s: SideResult) => number,
    fmt: (n: number) => string,
    withRatio = false,
  ): string[] => [
    label,
    ...sides.map((s) => fmt(f(s))),
    withRatio ? ratio(f(ours), f(base)) : "",
    ...(floor ? [withRatio ? ratio(f(ours), f(floor)) : ""] : []),
  ];
  const int = (n: number) => String(Math.round(n));
  const f1 = (n: number) => n.toFixed(1);
  const f2 = (n: number) => n.toFixed(2);
  console.log(
    `\nRecording: ${opts.streams} streams × ${opts.seconds} s, ${opts.segment} s segments; ` +
      `source ${clipLine(clip)}, ${cameraCount} camera process(es); ours with ` +
      `recording.thumbnails ${opts.thumbnails}`,
  );
  console.log(
    `machine: ${box.cores} cores, ${box.cpu}, Linux ${box.kernel}, load ${box.loadavg} ` +
      `at start; ${startedAt.toISOString()}` +
      (opts.transport === "udp" ? `; UDP receive buffer ${box.udpReceiveBuffer} bytes` : "") +
      "\n",
  );
  const names: Record<RecorderKind, string> = {
    ours: "ours",
    baseline: "baseline",
    gst: "gst-launch",
    floor: "floor",
  };
  console.log(table([
    ["", ...sides.map((s) => names[s.kind]), "ours/baseline", ...(floor ? ["ours/floor"] : [])],
    row("CPU s in window", (s) => s.cpuSeconds, f2, true),
    row("CPU s per stream-hour", (s) => s.cpuSecondsPerStreamHour, f1, true),
    row("% of one core", (s) => s.corePercent, f1),
    row("peak RSS, sampled Σ VmRSS (MiB)", (s) => s.peakRssKb, mib, true),
    row("Σ VmHWM of processes (MiB)", (s) => s.sumHwmKb, mib, true),
    row("processes", (s) => s.processes, int),
    row("start to all streams writing (s)", (s) => s.startupSeconds, f1),
    row("stop (s)", (s) => s.stopSeconds, f1),
    row("segments", (s) => s.segments, int),
    row("frames on disk (ffprobe)", (s) => s.framesOnDisk, int),
    row("frame markers found", (s) => s.markers, int),
    row("frames sent, first..last recorded", (s) => s.framesSentInSpan, int),
    row("frames lost in that span", (s) => s.framesLost, int),
    row("duplicate frames", (s) => s.duplicates, int),
    row("≈ fps × (stop − first bytes)", (s) => s.framesByClock, int),
    row("unreadable segments", (s) => s.unreadableSegments, int),
    row("streams starting before a keyframe", (s) => s.startsBeforeKeyframe, int),
    row("watchdog restarts", (s) => s.restarts, int),
    row("source CPU, excluded (% core)", (s) => s.sourceCorePercent, f1),
    row("machine busy in window (% all)", (s) => s.machineBusyPercent, f1),
  ]));
  for (const s of sides) {
    console.log(
      `\ntop threads, ${names[s.kind]} (CPU s in window): ` +
        s.topThreads.map((t) => `${t.name} ${t.seconds.toFixed(2)}`).join(", "),
    );
    if (s.notFlowing.length > 0) console.log(`${s.kind}: never wrote: ${s.notFlowing.join(" ")}`);
    const odd = s.perStream.flatMap((p) =>
      p.mismatched.map((m) => `${m.file}: ${m.packets} packets, ${m.markers} markers`)
    );
    if (odd.length > 0) {
      console.log(
        `${names[s.kind]}: segments with frames without a marker:\n  ${odd.join("\n  ")}`,
      );
    }
    if (s.problems.length > 0) {
      console.log(
        `${names[s.kind]}: warnings/errors (last 8):\n  ${s.problems.slice(-8).join("\n  ")}`,
      );
    }
  }
  const target = 0.7;
  const cpuRatio = ours.cpuSeconds / base.cpuSeconds;
  const gst = sides.find((s) => s.kind === "gst");
  console.log(
    `\nCPU ratio ours/baseline ${cpuRatio.toFixed(2)} (target ≤ ${target}): ` +
      `${cpuRatio <= target ? "met" : "NOT met"}; frames lost: ours ${ours.framesLost}, ` +
      `baseline ${base.framesLost}` +
      (floor
        ? `; CPU ours / ffmpeg / floor = ${ours.cpuSeconds.toFixed(2)} / ` +
          `${base.cpuSeconds.toFixed(2)} / ${floor.cpuSeconds.toFixed(2)} s ` +
          `(ours ${ratio(ours.cpuSeconds, floor.cpuSeconds)} of the floor)`
        : "") +
      (gst
        ? `; the same pipelines under gst-launch-1.0 cost ${
          ratio(gst.cpuSeconds, ours.cpuSeconds)
        } of ours`
        : "") +
      (opts.keep ? `; files kept in ${runDir}` : ""),
  );
  const strip = ({ perStream: _p, pipelines, ...rest }: SideResult) => ({
    ...rest,
    ...(pipelines.length > 0 && pipelines[0] !== "" ? { pipelineExample: pipelines[0] } : {}),
  });
  console.log(JSON.stringify({
    bench: "recording",
    date: startedAt.toISOString(),
    machine: box,
    streams: opts.streams,
    seconds: opts.seconds,
    segmentSeconds: opts.segment,
    thumbnails: opts.thumbnails,
    clip: { ...clip, path: undefined },
    cameraProcesses: cameraCount,
    ours: strip(ours),
    baseline: strip(base),
    ...(gst ? { gstLaunch: strip(gst) } : {}),
    ...(floor ? { floor: strip(floor) } : {}),
    transport: opts.transport,
    audio: opts.audio,
    ratio: {
      cpu: round(cpuRatio),
      ...(floor ? { cpuOverFloor: round(ours.cpuSeconds / floor.cpuSeconds) } : {}),
      peakRss: round(ours.peakRssKb / base.peakRssKb),
      sumHwm: round(ours.sumHwmKb / base.sumHwmKb),
      ...(gst ? { gstLaunchOverOurs: round(gst.cpuSeconds / ours.cpuSeconds) } : {}),
    },
  }));
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

interface ReconnectResult {
  readonly kind: RecorderKind;
  readonly outageSeconds: number;
  /** Source back (its RTSP server listening again) → first byte written, ms; null: never. */
  readonly firstByteMs: number | null;
  /** Source back → one second of video (bitrate/8 bytes) more on disk, ms; null: never. */
  readonly oneSecondMs: number | null;
  readonly restarts: number;
}

const RECONNECT_GIVE_UP_MS = 120_000;

async function reconnectTrial(
  kind: "ours" | "baseline",
  outageSeconds: number,
  opts: BenchOptions,
  clip: LoopClip,
  runDir: string,
  signal: AbortSignal,
): Promise<ReconnectResult> {
  const [cam] = await startCameras(clip, 1, "drop", opts.audio);
  if (cam === undefined) throw new Error("no camera started");
  const workDir = `${runDir}/${kind}-outage-${outageSeconds}`;
  const rec = await startRecorder(kind, [cam.rtspUrl], workDir, opts);
  const allFiles = async () => (await Promise.all(rec.streams.map((s) => rec.files(s)))).flat();
  try {
    const seen = await waitFlowing(rec, opts.startTimeoutSeconds * 1000, signal);
    if (seen.size === 0) throw new Error(`${kind} never started recording ${cam.rtspUrl}`);
    await sleep(3_000, signal);
    await cam.drop();
    await sleep(outageSeconds * 1000, signal);
    await cam.restore();
    const back = performance.now();
    const before = await fileBytes(await allFiles());
    const oneSecond = clip.measuredKbps * 1000 / 8;
    let firstByteMs: number | null = null;
    let oneSecondMs: number | null = null;
    while (performance.now() - back < RECONNECT_GIVE_UP_MS) {
      const grown = await fileBytes(await allFiles()) - before;
      if (grown > 0 && firstByteMs === null) firstByteMs = performance.now() - back;
      if (grown >= oneSecond) {
        oneSecondMs = performance.now() - back;
        break;
      }
      await sleep(20, signal);
    }
    return { kind, outageSeconds, firstByteMs, oneSecondMs, restarts: rec.restarts() };
  } finally {
    await rec.stop();
    await cam.stop();
    if (!opts.keep) await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
}

async function reconnectMode(
  opts: BenchOptions,
  clip: LoopClip,
  signal: AbortSignal,
): Promise<void> {
  const runDir = await Deno.makeTempDir({ prefix: "nvr-bench-run-" });
  const startedAt = new Date();
  const box = machine();
  const results: ReconnectResult[] = [];
  try {
    for (const outage of opts.outages) {
      for (const kind of ["ours", "baseline"] as const) {
        progress(`reconnect: ${kind}, source gone for ${outage} s`);
        results.push(await reconnectTrial(kind, outage, opts, clip, runDir, signal));
      }
    }
  } finally {
    if (!opts.keep) await Deno.remove(runDir, { recursive: true }).catch(() => {});
  }
  const ms = (n: number | null) => n === null ? "never" : (n / 1000).toFixed(2);
  const get = (kind: string, outage: number) =>
    results.find((r) => r.kind === kind && r.outageSeconds === outage);
  console.log(
    `\nReconnect: one stream (${clipLine(clip)}), its camera process SIGKILLed after 3 s of ` +
      `recording and started again after the outage. Seconds from the camera listening again to ` +
      `the first byte / one second of video more on disk. Baseline restarted by a watchdog ` +
      `polling every ${opts.watchdogSeconds} s (Frigate's camera watchdog period).`,
  );
  console.log(
    `machine: ${box.cores} cores, ${box.cpu}, load ${box.loadavg} at start; ` +
      `${startedAt.toISOString()}\n`,
  );
  console.log(table([
    [
      "outage (s)",
      "ours first byte",
      "ours 1 s video",
      "baseline first byte",
      "baseline 1 s video",
    ],
    ...opts.outages.map((o) => [
      String(o),
      ms(get("ours", o)?.firstByteMs ?? null),
      ms(get("ours", o)?.oneSecondMs ?? null),
      ms(get("baseline", o)?.firstByteMs ?? null),
      ms(get("baseline", o)?.oneSecondMs ?? null),
    ]),
  ]));
  console.log(JSON.stringify({
    bench: "recording-reconnect",
    date: startedAt.toISOString(),
    machine: box,
    watchdogSeconds: opts.watchdogSeconds,
    results,
  }));
}

/** The source clip for a configuration: 1080p 4 Mbit/s, 1440p 8 Mbit/s, others by pixels. */
export function clipOptions(opts: BenchOptions): LoopClipOptions {
  const pixels = opts.width * opts.height;
  const bitrateKbps = pixels >= 2560 * 1440
    ? Math.round(8000 * pixels / (2560 * 1440))
    : Math.round(4000 * pixels / (1920 * 1080));
  return {
    width: opts.width,
    height: opts.height,
    fps: opts.fps,
    bitrateKbps: Math.max(100, bitrateKbps),
    seconds: CLIP_SECONDS,
    gopSeconds: opts.gop,
    noise: true,
  };
}

/** Every configuration of the matrix, in the order they run (smallest first). */
export function matrixRuns(opts: BenchOptions): BenchOptions[] {
  const runs: BenchOptions[] = [];
  for (const streams of MATRIX.streams) {
    for (const [width, height] of MATRIX.size) {
      for (const fps of MATRIX.fps) {
        for (const gop of MATRIX.gop) {
          runs.push({ ...opts, matrix: false, streams, width, height, fps, gop });
        }
      }
    }
  }
  return runs;
}

/**
 * The grid of issue 15, one run of ours and one of the baseline per configuration, then a table
 * of CPU ratios and lost frames. Refused when it would take longer than MATRIX_MAX_HOURS.
 */
async function matrixMode(opts: BenchOptions, cacheDir: string, signal: AbortSignal) {
  const runs = matrixRuns(opts);
  // Per side: start-up (up to a minute for 64 streams), the window, stop and frame counting.
  const estimate = runs.length * 3 * (opts.seconds + 60) / 3600;
  if (estimate > MATRIX_MAX_HOURS) {
    throw new UsageError(
      `--matrix with --seconds ${opts.seconds} would take about ${estimate.toFixed(1)} h ` +
        `(${runs.length} runs); at most ${MATRIX_MAX_HOURS} h: lower --seconds`,
    );
  }
  progress(`matrix: ${runs.length} runs, about ${estimate.toFixed(1)} h at most`);
  const rows: string[][] = [[
    "streams",
    "size",
    "fps",
    "gop s",
    "ours/ffmpeg CPU",
    "ours/floor CPU",
    "ours lost",
    "ffmpeg lost",
    "ours peak RSS MiB",
  ]];
  for (const run of runs) {
    signal.throwIfAborted();
    const clip = await ensureLoopClip(cacheDir, clipOptions(run));
    const { ours, base, floor } = await cpuMode(run, clip, signal);
    rows.push([
      String(run.streams),
      `${run.width}x${run.height}`,
      String(run.fps),
      String(run.gop),
      ratio(ours.cpuSeconds, base.cpuSeconds),
      ratio(ours.cpuSeconds, floor.cpuSeconds),
      String(ours.framesLost),
      String(base.framesLost),
      mib(ours.peakRssKb),
    ]);
    await sleep(SETTLE_MS, signal);
  }
  console.log(
    `
Matrix: audio ${opts.audio}, transport ${opts.transport}, ${opts.seconds} s a side
`,
  );
  console.log(table(rows));
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const ac = new AbortController();
  const onSignal = () => {
    progress("interrupted; stopping everything");
    ac.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const cacheDir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/nvr-bench/clips`;
    progress(`loop clip in ${cacheDir} (encoded once, about 10 s)`);
    if (opts.matrix) {
      await matrixMode(opts, cacheDir, ac.signal);
      return 0;
    }
    const clip = await ensureLoopClip(cacheDir, clipOptions(opts));
    if (opts.soak) await soakMode(opts, clip, ac.signal);
    else if (opts.reconnect) await reconnectMode(opts, clip, ac.signal);
    else await cpuMode(opts, clip, ac.signal);
    return 0;
  } catch (e) {
    console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main());
