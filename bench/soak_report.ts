/**
 * The soak's figures without any I/O (bench/soak.ts takes the samples): the default byte budget,
 * what the daemon's log says about retention and restarts, the verdicts on memory and on the
 * budget, and the summary table. Kept pure so they are tested with fixed numbers.
 */

/** One process of the daemon's tree at a minute's sample. */
export interface ProcMinute {
  /** "daemon", "w1"… (recorder workers, by pid), else the process's comm. */
  readonly role: string;
  readonly pid: number;
  readonly rssKb: number;
  readonly hwmKb: number;
  readonly fds: number;
}

/** One line of the soak's samples file (JSON lines), taken at the end of each minute. */
export interface SoakMinute {
  readonly minute: number;
  /** Wall clock, ISO 8601. */
  readonly at: string;
  /** Σ VmRSS over the daemon's tree. */
  readonly rssTreeKb: number;
  /** Σ VmHWM over the tree's live processes. */
  readonly hwmSumKb: number;
  readonly procs: readonly ProcMinute[];
  /** Open file descriptors, whole tree. */
  readonly fds: number;
  /** CPU of the tree in this minute, seconds. */
  readonly cpuSeconds: number;
  /** The whole machine's busy share in this minute (all cores = 100 %): other load on the box. */
  readonly machineBusyPercent: number;
  /** Finished segments on disk (the files retention counts), bytes and count, at the sample. */
  readonly recordingsBytes: number;
  readonly segments: number;
  /** The largest finished total seen by the walks in this minute (every DISK_WALK_MS). */
  readonly recordingsPeakBytes: number;
  /** Segments still being written (.incoming), bytes. */
  readonly openBytes: number;
  /** The largest finished segment file seen so far. */
  readonly largestSegmentBytes: number;
  readonly budgetBytes: number;
  /** From the daemon's log, in this minute: bytes retention deleted and its sweeps that did. */
  readonly deletedBytes: number;
  readonly sweeps: number;
  /** From the daemon's log, since the start: recorder workers lost and restarted. */
  readonly restarts: number;
}

const MiB = 2 ** 20;

/** The longest the soak lets pass before recordings should reach the budget. */
export const BUDGET_FILL_MINUTES = 10;

/**
 * storage.maxBytes for a soak: what `streams` at `kbps` write in BUDGET_FILL_MINUTES (half the
 * run for a run shorter than 20 minutes, so a smoke shows retention too), in whole MiB.
 */
export function soakBudget(
  streams: number,
  kbps: number,
  runMinutes: number,
): { bytes: number; fillMinutes: number } {
  const fillMinutes = Math.max(1, Math.min(BUDGET_FILL_MINUTES, Math.floor(runMinutes / 2)));
  const bytes = streams * kbps * 1000 / 8 * fillMinutes * 60;
  return { bytes: Math.max(1, Math.round(bytes / MiB)) * MiB, fillMinutes };
}

/**
 * The minutes the summary table shows: 1, 5, 10, then every 10 (every 60 past 3 h), and the last;
 * every minute of a run shorter than 10 minutes (a smoke).
 */
export function tableMinutes(last: number): number[] {
  if (last < 10) return Array.from({ length: Math.max(0, last) }, (_, i) => i + 1);
  const out = new Set<number>();
  for (const m of [1, 5, 10]) if (m <= last) out.add(m);
  const step = last > 180 ? 60 : 10;
  for (let m = 20; m <= last; m += 10) if (m % step === 0 || m <= 60) out.add(m);
  if (last >= 1) out.add(last);
  return [...out].sort((a, b) => a - b);
}

/** Least-squares slope of y over x (x in minutes), per hour; null with fewer than 2 points. */
export function slopePerHour(points: readonly (readonly [number, number])[]): number | null {
  const n = points.length;
  if (n < 2) return null;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? null : sxy / sxx * 60;
}

/** RSS counts as flat when it grows less than this from the end of warm-up to the end. */
export const FLAT_GROWTH_PERCENT = 5;
/** Warm-up: the first 10 minutes (issue 15); a run shorter than 20 minutes takes its first half. */
export const WARM_UP_MINUTES = 10;

export interface RssVerdict {
  readonly warmMinute: number;
  readonly lastMinute: number;
  readonly startMiB: number;
  readonly endMiB: number;
  readonly growthPercent: number;
  /** Least squares over every minute from warmMinute to the end, MiB per hour. */
  readonly slopeMiBPerHour: number | null;
  readonly flat: boolean;
}

/** Tree RSS growth after warm-up; null with fewer than two minutes sampled. */
export function rssVerdict(minutes: readonly SoakMinute[]): RssVerdict | null {
  const last = minutes.at(-1);
  if (last === undefined || last.minute < 2) return null;
  const warmMinute = last.minute >= 2 * WARM_UP_MINUTES
    ? WARM_UP_MINUTES
    : Math.floor(last.minute / 2);
  const after = minutes.filter((m) => m.minute >= warmMinute);
  const start = after[0];
  if (start === undefined) return null;
  const startMiB = start.rssTreeKb / 1024;
  const endMiB = last.rssTreeKb / 1024;
  const growthPercent = startMiB > 0 ? 100 * (endMiB - startMiB) / startMiB : 0;
  return {
    warmMinute: start.minute,
    lastMinute: last.minute,
    startMiB,
    endMiB,
    growthPercent,
    slopeMiBPerHour: slopePerHour(after.map((m) => [m.minute, m.rssTreeKb / 1024] as const)),
    flat: growthPercent < FLAT_GROWTH_PERCENT,
  };
}

export interface BudgetVerdict {
  readonly budgetBytes: number;
  /** The largest finished total any walk saw. */
  readonly peakBytes: number;
  /** budget + streams × the largest finished segment seen. */
  readonly limitBytes: number;
  /** The first minute whose walks saw the budget reached, or null: the run never showed it. */
  readonly reachedMinute: number | null;
  /** Bytes retention deleted over the run (its log). */
  readonly deletedBytes: number;
  /** Reached, and never over the limit. */
  readonly held: boolean;
}

export function budgetVerdict(minutes: readonly SoakMinute[], streams: number): BudgetVerdict {
  const budgetBytes = minutes[0]?.budgetBytes ?? 0;
  const peakBytes = Math.max(0, ...minutes.map((m) => m.recordingsPeakBytes));
  const largest = Math.max(0, ...minutes.map((m) => m.largestSegmentBytes));
  const limitBytes = budgetBytes + streams * largest;
  const reached = minutes.find((m) => m.recordingsPeakBytes >= budgetBytes || m.deletedBytes > 0);
  return {
    budgetBytes,
    peakBytes,
    limitBytes,
    reachedMinute: reached?.minute ?? null,
    deletedBytes: minutes.reduce((a, m) => a + m.deletedBytes, 0),
    held: reached !== undefined && peakBytes <= limitBytes,
  };
}

/** What the soak counts in the daemon's log (JSON lines; worker lines are forwarded into it). */
export interface LogTally {
  /** "recorder process lost": a worker crashed or hung and is restarted. */
  restarts: number;
  /** "retention sweep" lines (a sweep that deleted something) and the bytes they deleted. */
  sweeps: number;
  deletedBytes: number;
  /** Segments those sweeps deleted for the byte budget (the others: for age or free space). */
  budgetSegments: number;
  /** "camera pipeline failed; retrying" and "recording gap" lines. */
  pipelineFailures: number;
  gaps: number;
  /** The last warning and error lines, at most 8. */
  problems: string[];
}

export function emptyTally(): LogTally {
  return {
    restarts: 0,
    sweeps: 0,
    deletedBytes: 0,
    budgetSegments: 0,
    pipelineFailures: 0,
    gaps: 0,
    problems: [],
  };
}

/** Adds complete log lines to `tally`; lines that are not JSON are ignored. */
export function tallyLogLines(tally: LogTally, lines: readonly string[]): void {
  for (const line of lines) {
    let j: { level?: unknown; msg?: unknown; bytes?: unknown; byReason?: { budget?: unknown } };
    try {
      j = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof j !== "object" || j === null) continue;
    switch (j.msg) {
      case "recorder process lost":
        tally.restarts++;
        break;
      case "retention sweep":
        tally.sweeps++;
        tally.deletedBytes += typeof j.bytes === "number" ? j.bytes : 0;
        tally.budgetSegments += typeof j.byReason?.budget === "number" ? j.byReason.budget : 0;
        break;
      case "camera pipeline failed; retrying":
        tally.pipelineFailures++;
        break;
      case "recording gap":
        tally.gaps++;
        break;
    }
    if (j.level === "warn" || j.level === "error") {
      tally.problems.push(line.length > 300 ? `${line.slice(0, 300)}…` : line);
      if (tally.problems.length > 8) tally.problems.shift();
    }
  }
}

/** The summary table's rows (header first), one per tableMinutes() minute that was sampled. */
export function soakRows(minutes: readonly SoakMinute[]): string[][] {
  const last = minutes.at(-1);
  if (last === undefined) return [];
  const roles = [...new Set(minutes.flatMap((m) => m.procs.map((p) => p.role)))];
  const mib = (b: number) => (b / MiB).toFixed(0);
  const rows: string[][] = [[
    "min",
    "RSS tree MiB",
    ...roles.map((r) => `${r} MiB`),
    "Σ HWM MiB",
    "CPU % core",
    "fds",
    "segments",
    "recordings MiB",
    "peak / budget",
    "deleted MiB",
  ]];
  const wanted = new Set(tableMinutes(last.minute));
  for (const m of minutes) {
    if (!wanted.has(m.minute)) continue;
    const proc = (role: string) => m.procs.filter((p) => p.role === role);
    rows.push([
      String(m.minute),
      (m.rssTreeKb / 1024).toFixed(0),
      ...roles.map((r) => {
        const ps = proc(r);
        return ps.length === 0 ? "-" : (ps.reduce((a, p) => a + p.rssKb, 0) / 1024).toFixed(0);
      }),
      (m.hwmSumKb / 1024).toFixed(0),
      (100 * m.cpuSeconds / 60).toFixed(1),
      String(m.fds),
      String(m.segments),
      mib(m.recordingsBytes),
      m.budgetBytes > 0 ? `${(100 * m.recordingsPeakBytes / m.budgetBytes).toFixed(0)} %` : "-",
      mib(m.deletedBytes),
    ]);
  }
  return rows;
}
