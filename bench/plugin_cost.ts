/**
 * What one plugin process costs: the serial-sensor plugin (plugins/serial-sensor) under the real
 * plugin host (runtime/plugins, its own sandboxed Deno process), reading the virtual sensor of
 * hw-tests/sim on a socat pty at one sentence pair a second ($TH, then $DC), the door flapping
 * every 10 s so alarms are raised too. Each round starts a fresh host and sensor, waits for the
 * first reading, lets it settle 3 s, then measures for `--seconds`: CPU of the plugin process from
 * /proc/<pid>/stat (utime + stime over the window), its RSS sampled every 500 ms (mean, peak) and
 * the kernel's VmHWM. Prints one line per round and the range.
 *
 *   deno run -A bench/plugin_cost.ts [--seconds 60] [--rounds 3]
 *
 * Run it under `flock /tmp/nvr-heavy.lock` on the shared machine.
 */
import { startSerialSensor } from "../hw-tests/sim/serial_sensor.ts";
import { installFromFolder } from "../runtime/plugins/install.ts";
import { PluginHost } from "../runtime/plugins/plugin_host.ts";
import { quietLog, removeTree, waitFor } from "../runtime/plugins/plugin_fixture.ts";
import { clockTicksPerSecond, readProc } from "./proc_stats.ts";

const REPO = new URL("../", import.meta.url).pathname;

interface Round {
  readonly cpuPercent: number;
  readonly rssMeanMiB: number;
  readonly rssPeakMiB: number;
  readonly hwmMiB: number;
  readonly readings: number;
  readonly alarms: number;
}

/** The pid of the plugin's process: our child running runtime/plugins/child_main.ts. */
function pluginPid(): number | null {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const info = readProc(Number(e.name));
    if (!info || info.ppid !== Deno.pid) continue;
    const cmd = (() => {
      try {
        return Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      } catch {
        return "";
      }
    })();
    if (cmd.includes("child_main.ts")) return info.pid;
  }
  return null;
}

async function round(seconds: number): Promise<Round> {
  const root = await Deno.makeTempDir({ prefix: "nvr-plugin-bench-" });
  try {
    await Deno.mkdir(`${root}/dev`);
    await using sensor = await startSerialSensor({
      dir: `${root}/dev`,
      deviceName: "ttyUSB0",
      intervalMs: 1000,
    });
    await sensor.setDoor(false);
    await installFromFolder(`${REPO}plugins/serial-sensor`, `${root}/plugins`);
    let alarms = 0;
    const host = new PluginHost({
      log: quietLog(),
      dir: `${root}/plugins`,
      devRoot: `${root}/dev`,
      restartMs: [60_000],
      onEvent: () => alarms++,
    });
    try {
      await host.apply({
        "serial-sensor": { enabled: true, settings: { device: "/dev/ttyUSB0" } },
      });
      const status = () => host.statuses().find((s) => s.id === "serial-sensor");
      await waitFor(
        "the first reading",
        () => status()?.readings.some((r) => r.name === "temperature"),
      );
      const pid = await waitFor("the plugin's process", () => pluginPid());
      let open = false;
      const door = setInterval(() => void sensor.setDoor(open = !open).catch(() => {}), 10_000);
      await new Promise((r) => setTimeout(r, 3_000));
      const hz = clockTicksPerSecond();
      const start = readProc(pid);
      if (!start) throw new Error("the plugin's process is gone");
      const sentBefore = sensor.readingsSent;
      alarms = 0;
      const t0 = performance.now();
      const rss: number[] = [];
      const deadline = t0 + seconds * 1000;
      while (performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        const p = readProc(pid);
        if (!p) throw new Error("the plugin's process exited during the run");
        rss.push(p.rssKb);
      }
      const end = readProc(pid)!;
      const elapsed = (performance.now() - t0) / 1000;
      clearInterval(door);
      if (status()?.restarts !== 0) {
        throw new Error(`the plugin restarted: ${JSON.stringify(status())}`);
      }
      return {
        cpuPercent: ((end.ticks - start.ticks) / hz / elapsed) * 100,
        rssMeanMiB: rss.reduce((a, b) => a + b, 0) / rss.length / 1024,
        rssPeakMiB: Math.max(...rss) / 1024,
        hwmMiB: end.hwmKb / 1024,
        readings: sensor.readingsSent - sentBefore,
        alarms,
      };
    } finally {
      await host.close();
    }
  } finally {
    await removeTree(root);
  }
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  };
  const seconds = arg("seconds", 60);
  const rounds = arg("rounds", 3);
  if (!(seconds > 0 && seconds <= 600) || !(rounds >= 1 && rounds <= 10)) {
    console.error("--seconds 1..600 and --rounds 1..10");
    Deno.exit(2);
  }
  const load = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
  console.log(`serial-sensor plugin, ${seconds} s × ${rounds} rounds; load average ${load}`);
  const results: Round[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = await round(seconds);
    results.push(r);
    console.log(
      `round ${i + 1}: CPU ${r.cpuPercent.toFixed(2)} % of a core, RSS mean ${
        r.rssMeanMiB.toFixed(1)
      } MiB, peak ${r.rssPeakMiB.toFixed(1)} MiB, VmHWM ${r.hwmMiB.toFixed(1)} MiB ` +
        `(${r.readings} readings, ${r.alarms} alarms)`,
    );
  }
  const range = (f: (r: Round) => number, d = 1) =>
    `${Math.min(...results.map(f)).toFixed(d)}–${Math.max(...results.map(f)).toFixed(d)}`;
  console.log(
    `range: CPU ${range((r) => r.cpuPercent, 2)} % of a core, RSS mean ${
      range((r) => r.rssMeanMiB)
    } MiB, peak ${range((r) => r.rssPeakMiB)} MiB`,
  );
  console.log(`load average after: ${Deno.loadavg().map((n) => n.toFixed(2)).join(" ")}`);
}
