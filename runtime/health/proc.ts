/** Uptime, load, CPU times and memory from /proc: pure parsers plus readers taking the root. */
import { readTextOrNull } from "../fingerprint/read_text.ts";
import type { CpuUse, LoadAverage, MemoryUse } from "./types.ts";

/** Jiffies of one `cpu` line of /proc/stat. */
export interface CpuTimes {
  readonly busy: number;
  readonly idle: number;
  readonly iowait: number;
}

/** The aggregate line first, then one per core. */
export interface ProcStat {
  readonly total: CpuTimes;
  readonly cores: readonly CpuTimes[];
}

/** Parses /proc/stat's `cpu` lines; null when there are none. */
export function parseProcStat(text: string): ProcStat | null {
  let total: CpuTimes | null = null;
  const cores: CpuTimes[] = [];
  for (const line of text.split("\n")) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    // user nice system idle iowait irq softirq steal guest guest_nice; guest is inside user.
    const f = (m[2] ?? "").trim().split(/\s+/).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
      f;
    const t = { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait, iowait };
    if (m[1] === "") total = t;
    else cores.push(t);
  }
  return total === null ? null : { total, cores };
}

function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0;
}

/** CPU use between two readings, one decimal. */
export function cpuUse(a: ProcStat | null, b: ProcStat | null, sampleMs: number): CpuUse {
  if (a === null || b === null) {
    return { usedPercent: null, perCorePercent: [], iowaitPercent: null, sampleMs };
  }
  const use = (x: CpuTimes, y: CpuTimes) => {
    const busy = Math.max(0, y.busy - x.busy);
    const all = busy + Math.max(0, y.idle - x.idle);
    return { busy: percent(busy, all), iowait: percent(Math.max(0, y.iowait - x.iowait), all) };
  };
  const total = use(a.total, b.total);
  return {
    usedPercent: total.busy,
    perCorePercent: b.cores.map((y, i) => {
      const x = a.cores[i];
      return x === undefined ? 0 : use(x, y).busy;
    }),
    iowaitPercent: total.iowait,
    sampleMs,
  };
}

/** `/proc/uptime`'s first number. */
export function parseUptime(text: string): number | null {
  const v = Number(text.trim().split(/\s+/)[0]);
  return Number.isFinite(v) ? v : null;
}

/** `/proc/loadavg`'s first three numbers. */
export function parseLoadavg(text: string): LoadAverage | null {
  const [one, five, fifteen] = text.trim().split(/\s+/).map(Number);
  if (![one, five, fifteen].every((n) => Number.isFinite(n))) return null;
  return { one: one ?? 0, five: five ?? 0, fifteen: fifteen ?? 0 };
}

/** `/proc/meminfo` in bytes; null without MemTotal. Kernels before 3.14 lack MemAvailable. */
export function parseMeminfo(text: string): MemoryUse | null {
  const kb = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m?.[1] !== undefined) kb.set(m[1], Number(m[2]));
  }
  const total = kb.get("MemTotal");
  if (total === undefined || total === 0) return null;
  const available = kb.get("MemAvailable") ??
    (kb.get("MemFree") ?? 0) + (kb.get("Buffers") ?? 0) + (kb.get("Cached") ?? 0);
  const swapTotal = kb.get("SwapTotal") ?? 0;
  return {
    totalBytes: total * 1024,
    availableBytes: available * 1024,
    usedBytes: (total - available) * 1024,
    usedPercent: percent(total - available, total),
    swapTotalBytes: swapTotal * 1024,
    swapUsedBytes: (swapTotal - (kb.get("SwapFree") ?? swapTotal)) * 1024,
  };
}

/** Reads `<procRoot>/<name>` and parses it; null when the file is absent. */
export async function readProc<T>(
  procRoot: string,
  name: string,
  parse: (text: string) => T | null,
): Promise<T | null> {
  const text = await readTextOrNull(`${procRoot}/${name}`);
  return text === null ? null : parse(text);
}
