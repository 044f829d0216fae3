/**
 * `deno task bench --soak` (issue 15, "memory stays flat" and "the byte budget holds"): only the
 * daemon records the virtual cameras for `--minutes`, with storage.maxBytes set so recordings
 * reach it early and retention deletes from then on (its timed sweep at the normal 60 s, and the
 * check each closed segment triggers). Every minute one JSON line goes to samples.jsonl (so a run
 * cut short keeps its data) and a compact line to stderr; at the end, or on SIGINT, the daemon
 * and the cameras are stopped and the summary is printed from what was sampled.
 *
 * Per minute: Σ VmRSS of the daemon's tree and each process's VmRSS and VmHWM (daemon, recorder
 * workers w1…), the tree's CPU in that minute, open fds, the finished segments on disk (a walk of
 * the data folder every DISK_WALK_MS, its largest total kept) against the budget, and from the
 * daemon's log the bytes retention deleted and the recorder workers it restarted. The JS heap is
 * not sampled: the daemon does not expose it (/healthz has status and uptime, /api/health the
 * machine's memory, not the process's), and /proc sees only RSS.
 */
import type { LoopClip } from "../hw-tests/sim/loop_clip.ts";
import {
  clipLine,
  machine,
  machineJiffies,
  progress,
  sleep,
  startSources,
  table,
  waitFlowing,
} from "./bench_util.ts";
import { clockTicksPerSecond, type ProcInfo, readTree } from "./proc_stats.ts";
import { type Recorder, startOurs } from "./recorders.ts";
import type { BenchOptions } from "./recording.ts";
import { countStream, mapLimit, type StreamFrames } from "./segment_frames.ts";
import {
  budgetVerdict,
  emptyTally,
  type LogTally,
  type ProcMinute,
  rssVerdict,
  soakBudget,
  type SoakMinute,
  soakRows,
  tallyLogLines,
} from "./soak_report.ts";

const MINUTE_MS = 60_000;
/** Recordings on disk are walked this often, so the largest total between samples is seen. */
const DISK_WALK_MS = 10_000;
/** Frames are checked on the last this many seconds of each stream (ffprobe over hours: too slow). */
const FRAME_WINDOW_S = 120;
const MiB = 2 ** 20;
const REPO_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

export interface DiskWalk {
  /** Finished segments: the files the index and retention count. */
  readonly bytes: number;
  readonly segments: number;
  /** Segments still being written (.incoming). */
  readonly openBytes: number;
  readonly largest: number;
}

/** Finished and open segments under the recordings folder, by a walk with a stat per file. */
export async function walkRecordings(dir: string): Promise<DiskWalk> {
  let bytes = 0;
  let segments = 0;
  let openBytes = 0;
  let largest = 0;
  const walk = async (d: string, incoming: boolean): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch {
      return; // not there yet, or removed by retention meanwhile
    }
    for (const e of entries) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p, incoming || e.name === ".incoming");
      if (!e.isFile || !e.name.endsWith(".mp4")) continue;
      let size: number;
      try {
        size = (await Deno.stat(p)).size;
      } catch {
        continue; // moved or deleted between listing and stat
      }
      if (incoming) {
        openBytes += size;
        continue;
      }
      bytes += size;
      segments++;
      largest = Math.max(largest, size);
    }
  };
  await walk(dir, false);
  return { bytes, segments, openBytes, largest };
}

/** Reads the lines appended to a file since the last call (a partial last line waits). */
export class LogTail {
  #offset = 0;
  #partial = "";
  readonly #decoder = new TextDecoder();
  constructor(readonly path: string) {}

  async lines(): Promise<string[]> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path);
    } catch {
      return [];
    }
    try {
      await file.seek(this.#offset, Deno.SeekMode.Start);
      const chunks: Uint8Array[] = [];
      const buf = new Uint8Array(256 * 1024);
      for (;;) {
        const n = await file.read(buf);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
        this.#offset += n;
      }
      let text = this.#partial;
      for (const c of chunks) text += this.#decoder.decode(c, { stream: true });
      const lines = text.split("\n");
      this.#partial = lines.pop() ?? "";
      return lines;
    } finally {
      file.close();
    }
  }
}

function commandLine(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

function openFds(pid: number): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
    return n;
  } catch {
    return 0;
  }
}

/** The tree's processes with their roles: the daemon, its recorder workers by pid (w1…), others. */
function procMinutes(root: number, procs: readonly ProcInfo[]): ProcMinute[] {
  const workers = procs
    .filter((p) => p.pid !== root && commandLine(p.pid).includes("worker_main.ts"))
    .map((p) => p.pid)
    .sort((a, b) => a - b);
  return procs.map((p) => ({
    role: p.pid === root
      ? "daemon"
      : workers.includes(p.pid)
      ? `w${workers.indexOf(p.pid) + 1}`
      : p.comm,
    pid: p.pid,
    rssKb: p.rssKb,
    hwmKb: p.hwmKb,
    fds: openFds(p.pid),
  }));
}

interface FrameCheck {
  readonly streams: number;
  readonly segmentsPerStream: number;
  readonly framesOnDisk: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly largestGap: number;
  readonly unreadable: number;
  readonly withoutMarker: number;
  readonly streamsWithoutSegments: string[];
}

/** The frame-marker check of the bench over each stream's last FRAME_WINDOW_S of segments. */
async function checkLastFrames(
  rec: Recorder,
  segmentSeconds: number,
  loopFrames: number,
  skip: () => boolean,
): Promise<FrameCheck> {
  const perStream = Math.max(1, Math.ceil(FRAME_WINDOW_S / segmentSeconds));
  const results = await mapLimit(rec.streams, 2, async (s): Promise<StreamFrames | null> => {
    if (skip()) return null;
    const files = (await rec.files(s)).filter((f) => !f.includes("/.incoming/"));
    return await countStream(s, files.slice(-perStream), loopFrames);
  });
  const done = results.filter((r): r is StreamFrames => r !== null);
  const sum = (f: (s: StreamFrames) => number) => done.reduce((a, s) => a + f(s), 0);
  return {
    streams: done.length,
    segmentsPerStream: perStream,
    framesOnDisk: sum((s) => s.packets),
    lost: sum((s) => s.lost),
    duplicates: sum((s) => s.duplicates),
    largestGap: done.reduce((a, s) => Math.max(a, s.largestGap), 0),
    unreadable: sum((s) => s.unreadable.length),
    withoutMarker: sum((s) => s.mismatched.length),
    streamsWithoutSegments: done.filter((s) => s.files === 0).map((s) => s.stream),
  };
}

function timeTag(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z").replaceAll(":", "-");
}

export async function soakMode(
  opts: BenchOptions,
  clip: LoopClip,
  signal: AbortSignal,
): Promise<void> {
  const hz = clockTicksPerSecond();
  const startedAt = new Date();
  const box = machine();
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/nvr-bench/soak-${timeTag(startedAt)}`;
  await Deno.mkdir(dir, { recursive: true });
  const samplesPath = `${dir}/samples.jsonl`;
  const workDir = `${dir}/daemon`;
  const budget = opts.budgetMb !== null
    ? { bytes: opts.budgetMb * MiB, fillMinutes: null }
    : soakBudget(opts.streams, clip.measuredKbps, opts.minutes);
  progress(`soak: samples every minute in ${samplesPath}`);
  progress(
    `soak: storage.maxBytes ${budget.bytes / MiB} MiB` +
      (budget.fillMinutes !== null
        ? ` (${opts.streams} streams × ${clip.measuredKbps} kbit/s fill it in about ` +
          `${budget.fillMinutes} min)`
        : " (--budget-mb)"),
  );
  // A second Ctrl-C skips the frame check at the end (the first one stops the run).
  let interrupts = 0;
  const onInterrupt = () => interrupts++;
  Deno.addSignalListener("SIGINT", onInterrupt);

  const cameraCount = Math.ceil(opts.streams / opts.clientsPerCamera);
  progress(`soak: ${cameraCount} virtual camera(s) serving ${clipLine(clip)}`);
  const sources = await startSources(clip, opts, `${dir}/pki`);
  let rec: Recorder | null = null;
  const minutes: SoakMinute[] = [];
  let failure: string | null = null;
  let notFlowing: string[] = [];
  const tally: LogTally = emptyTally();
  let frames: FrameCheck | null = null;
  try {
    rec = await startOurs({
      repoRoot: REPO_ROOT,
      workDir,
      urls: sources.urls,
      segmentSeconds: opts.segment,
      remux: opts.remux,
      transport: opts.transport === "udp" ? "udp" : "tcp",
      maxBytes: budget.bytes,
      thumbnails: opts.thumbnails,
      // Info, not debug: a line per segment and per sweep, a few MiB over hours.
      logLevel: "info",
      ...(sources.caFile !== undefined ? { caFile: sources.caFile } : {}),
    });
    const log = new LogTail(`${workDir}/daemon.log`);
    const recordings = `${rec.dataDir}/recordings`;
    const root = rec.roots()[0] ?? 0;
    try {
      const seen = await waitFlowing(rec, opts.startTimeoutSeconds * 1000, signal);
      notFlowing = rec.streams.filter((s) => !seen.has(s));
      progress(
        `soak: ${seen.size}/${rec.streams.length} streams writing; sampling every minute for ` +
          `${opts.minutes} min (Ctrl-C stops and prints the summary)`,
      );
      const t0 = performance.now();
      let prevTree = readTree([root]);
      let prevMachine = machineJiffies();
      let largest = 0;
      let tick = 0;
      const ticksPerMinute = MINUTE_MS / DISK_WALK_MS;
      for (let minute = 1; minute <= opts.minutes; minute++) {
        let peak = 0;
        let walk: DiskWalk = { bytes: 0, segments: 0, openBytes: 0, largest: 0 };
        for (let k = 0; k < ticksPerMinute; k++) {
          tick++;
          await sleep(Math.max(0, t0 + tick * DISK_WALK_MS - performance.now()), signal);
          failure = rec.failure();
          if (failure !== null) break;
          walk = await walkRecordings(recordings);
          peak = Math.max(peak, walk.bytes);
          largest = Math.max(largest, walk.largest);
        }
        if (failure !== null) break;
        const tree = readTree([root]);
        const m = machineJiffies();
        const before = { ...tally };
        tallyLogLines(tally, await log.lines());
        const ticks = (ps: readonly ProcInfo[]) =>
          ps.reduce((a, p) => a + p.ticks + p.childTicks, 0);
        const procs = procMinutes(root, tree);
        const sample: SoakMinute = {
          minute,
          at: new Date().toISOString(),
          rssTreeKb: procs.reduce((a, p) => a + p.rssKb, 0),
          hwmSumKb: procs.reduce((a, p) => a + p.hwmKb, 0),
          procs,
          fds: procs.reduce((a, p) => a + p.fds, 0),
          cpuSeconds: Math.max(0, ticks(tree) - ticks(prevTree)) / hz,
          machineBusyPercent: 100 * (m.busy - prevMachine.busy) /
            Math.max(1, m.total - prevMachine.total),
          recordingsBytes: walk.bytes,
          segments: walk.segments,
          recordingsPeakBytes: peak,
          openBytes: walk.openBytes,
          largestSegmentBytes: largest,
          budgetBytes: budget.bytes,
          deletedBytes: tally.deletedBytes - before.deletedBytes,
          sweeps: tally.sweeps - before.sweeps,
          restarts: tally.restarts,
        };
        prevTree = tree;
        prevMachine = m;
        minutes.push(sample);
        await Deno.writeTextFile(samplesPath, JSON.stringify(sample) + "\n", { append: true });
        progress(minuteLine(sample, opts.minutes));
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    }
    if (signal.aborted) progress(`soak: interrupted after ${minutes.length} minute(s)`);
    progress("soak: stopping the daemon");
    await rec.stop();
    tallyLogLines(tally, await log.lines());
    if (failure === null && interrupts < 2) {
      progress(
        `soak: checking frame markers in the last ${FRAME_WINDOW_S} s of each stream ` +
          "(Ctrl-C again skips it)",
      );
      frames = await checkLastFrames(rec, opts.segment, clip.frames, () => interrupts >= 2);
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    await rec?.stop();
    await sources.stop();
    if (!opts.keep) await Deno.remove(`${workDir}/data`, { recursive: true }).catch(() => {});
  }
  report({
    opts,
    clip,
    box,
    startedAt,
    minutes,
    budgetFillMinutes: budget.fillMinutes,
    tally,
    frames,
    failure,
    notFlowing,
    interrupted: signal.aborted,
    dir,
  });
}

function minuteLine(s: SoakMinute, planned: number): string {
  const mib = (kb: number) => (kb / 1024).toFixed(0);
  const procs = s.procs.map((p) => `${p.role} ${mib(p.rssKb)}`).join(", ");
  return `soak ${s.minute}/${planned}: RSS ${mib(s.rssTreeKb)} MiB (${procs}), ` +
    `CPU ${(100 * s.cpuSeconds / 60).toFixed(0)} % core, fds ${s.fds}; recordings ` +
    `${(s.recordingsBytes / MiB).toFixed(0)}/${(s.budgetBytes / MiB).toFixed(0)} MiB ` +
    `(${s.segments} seg), deleted ${(s.deletedBytes / MiB).toFixed(0)} MiB; ` +
    `worker restarts ${s.restarts}`;
}

interface SoakReport {
  readonly opts: BenchOptions;
  readonly clip: LoopClip;
  readonly box: ReturnType<typeof machine>;
  readonly startedAt: Date;
  readonly minutes: readonly SoakMinute[];
  readonly budgetFillMinutes: number | null;
  readonly tally: LogTally;
  readonly frames: FrameCheck | null;
  readonly failure: string | null;
  readonly notFlowing: readonly string[];
  readonly interrupted: boolean;
  readonly dir: string;
}

function report(r: SoakReport): void {
  const { opts, minutes, tally, frames } = r;
  const f1 = (n: number) => n.toFixed(1);
  const mib = (b: number) => (b / MiB).toFixed(0);
  const last = minutes.at(-1)?.minute ?? 0;
  console.log(
    `\nSoak: ${opts.streams} streams, ${last} of ${opts.minutes} min` +
      `${r.interrupted ? " (interrupted)" : ""}, ${opts.segment} s segments, ` +
      `${opts.transport}, remux ${opts.remux}; source ${clipLine(r.clip)}`,
  );
  console.log(
    `machine: ${r.box.cores} cores, ${r.box.cpu}, Linux ${r.box.kernel}, load ${r.box.loadavg} ` +
      `at start; ${r.startedAt.toISOString()}\n`,
  );
  if (minutes.length > 0) console.log(table(soakRows(minutes)));
  const rss = rssVerdict(minutes);
  const budget = budgetVerdict(minutes, opts.streams);
  console.log(
    "\nmemory: " +
      (rss === null
        ? "fewer than 2 minutes sampled: no verdict"
        : `RSS of the tree minute ${rss.warmMinute} → ${rss.lastMinute}: ` +
          `${f1(rss.startMiB)} → ${f1(rss.endMiB)} MiB, ${rss.growthPercent >= 0 ? "+" : ""}` +
          `${f1(rss.growthPercent)} % (${rss.flat ? "flat" : "NOT flat"}: under 5 % is flat); ` +
          `least-squares slope ${
            rss.slopeMiBPerHour === null ? "n/a" : f1(rss.slopeMiBPerHour)
          } MiB/h over minutes ${rss.warmMinute}..${rss.lastMinute}` +
          (rss.warmMinute < 10 ? ` (run under 20 min: warm-up taken as its first half)` : "")),
  );
  console.log(
    `byte budget: largest finished total seen ${mib(budget.peakBytes)} MiB; budget ` +
      `${mib(budget.budgetBytes)} MiB + ${opts.streams} × the largest segment = ` +
      `${mib(budget.limitBytes)} MiB: ` +
      (budget.reachedMinute === null
        ? "NOT shown (the budget was never reached)"
        : `${budget.held ? "held" : "NOT held"}; reached in minute ${budget.reachedMinute}` +
          (r.budgetFillMinutes !== null ? ` (planned ≈ ${r.budgetFillMinutes})` : "")) +
      `; retention deleted ${mib(tally.deletedBytes)} MiB in ${tally.sweeps} sweep(s)` +
      ` (${tally.budgetSegments} segment(s) of them for the budget)`,
  );
  console.log(
    "frames: " +
      (frames === null
        ? "not checked" + (r.failure !== null ? " (the daemon failed)" : " (skipped)")
        : `last ${frames.segmentsPerStream} segment(s) of ${frames.streams} stream(s): ` +
          `${frames.framesOnDisk} frames, ${frames.lost} lost, ${frames.duplicates} duplicated, ` +
          `largest hole ${frames.largestGap}, ${frames.unreadable} unreadable segment(s), ` +
          `${frames.withoutMarker} segment(s) with frames without a marker` +
          (frames.streamsWithoutSegments.length > 0
            ? `; no segment: ${frames.streamsWithoutSegments.join(" ")}`
            : "")),
  );
  console.log(
    `recorder workers restarted: ${tally.restarts}; camera pipeline failures ` +
      `${tally.pipelineFailures}; recording gaps ${tally.gaps}` +
      (r.notFlowing.length > 0 ? `; never wrote: ${r.notFlowing.join(" ")}` : ""),
  );
  if (r.failure !== null) console.log(`the daemon failed: ${r.failure}`);
  if (tally.problems.length > 0) {
    console.log(`daemon warnings/errors (last 8):\n  ${tally.problems.join("\n  ")}`);
  }
  console.log(`samples: ${r.dir}/samples.jsonl; daemon log: ${r.dir}/daemon/daemon.log`);
  const round = (n: number) => Math.round(n * 100) / 100;
  console.log(JSON.stringify({
    bench: "recording-soak",
    date: r.startedAt.toISOString(),
    machine: r.box,
    streams: opts.streams,
    fps: opts.fps,
    size: `${opts.width}x${opts.height}`,
    gopSeconds: opts.gop,
    segmentSeconds: opts.segment,
    transport: opts.transport,
    remux: opts.remux,
    audio: opts.audio,
    clip: { ...r.clip, path: undefined },
    minutesPlanned: opts.minutes,
    minutesRun: last,
    interrupted: r.interrupted,
    failure: r.failure,
    rss: rss === null ? null : {
      warmMinute: rss.warmMinute,
      startMiB: round(rss.startMiB),
      endMiB: round(rss.endMiB),
      growthPercent: round(rss.growthPercent),
      slopeMiBPerHour: rss.slopeMiBPerHour === null ? null : round(rss.slopeMiBPerHour),
      flat: rss.flat,
    },
    budget,
    frames,
    retention: {
      sweeps: tally.sweeps,
      deletedBytes: tally.deletedBytes,
      budgetSegments: tally.budgetSegments,
    },
    workerRestarts: tally.restarts,
    pipelineFailures: tally.pipelineFailures,
    recordingGaps: tally.gaps,
    samples: `${r.dir}/samples.jsonl`,
  }));
}
