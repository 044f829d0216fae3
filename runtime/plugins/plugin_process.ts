/**
 * One run of one plugin process: started with sandboxArgs, fed `init`, read line by line, watched
 * (heartbeat, CPU and memory from /proc, output rate) and killed at the first breach. Returns why it
 * ended. Restarts are the supervisor's (plugin_supervisor.ts).
 */
import type { Logger } from "../lib/log.ts";
import { checkPluginCode, denoDir } from "./code_check.ts";
import type { Manifest } from "./manifest.ts";
import {
  decodeBase64,
  encodeBase64,
  type FromPlugin,
  LineReader,
  parseFromPlugin,
  ProtocolViolation,
  type ReadingValue,
  type ToPlugin,
} from "./protocol.ts";
import { sandboxArgs } from "./sandbox.ts";
import { BAUD_RATES, type SerialOpener, type SerialPortLike } from "./serial_relay.ts";

export interface Limits {
  /** No heartbeat (or any line) for this long once the plugin has said its first line: killed. */
  readonly hangMs: number;
  /**
   * From the spawn to the plugin's first line (Deno starting, its modules loading): a slow board
   * under load takes far longer than hangMs for this, as the recorder workers do
   * (recorder/workers/worker_pool.ts). A plugin spinning before its first line is still stopped
   * by the CPU limit.
   */
  readonly startMs: number;
  /**
   * Share of one core, 0–100 %, averaged over cpuWindowMs, above which it is killed. What counts
   * is what the plugin wants: the time it ran plus the time it was ready to run but waited for a
   * core (the scheduler's run-queue delay, /proc/<pid>/task/<tid>/schedstat). On a busy box a
   * spinning plugin gets only a slice of a core, yet still wants all of it; counting use alone
   * would let a hog pass exactly when the box has no time to spare.
   */
  readonly cpuPercent: number;
  readonly cpuWindowMs: number;
  /** Resident memory allowed beyond the V8 heap cap (the runtime itself, buffers), MiB. */
  readonly rssExtraMb: number;
  /** Output allowed per second (stdout lines, stdout+stderr bytes). */
  readonly linesPerSecond: number;
  readonly bytesPerSecond: number;
  /** After `stop`, how long it may take before it is killed. */
  readonly stopGraceMs: number;
  /** Serial ports open at once. */
  readonly maxPorts: number;
}

export const DEFAULT_LIMITS: Limits = {
  hangMs: 15_000,
  startMs: 120_000,
  cpuPercent: 50,
  cpuWindowMs: 10_000,
  // A Deno process with nothing loaded is about 40 MiB resident (measured here, 2.9.6).
  rssExtraMb: 96,
  linesPerSecond: 200,
  bytesPerSecond: 256 * 1024,
  stopGraceMs: 2_000,
  maxPorts: 4,
};

export interface Reading {
  readonly name: string;
  readonly value: ReadingValue;
  readonly unit: string;
  readonly tsMs: number;
}

export interface RunHooks {
  readonly log: Logger;
  readonly limits: Limits;
  readonly sysRoot: string;
  readonly procRoot: string;
  readonly serial: SerialOpener;
  readonly now: () => number;
  readonly onReady: (pid: number) => void;
  readonly onReading: (reading: Reading) => void;
  readonly onEvent: (detail: { sensor: string; reason: string; value?: ReadingValue }) => void;
  readonly onUsage: (usage: { cpuPercent: number | null; rssBytes: number | null }) => void;
}

/** Runs the plugin once; resolves with why it ended ("stopped" when `signal` stopped it). */
export async function runPluginOnce(
  manifest: Manifest,
  dir: string,
  settings: Record<string, ReadingValue>,
  hooks: RunHooks,
  signal: AbortSignal,
): Promise<{ stopped: boolean; reason: string }> {
  const { log, limits, now } = hooks;
  await checkPluginCode(dir, manifest.main);
  if (signal.aborted) return { stopped: true, reason: "stopped" };
  const child = new Deno.Command(Deno.execPath(), {
    args: sandboxArgs(manifest, dir, hooks.sysRoot),
    cwd: dir,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { NO_COLOR: "1", ...denoDir() },
  }).spawn();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  let writing: Promise<void> = Promise.resolve();
  const send = (message: ToPlugin) => {
    writing = writing.then(() => writer.write(encoder.encode(JSON.stringify(message) + "\n")))
      .catch(() => {});
    return writing;
  };

  let verdict: string | null = null;
  const kill = (why: string) => {
    verdict ??= why;
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  };
  let lastHeard = now();
  let heardAny = false;
  let windowStart = now();
  let lines = 0;
  let bytes = 0;
  const count = (n: number, isLine: boolean) => {
    const t = now();
    if (t - windowStart >= 1_000) windowStart = t, lines = 0, bytes = 0;
    bytes += n;
    if (isLine) lines++;
    if (lines > limits.linesPerSecond || bytes > limits.bytesPerSecond) {
      kill(
        `flooded its output (more than ${limits.linesPerSecond} messages or ` +
          `${limits.bytesPerSecond} bytes in a second) and was stopped`,
      );
    }
  };

  // The watchdog: heartbeat, CPU and resident memory, read from /proc every half second.
  const cpu: { t: number; ticks: number; waitMs: number | null }[] = [];
  const rssCap = (manifest.memoryMb + limits.rssExtraMb) * 1024 * 1024;
  const watchdog = setInterval(async () => {
    const t = now();
    if (!heardAny && t - lastHeard > Math.max(limits.startMs, limits.hangMs)) {
      const limit = Math.max(limits.startMs, limits.hangMs) / 1000;
      kill(`did not start within ${limit} s (no line from it) and was killed`);
      return;
    }
    if (heardAny && t - lastHeard > limits.hangMs) {
      kill(`stopped answering for ${Math.round(limits.hangMs / 1000)} s and was killed`);
      return;
    }
    const usage = await readUsage(hooks.procRoot, child.pid);
    if (!usage) return;
    cpu.push({ t, ticks: usage.ticks, waitMs: usage.waitMs });
    while (cpu.length > 2 && t - cpu[1]!.t >= limits.cpuWindowMs) cpu.shift();
    const first = cpu[0]!;
    let cpuPercent: number | null = null;
    let waitPercent = 0;
    if (t - first.t > 0) {
      cpuPercent = ((usage.ticks - first.ticks) * 1000) / (t - first.t);
      if (usage.waitMs !== null && first.waitMs !== null) {
        waitPercent = Math.max(0, ((usage.waitMs - first.waitMs) * 100) / (t - first.t));
      }
    }
    hooks.onUsage({ cpuPercent, rssBytes: usage.rssBytes });
    if (
      cpuPercent !== null && t - first.t >= limits.cpuWindowMs &&
      cpuPercent + waitPercent > limits.cpuPercent
    ) {
      const waited = Math.round(waitPercent) >= 1
        ? ` and waited for one ${Math.round(waitPercent)}% of the time`
        : "";
      kill(
        `used ${Math.round(cpuPercent)}% of a core${waited} for ${
          Math.round(limits.cpuWindowMs / 1000)
        } s (at most ${limits.cpuPercent}%) and was stopped`,
      );
    }
    if (usage.rssBytes > rssCap) {
      kill(
        `grew to ${Math.round(usage.rssBytes / 1048576)} MiB of memory (at most ` +
          `${manifest.memoryMb + limits.rssExtraMb} MiB) and was stopped`,
      );
    }
  }, 500);

  const ports = new Map<number, SerialPortLike>();
  const openPort = async (m: Extract<FromPlugin, { t: "serial-open" }>) => {
    const refuse = (error: string) => send({ t: "serial-closed", port: m.port, error });
    if (!manifest.permissions.devices.includes(m.path)) {
      return refuse(`${m.path} is not in the manifest's permissions.devices`);
    }
    if (!BAUD_RATES.includes(m.baudRate)) {
      return refuse(`baud rate ${m.baudRate} is not one of ${BAUD_RATES.join(", ")}`);
    }
    if (ports.size >= limits.maxPorts || ports.has(m.port)) {
      return refuse(`at most ${limits.maxPorts} ports at once, each number once`);
    }
    let port: SerialPortLike;
    try {
      port = await hooks.serial(m.path, {
        baudRate: m.baudRate,
        ...(m.parity === undefined ? {} : { parity: m.parity }),
        ...(m.stopBits === undefined ? {} : { stopBits: m.stopBits }),
      });
    } catch (err) {
      return refuse(err instanceof Error ? err.message : String(err));
    }
    if (verdict !== null || signal.aborted) return void port.close();
    ports.set(m.port, port);
    await send({ t: "serial-opened", port: m.port });
    let error: string | null = null;
    try {
      for (let chunk = await port.read(); chunk; chunk = await port.read()) {
        for (let i = 0; i < chunk.length; i += 16_384) {
          await send({
            t: "serial-data",
            port: m.port,
            b64: encodeBase64(chunk.subarray(i, i + 16_384)),
          });
        }
      }
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (ports.delete(m.port)) {
      await Promise.resolve(port.close()).catch(() => {});
      await send({ t: "serial-closed", port: m.port, error });
    }
  };

  const receive = (m: FromPlugin) => {
    switch (m.t) {
      case "ready":
        hooks.onReady(child.pid);
        break;
      case "reading":
        hooks.onReading({ name: m.name, value: m.value, unit: m.unit, tsMs: now() });
        break;
      case "event":
        hooks.onEvent({
          sensor: m.sensor,
          reason: m.reason,
          ...(m.value === undefined ? {} : { value: m.value }),
        });
        break;
      case "log":
        log[m.level]("plugin: " + m.msg);
        break;
      case "serial-open":
        void openPort(m);
        break;
      case "serial-write": {
        const port = ports.get(m.port);
        if (port) Promise.resolve(port.write(decodeBase64(m.b64))).catch(() => {});
        break;
      }
      case "serial-close": {
        const port = ports.get(m.port);
        ports.delete(m.port);
        if (port) Promise.resolve(port.close()).catch(() => {});
        break;
      }
      case "done":
        if (m.error) verdict ??= `failed: ${m.error}`;
        break;
    }
  };

  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => {
    void send({ t: "stop" });
    graceTimer = setTimeout(() => kill("did not stop in time and was killed"), limits.stopGraceMs);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  // Stopped while it was being spawned: the listener came too late to hear it.
  if (signal.aborted) onAbort();
  const stderr = forwardStderr(child.stderr, log, (n) => count(n, false));
  await send({ t: "init", id: manifest.id, settings, sysRoot: hooks.sysRoot });
  const reader = new LineReader();
  try {
    for await (const chunk of child.stdout) {
      lastHeard = now();
      heardAny = true;
      count(chunk.length, false);
      for (const line of reader.push(chunk)) {
        count(0, true);
        if (verdict !== null) break;
        if (line.trim()) receive(parseFromPlugin(line));
      }
      if (verdict !== null) break;
    }
  } catch (err) {
    if (err instanceof ProtocolViolation) kill(`${err.message}; it was stopped`);
    else kill(`its output could not be read (${err})`);
  }
  if (verdict !== null) kill(verdict);
  const status = await child.status;
  clearInterval(watchdog);
  clearTimeout(graceTimer);
  signal.removeEventListener("abort", onAbort);
  await child.stdout.cancel().catch(() => {});
  const oom = await stderr;
  for (const port of ports.values()) await Promise.resolve(port.close()).catch(() => {});
  ports.clear();
  writer.releaseLock();
  await child.stdin.close().catch(() => {});
  if (oom && verdict === null) {
    verdict = `ran out of its ${manifest.memoryMb} MiB memory cap and was stopped`;
  }
  if (signal.aborted && (verdict === null || verdict.startsWith("did not stop"))) {
    return { stopped: true, reason: verdict ?? "stopped" };
  }
  return {
    stopped: false,
    reason: verdict ??
      (status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`),
  };
}

/** CPU ticks (user + system) and resident bytes of a process, or null once it is gone. */
export async function readUsage(
  procRoot: string,
  pid: number,
): Promise<{ ticks: number; waitMs: number | null; rssBytes: number } | null> {
  try {
    const stat = await Deno.readTextFile(`${procRoot}/${pid}/stat`);
    // Fields after the command name, which may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of proc(5), 12 and 13 after the name; USER_HZ is 100.
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = await Deno.readTextFile(`${procRoot}/${pid}/status`);
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return {
      ticks,
      waitMs: await runQueueWaitMs(procRoot, pid),
      rssBytes: rss ? Number(rss[1]) * 1024 : 0,
    };
  } catch {
    return null;
  }
}

/**
 * Time the process's threads spent ready to run but waiting for a core, in ms: the second field
 * of each /proc/<pid>/task/<tid>/schedstat (ns). Null where the kernel has no schedstat
 * (CONFIG_SCHED_INFO off) or a thread's file cannot be read; then only use counts.
 */
export async function runQueueWaitMs(procRoot: string, pid: number): Promise<number | null> {
  let ns = 0;
  try {
    for await (const task of Deno.readDir(`${procRoot}/${pid}/task`)) {
      const fields = (await Deno.readTextFile(`${procRoot}/${pid}/task/${task.name}/schedstat`))
        .trim().split(/\s+/);
      const wait = Number(fields[1]);
      if (fields.length < 3 || !Number.isFinite(wait)) return null;
      ns += wait;
    }
  } catch {
    return null; // no schedstat, or a thread ended while we read: this sample counts use only
  }
  return ns / 1e6;
}

/**
 * The plugin's stderr, as warnings: at most 20 lines per 10 s reach the log, each cut at 500
 * characters. Resolves true when V8 reported running out of heap.
 */
async function forwardStderr(
  stream: ReadableStream<Uint8Array>,
  log: Logger,
  count: (bytes: number) => void,
): Promise<boolean> {
  let oom = false;
  let shown = 0;
  let since = Date.now();
  let buffered = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      count(chunk.length);
      buffered = (buffered + chunk).slice(-4096);
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (/out of memory|heap limit/i.test(line)) oom = true;
        if (Date.now() - since > 10_000) since = Date.now(), shown = 0;
        if (line.trim() && shown++ < 20) log.warn("plugin stderr", { output: line.slice(0, 500) });
      }
    }
  } catch { /* gone */ }
  return oom || /out of memory|heap limit/i.test(buffered);
}
