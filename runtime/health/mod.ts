/** Health samples for the fleet: the payload types, collection, and the "publish now?" rule. */
export type {
  CameraClockHealth,
  CameraEventsHealth,
  CameraHealth,
  CpuUse,
  DiskUse,
  Health,
  LoadAverage,
  MemoryUse,
  PluginStatus,
  SmartHealth,
  Temperature,
  ThrottleFlags,
  Throttling,
  ThumbnailsHealth,
  TranscodesHealth,
} from "./types.ts";
export { cameraHealth, collectHealth, type HealthSources } from "./collect.ts";
export { DEFAULT_THRESHOLDS, type HealthThresholds, significantChange } from "./significant.ts";
export { cpuUse, parseLoadavg, parseMeminfo, parseProcStat, parseUptime } from "./proc.ts";
export { cpuTemperature, readTemperatures } from "./thermal.ts";
export { decodeThrottled, systemVcgencmd, type VcgencmdRunner } from "./throttle.ts";
export { parseSmartHealth, SMART_ARGS } from "./smart.ts";
export type { SoftwareVersion } from "../lib/version.ts";
