/**
 * CPU time and memory of process trees, read from Linux /proc (no perf, no ps).
 *
 * CPU of a tree = Σ over its live processes of utime + stime + cutime + cstime: a child that
 * exits and is reaped moves its time into its parent's cutime/cstime, so the sum stays whole
 * when a daemon spawns and reaps workers. RSS is sampled (VmRSS, summed over the tree) and the
 * kernel's own peak per process (VmHWM) is kept for processes seen alive.
 */

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime of the process itself (all its threads), in clock ticks. */
  readonly ticks: number;
  /** cutime + cstime: reaped children, in clock ticks. */
  readonly childTicks: number;
  readonly rssKb: number;
  readonly hwmKb: number;
}

/** Clock ticks per second (USER_HZ); 100 on every Linux this runs on, asked once via getconf. */
export function clockTicksPerSecond(): number {
  try {
    const out = new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped", stderr: "null" })
      .outputSync();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** Fields of /proc/<pid>/stat after the comm, which is in parentheses and may hold spaces. */
function statFields(text: string): { comm: string; rest: string[] } | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  return { comm: text.slice(open + 1, close), rest: text.slice(close + 2).split(" ") };
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null; // the process (or thread) is gone
  }
}

function statusKb(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) : 0;
}

/** One process, or null when it is gone. */
export function readProc(pid: number): ProcInfo | null {
  const stat = readText(`/proc/${pid}/stat`);
  const status = readText(`/proc/${pid}/status`);
  if (stat === null || status === null) return null;
  const f = statFields(stat);
  if (f === null) return null;
  // rest[0] is field 3 (state); utime is field 14, stime 15, cutime 16, cstime 17.
  const n = (field: number) => Number(f.rest[field - 3] ?? 0);
  return {
    pid,
    ppid: n(4),
    comm: f.comm,
    ticks: n(14) + n(15),
    childTicks: n(16) + n(17),
    rssKb: statusKb(status, "VmRSS"),
    hwmKb: statusKb(status, "VmHWM"),
  };
}

/** Every live process in the trees under `roots` (roots included), read once. */
export function readTree(roots: readonly number[]): ProcInfo[] {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const stat = readText(`/proc/${e.name}/stat`);
    const f = stat === null ? null : statFields(stat);
    if (f === null) continue;
    const ppid = Number(f.rest[1] ?? 0);
    const list = children.get(ppid) ?? [];
    list.push(Number(e.name));
    children.set(ppid, list);
  }
  const out: ProcInfo[] = [];
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const pid = stack.pop() ?? 0;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const p = readProc(pid);
    if (p === null) continue;
    out.push(p);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

export interface TreeSample {
  /** performance.now() when taken. */
  readonly atMs: number;
  readonly cpuSeconds: number;
  readonly rssKb: number;
  readonly processes: number;
}

export function sampleTree(roots: readonly number[], hz: number): TreeSample & {
  readonly procs: ProcInfo[];
} {
  const procs = readTree(roots);
  let ticks = 0;
  let rss = 0;
  for (const p of procs) {
    ticks += p.ticks + p.childTicks;
    rss += p.rssKb;
  }
  return {
    atMs: performance.now(),
    cpuSeconds: ticks / hz,
    rssKb: rss,
    processes: procs.length,
    procs,
  };
}

/** CPU ticks of every thread of `pids`, summed by thread name (comm), e.g. "rtpjitterbuffer". */
export function threadTicksByName(pids: readonly number[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of pids) {
    let tasks: Deno.DirEntry[];
    try {
      tasks = [...Deno.readDirSync(`/proc/${pid}/task`)];
    } catch {
      continue;
    }
    for (const t of tasks) {
      const stat = readText(`/proc/${pid}/task/${t.name}/stat`);
      const f = stat === null ? null : statFields(stat);
      if (f === null) continue;
      const ticks = Number(f.rest[11] ?? 0) + Number(f.rest[12] ?? 0);
      // Numbered threads (worker-3, tokio-runtime-w) are grouped: strip trailing digits.
      const name = f.comm.replace(/[-_:]?\d+$/, "");
      out.set(name, (out.get(name) ?? 0) + ticks);
    }
  }
  return out;
}

/** Threads' CPU between two readings, largest first, in seconds. */
export function threadDelta(
  before: Map<string, number>,
  after: Map<string, number>,
  hz: number,
): { name: string; seconds: number }[] {
  const out: { name: string; seconds: number }[] = [];
  for (const [name, t] of after) {
    const s = (t - (before.get(name) ?? 0)) / hz;
    if (s > 0) out.push({ name, seconds: s });
  }
  return out.sort((a, b) => b.seconds - a.seconds);
}

/**
 * Samples a set of process trees every `intervalMs` and keeps the peaks: the largest summed
 * VmRSS seen, and the largest VmHWM seen per process (summed at the end).
 */
export class TreeMonitor {
  readonly #roots: () => readonly number[];
  readonly #hz: number;
  readonly #hwm = new Map<number, number>();
  #peakRssKb = 0;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(roots: () => readonly number[], hz: number) {
    this.#roots = roots;
    this.#hz = hz;
  }

  /** Takes a sample now (and updates the peaks). */
  sample(): TreeSample & { readonly procs: ProcInfo[] } {
    const s = sampleTree(this.#roots(), this.#hz);
    this.#peakRssKb = Math.max(this.#peakRssKb, s.rssKb);
    for (const p of s.procs) this.#hwm.set(p.pid, Math.max(this.#hwm.get(p.pid) ?? 0, p.hwmKb));
    return s;
  }

  start(intervalMs: number): void {
    this.stop();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Largest Σ VmRSS over the tree seen in any sample. */
  get peakRssKb(): number {
    return this.#peakRssKb;
  }

  /** Σ over every process seen of its largest VmHWM (each process's own peak). */
  get sumHwmKb(): number {
    let s = 0;
    for (const v of this.#hwm.values()) s += v;
    return s;
  }
}
