/**
 * What /proc says about this test's processes: resident memory, CPU time, and the recorder
 * processes the daemon under test started (children running recorder/workers/worker_main.ts).
 */

/** Resident memory of a process in bytes (/proc/<pid>/status VmRSS). */
export async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

/** CPU time (user + system) a process has used, in clock ticks (/proc/<pid>/stat). */
export async function cpuTicks(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the name: state is field 3, utime 14 and stime 15 (proc(5)), so indexes 11 and 12.
  return Number(fields[11]) + Number(fields[12]);
}

/** The recorder processes of the daemon in `parent` (default: this process), by pid. */
export async function recorderPids(parent: number = Deno.pid): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== parent) continue;
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (cmd.includes("worker_main.ts")) pids.push(Number(e.name));
    } catch { /* gone */ }
  }
  return pids;
}

/**
 * The recorder processes of a daemon started in this process (daemon_harness.ts), from its worker
 * pool, sorted. Not by parent pid: with `deno test --parallel` other test files' daemons are
 * children of this process too.
 */
export function daemonRecorderPids(recorders: unknown): number[] {
  const pool = recorders as { pids?: () => Record<string, number | null> };
  if (typeof pool.pids !== "function") return [];
  const pids = Object.values(pool.pids()).filter((p): p is number => p !== null);
  return [...new Set(pids)].sort((a, b) => a - b);
}

/** What a finished command printed, and how it ended. */
export interface CommandResult {
  readonly code: number;
  readonly success: boolean;
  readonly out: string;
  readonly err: string;
}

/** Runs `cmd args`, with `stdin` written to it when given (else no stdin), to its end. */
export async function runCommand(
  cmd: string,
  args: readonly string[],
  stdin?: string,
): Promise<CommandResult> {
  const child = new Deno.Command(cmd, {
    args: [...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await child.output();
  const dec = new TextDecoder();
  return { code: o.code, success: o.success, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}
