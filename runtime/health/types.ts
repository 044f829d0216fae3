/**
 * The health sample the box reports to the fleet (`nvr/v1/<deviceId>/health`). Pure types: the
 * fleet link imports them; docs/fleet-data.md describes every field with its unit and source.
 */
import type { CameraState } from "../recorder/supervisor/camera_status.ts";
import type { SoftwareVersion } from "../lib/version.ts";

export interface LoadAverage {
  /** Runnable + uninterruptible tasks averaged over 1, 5 and 15 minutes (`/proc/loadavg`). */
  readonly one: number;
  readonly five: number;
  readonly fifteen: number;
}

export interface CpuUse {
  /** Busy share of all cores between two `/proc/stat` readings, 0–100 %; null if not readable. */
  readonly usedPercent: number | null;
  /** Per core, same unit, in core order. */
  readonly perCorePercent: readonly number[];
  /** Share waiting for I/O (iowait), 0–100 % — a slow or failing disk shows here. */
  readonly iowaitPercent: number | null;
  /** Milliseconds between the two readings. */
  readonly sampleMs: number;
}

export interface MemoryUse {
  /** Bytes, from `/proc/meminfo` (kB × 1024). */
  readonly totalBytes: number;
  /** MemAvailable: what can be used without swapping. */
  readonly availableBytes: number;
  /** total − available. */
  readonly usedBytes: number;
  /** used / total, 0–100 %. */
  readonly usedPercent: number;
  readonly swapTotalBytes: number;
  readonly swapUsedBytes: number;
}

export interface Temperature {
  /** Folder under /sys/class/thermal, e.g. "thermal_zone0". */
  readonly zone: string;
  /** The zone's `type`, e.g. "cpu-thermal", "x86_pkg_temp", "CPU-therm". */
  readonly type: string;
  /** Degrees Celsius (`temp` is millidegrees). */
  readonly celsius: number;
}

/** One set of Raspberry Pi throttling flags (`vcgencmd get_throttled`). */
export interface ThrottleFlags {
  readonly underVoltage: boolean;
  readonly frequencyCapped: boolean;
  readonly throttled: boolean;
  readonly softTempLimit: boolean;
}

export interface Throttling {
  /** The raw value, e.g. "0x50005". */
  readonly raw: string;
  /** Bits 0–3: the state right now. */
  readonly now: ThrottleFlags;
  /** Bits 16–19: happened at least once since boot. */
  readonly sinceBoot: ThrottleFlags;
  readonly source: string;
}

export interface DiskUse {
  /** What the path is for, e.g. "data", "root". */
  readonly label: string;
  readonly path: string;
  /** Bytes, statvfs(3). null when the path could not be read (see `error`). */
  readonly totalBytes: number | null;
  /** Available to the daemon (not root's reserve). */
  readonly availableBytes: number | null;
  readonly usedBytes: number | null;
  /** used / total, 0–100 %. */
  readonly usedPercent: number | null;
  readonly error: string | null;
}

export interface SmartHealth {
  /** e.g. "/dev/sda". */
  readonly device: string;
  readonly model: string | null;
  /** smartctl `smart_status.passed`; false means the drive predicts its own failure. */
  readonly passed: boolean | null;
  /** Lifetime used, 0–100+ %: NVMe `percentage_used`, or 100 − the ATA wear attribute's value. */
  readonly wearPercentUsed: number | null;
  /** Which field gave `wearPercentUsed`, e.g. "nvme:percentage_used", "ata:177 Wear_Leveling_Count". */
  readonly wearSource: string | null;
  /** Degrees Celsius (`temperature.current`). */
  readonly temperatureC: number | null;
  /** Hours (`power_on_time.hours`). */
  readonly powerOnHours: number | null;
  /** ATA 5 Reallocated_Sector_Ct raw value. */
  readonly reallocatedSectors: number | null;
  /** ATA 197 Current_Pending_Sector raw value. */
  readonly pendingSectors: number | null;
  /** NVMe media and data integrity errors. */
  readonly mediaErrors: number | null;
  /** Why smartctl gave nothing (not installed, no permission); null when it answered. */
  readonly error: string | null;
}

export interface CameraHealth {
  readonly id: string;
  readonly state: CameraState;
  readonly lastError: string | null;
  readonly restarts: number;
  /** Segments finished since the daemon started. */
  readonly segments: number;
  /** ms since the epoch; null before the first segment. */
  readonly lastSegmentEndMs: number | null;
  /** Frames per second coming in, over the last second. */
  readonly fps: number;
  /** kbit/s written. */
  readonly bitrateKbps: number;
  readonly droppedFrames: number | null;
  readonly width: number | null;
  readonly height: number | null;
  /** "passthrough", "transcode", … and the codec recorded. */
  readonly mode: string;
  readonly codec: string;
  /** "builtin" (the daemon's own RTSP remuxer) or "gstreamer". */
  readonly recorder: string;
  /**
   * The camera's own events (ONVIF PullPoint); absent for a camera without an ONVIF address.
   * "unsupported": the camera has no events service, so an empty event list means nothing.
   */
  readonly events?: CameraEventsHealth;
  /** The camera's clock against the box's (ONVIF cameras); absent before the first check. */
  readonly clock?: CameraClockHealth;
  /**
   * cameras[].record.mode "events" only: whether it is recording now ("waiting for an event",
   * "recording (event)", or "continuous (GStreamer)" where GStreamer records it).
   */
  readonly record?: { readonly mode: "events"; readonly now: string };
}

/** A camera's ONVIF events subscription (runtime/app/camera_events.ts). */
export interface CameraEventsHealth {
  readonly state: "connecting" | "subscribed" | "unsupported" | "lost";
  /** Why, for "unsupported" and "lost". */
  readonly error: string | null;
  /** Subscriptions made since the daemon started (one more after each loss). */
  readonly subscriptions: number;
  /** Events dropped by the per-minute cap. */
  readonly dropped: number;
}

/**
 * The last check of a camera's clock (ONVIF GetSystemDateAndTime against the box's clock):
 * evidence stamped by a camera with a wrong time is worthless, so a drift over the threshold
 * (`clock.cameraDriftSeconds`) is a warning here and a `camera-clock-drift` event.
 */
export interface CameraClockHealth {
  /** Camera − box, ms (positive: the camera is ahead); null when the camera did not answer. */
  readonly driftMs: number | null;
  /** When it was checked, ms since the epoch. */
  readonly checkedMs: number;
  /** The threshold in force, ms. */
  readonly thresholdMs: number;
  /** What is wrong and what to do, when the drift is over the threshold; else null. */
  readonly warning: string | null;
  /** Why the camera's clock could not be read (then driftMs is null); else null. */
  readonly error: string | null;
}

/** A plugin as the plugin host reports it (runtime/plugins/plugin_host.ts). */
export interface PluginStatus {
  readonly id: string;
  readonly state: "starting" | "running" | "retrying" | "stopped" | "failed" | "disabled";
  readonly lastError: string | null;
  /** Restarts since the daemon started (crashes and watchdog stops). */
  readonly restarts?: number;
  /** The last value of each of its readings (e.g. a sensor id → °C), ms since the epoch. */
  readonly readings?: readonly {
    readonly name: string;
    readonly value: number | string | boolean;
    readonly unit: string;
    readonly tsMs: number;
  }[];
  /** Share of one core over the last 10 s, %, and resident bytes of its process; null when down. */
  readonly cpuPercent?: number | null;
  readonly rssBytes?: number | null;
}

/** The box's H.265 → H.264 transcodes for browsers without H.265 (local API only). */
export interface TranscodesHealth {
  /** The cap in force: transcodes at once, live views and recorded ranges together. */
  readonly max: number;
  /** Where it comes from: "http.transcodesMax (configuration)" or the board profile. */
  readonly source: string;
  /** Why that number (measured, or the vendor's document); null for the configuration's. */
  readonly basis: string | null;
  readonly running: number;
  /** Refused since the daemon started. */
  readonly refused: number;
}

/** Timeline thumbnails made as segments close (local API only; playback/thumbnail_queue.ts). */
export interface ThumbnailsHealth {
  /** recording.thumbnails. */
  readonly mode: "on-close" | "on-demand";
  /** Waiting now; made, dropped unmade (queue full: made on hover instead), failed since start. */
  readonly pending: number;
  readonly made: number;
  readonly dropped: number;
  readonly failed: number;
}

export interface Health {
  /** Payload version. */
  readonly schema: 1;
  /** Seconds since the kernel booted (`/proc/uptime`). */
  readonly uptimeSeconds: number | null;
  readonly load: LoadAverage | null;
  readonly cpu: CpuUse;
  readonly memory: MemoryUse | null;
  /** The CPU/SoC temperature in °C (see docs for which zone), or null without sensors. */
  readonly cpuTemperatureC: number | null;
  readonly temperatures: readonly Temperature[];
  /** Raspberry Pi only; null elsewhere or when vcgencmd is missing. */
  readonly throttling: Throttling | null;
  readonly disks: readonly DiskUse[];
  readonly smart: readonly SmartHealth[];
  readonly cameras: readonly CameraHealth[];
  readonly plugins: readonly PluginStatus[];
  readonly software: SoftwareVersion;
  /** The transcode cap; in the local API's `GET /api/health`, not in the fleet's sample. */
  readonly transcodes?: TranscodesHealth;
  /** The on-close thumbnail queue; local API only, like `transcodes`. */
  readonly thumbnails?: ThumbnailsHealth;
}
