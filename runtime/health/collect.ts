/**
 * collectHealth: one health sample. Files come from injectable roots, commands (smartctl,
 * vcgencmd) from injectable runners, free space from `diskSpace`, and the recorder's and plugin
 * host's state are inputs. CPU use needs two /proc/stat readings `cpuSampleMs` apart.
 */
import { listDisks } from "../fingerprint/disks.ts";
import { type SmartctlRunner, systemSmartctl } from "../fingerprint/smartctl.ts";
import type { CameraStatus } from "../recorder/supervisor/camera_status.ts";
import { type DiskSpace, diskSpace as realDiskSpace } from "../storage/disk_space.ts";
import { type SoftwareVersion, softwareVersion } from "../lib/version.ts";
import {
  cpuUse,
  parseLoadavg,
  parseMeminfo,
  parseProcStat,
  parseUptime,
  readProc,
} from "./proc.ts";
import { readSmart } from "./smart.ts";
import { cpuTemperature, readTemperatures } from "./thermal.ts";
import { readThrottling, systemVcgencmd, type VcgencmdRunner } from "./throttle.ts";
import type {
  CameraClockHealth,
  CameraEventsHealth,
  CameraHealth,
  DiskUse,
  Health,
  PluginStatus,
} from "./types.ts";

export interface HealthSources {
  /** Default "/sys". */
  readonly sysRoot?: string;
  /** Default "/proc". */
  readonly procRoot?: string;
  /** Where device nodes are named, default "/dev". */
  readonly devRoot?: string;
  /** Between the two /proc/stat readings, default 250 ms. */
  readonly cpuSampleMs?: number;
  /** Waits between the readings; default a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Default the system's vcgencmd (absent off the Pi: throttling null); null: do not ask. */
  readonly vcgencmd?: VcgencmdRunner | null;
  /** `smartctl --json -i -H -A`; default the system's; null: no SMART (e.g. between SMART rounds). */
  readonly smartctl?: SmartctlRunner | null;
  /** Devices to ask smartctl about; default every physical disk under `<sysRoot>/block`. */
  readonly smartDevices?: readonly string[];
  /** Filesystems to report, e.g. the data folder and "/"; default `[{label:"root", path:"/"}]`. */
  readonly diskPaths?: readonly { readonly label: string; readonly path: string }[];
  /** Default statvfs through runtime/storage/disk_space.ts. */
  readonly diskSpace?: (path: string) => DiskSpace;
  /** From the recorder (CameraSupervisor/RecorderSet status). */
  readonly cameras?: readonly CameraStatus[];
  /** Each camera's ONVIF events state, by camera id (app/camera_events.ts). */
  readonly cameraEvents?: ReadonlyMap<string, CameraEventsHealth>;
  readonly plugins?: readonly PluginStatus[];
  /** The last clock check of each camera by id (app/camera_clock_keeper.ts); default none. */
  readonly cameraClocks?: (id: string) => CameraClockHealth | undefined;
  /** Computed once at start-up by the caller; default computed here (may run git). */
  readonly software?: SoftwareVersion;
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The recorder's status as health reports it. */
export function cameraHealth(s: CameraStatus, clock?: CameraClockHealth): CameraHealth {
  return {
    id: s.id,
    state: s.state,
    lastError: s.lastError,
    restarts: s.restarts,
    segments: s.segments,
    lastSegmentEndMs: s.lastSegmentEndMs,
    fps: s.stats.fpsIn,
    bitrateKbps: s.stats.bitrateKbps,
    droppedFrames: s.stats.droppedFrames,
    width: s.stats.width,
    height: s.stats.height,
    mode: s.plan.mode,
    codec: s.plan.codec,
    recorder: s.plan.recorder ?? "gstreamer",
    ...(s.record ? { record: s.record } : {}),
    ...(clock ? { clock } : {}),
  };
}

function diskUse(
  label: string,
  path: string,
  space: (path: string) => DiskSpace,
): DiskUse {
  try {
    const s = space(path);
    const used = s.totalBytes - s.freeBytes;
    return {
      label,
      path,
      totalBytes: s.totalBytes,
      availableBytes: s.availableBytes,
      usedBytes: used,
      usedPercent: s.totalBytes > 0 ? Math.round((used / s.totalBytes) * 1000) / 10 : null,
      error: null,
    };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return {
      label,
      path,
      totalBytes: null,
      availableBytes: null,
      usedBytes: null,
      usedPercent: null,
      error,
    };
  }
}

/** One health sample. Missing files and commands give nulls, never errors. */
export async function collectHealth(sources: HealthSources = {}): Promise<Health> {
  const sysRoot = sources.sysRoot ?? "/sys";
  const procRoot = sources.procRoot ?? "/proc";
  const devRoot = sources.devRoot ?? "/dev";
  const sampleMs = sources.cpuSampleMs ?? 250;
  const smartctl = sources.smartctl === undefined ? systemSmartctl() : sources.smartctl;
  const vcgencmd = sources.vcgencmd === undefined ? systemVcgencmd() : sources.vcgencmd;

  const cpuSample = (async () => {
    const first = await readProc(procRoot, "stat", parseProcStat);
    const started = performance.now();
    await (sources.sleep ?? defaultSleep)(sampleMs);
    const second = await readProc(procRoot, "stat", parseProcStat);
    return cpuUse(first, second, Math.round(performance.now() - started));
  })();
  const smartDevices = sources.smartDevices ??
    (smartctl === null ? [] : (await listDisks(sysRoot)).map((n) => `${devRoot}/${n}`));
  const [cpu, uptimeSeconds, load, memory, temperatures, throttling, smart, software] =
    await Promise.all([
      cpuSample,
      readProc(procRoot, "uptime", parseUptime),
      readProc(procRoot, "loadavg", parseLoadavg),
      readProc(procRoot, "meminfo", parseMeminfo),
      readTemperatures(sysRoot),
      readThrottling(vcgencmd),
      readSmart(smartDevices, smartctl),
      sources.software ?? softwareVersion(),
    ]);
  const space = sources.diskSpace ?? realDiskSpace;
  return {
    schema: 1,
    uptimeSeconds,
    load,
    cpu,
    memory,
    cpuTemperatureC: cpuTemperature(temperatures),
    temperatures,
    throttling,
    disks: (sources.diskPaths ?? [{ label: "root", path: "/" }]).map((d) =>
      diskUse(d.label, d.path, space)
    ),
    smart,
    cameras: (sources.cameras ?? []).map((c) => {
      const base = cameraHealth(c, sources.cameraClocks?.(c.id));
      const events = sources.cameraEvents?.get(c.id);
      return events ? { ...base, events } : base;
    }),
    plugins: [...(sources.plugins ?? [])],
    software,
  };
}
