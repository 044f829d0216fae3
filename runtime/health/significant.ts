/**
 * significantChange: whether a new health sample is worth publishing now rather than at the next
 * period. Pure. Compares the last published sample with the new one and names every change:
 * a camera's or plugin's state, a disk crossing the used threshold (either way) or becoming
 * unreadable, the CPU temperature crossing its threshold (either way), throttling starting (now
 * or since boot), a SMART check failing or wear crossing its threshold, a new software version.
 * No hysteresis: a value hovering at a threshold flips each time, so the caller limits how often
 * a change is published (the periodic sample still comes on time).
 */
import type { Health, ThrottleFlags } from "./types.ts";

export interface HealthThresholds {
  /** % of a filesystem used; default 90. */
  readonly diskUsedPercent: number;
  /** CPU/SoC °C; default 80 (the Pi 4 starts soft throttling at 80 °C). */
  readonly cpuTemperatureC: number;
  /** SMART wear used, %; default 90. */
  readonly smartWearPercent: number;
}

export const DEFAULT_THRESHOLDS: HealthThresholds = {
  diskUsedPercent: 90,
  cpuTemperatureC: 80,
  smartWearPercent: 90,
};

const FLAG_NAMES: readonly (keyof ThrottleFlags)[] = [
  "underVoltage",
  "frequencyCapped",
  "throttled",
  "softTempLimit",
];

function newFlags(prev: ThrottleFlags | undefined, next: ThrottleFlags): string[] {
  return FLAG_NAMES.filter((f) => next[f] && !(prev?.[f] ?? false));
}

function crossed(prev: number | null, next: number | null, limit: number): "over" | "under" | null {
  const wasOver = prev !== null && prev >= limit;
  const isOver = next !== null && next >= limit;
  if (isOver && !wasOver) return "over";
  if (wasOver && !isOver && next !== null) return "under";
  return null;
}

/** Why `next` should be published now (reasons joined by "; "), or null. */
export function significantChange(
  prev: Health | null,
  next: Health,
  thresholds: HealthThresholds = DEFAULT_THRESHOLDS,
): string | null {
  if (prev === null) return "first sample";
  const reasons: string[] = [];

  const before = new Map(prev.cameras.map((c) => [c.id, c.state]));
  for (const c of next.cameras) {
    const was = before.get(c.id);
    if (was === undefined) reasons.push(`camera ${c.id} added (${c.state})`);
    else if (was !== c.state) reasons.push(`camera ${c.id}: ${was} → ${c.state}`);
    before.delete(c.id);
  }
  for (const id of before.keys()) reasons.push(`camera ${id} removed`);
  // A camera found to have no events service (or gaining one): the fleet should know at once why
  // its event list stays empty. Subscriptions lost and made again are not worth a sample each.
  const eventsBefore = new Map(prev.cameras.map((c) => [c.id, c.events?.state]));
  for (const c of next.cameras) {
    const was = eventsBefore.get(c.id);
    const now = c.events?.state;
    if (
      was !== undefined && now !== undefined && (was === "unsupported") !== (now === "unsupported")
    ) {
      reasons.push(`camera ${c.id} events: ${was} → ${now}`);
    }
  }

  const plugins = new Map(prev.plugins.map((p) => [p.id, p.state]));
  for (const p of next.plugins) {
    const was = plugins.get(p.id);
    if (was !== p.state) reasons.push(`plugin ${p.id}: ${was ?? "new"} → ${p.state}`);
  }

  const disks = new Map(prev.disks.map((d) => [d.path, d]));
  for (const d of next.disks) {
    const was = disks.get(d.path);
    if (d.error !== null && was?.error === null) reasons.push(`disk ${d.label}: ${d.error}`);
    const t = thresholds.diskUsedPercent;
    const c = crossed(was?.usedPercent ?? null, d.usedPercent, t);
    if (c === "over") {
      reasons.push(`disk ${d.label} (${d.path}) ${d.usedPercent}% used, over ${t}%`);
    }
    if (c === "under") reasons.push(`disk ${d.label} (${d.path}) back under ${t}% used`);
  }

  const t = thresholds.cpuTemperatureC;
  const temp = crossed(prev.cpuTemperatureC, next.cpuTemperatureC, t);
  if (temp === "over") reasons.push(`CPU temperature ${next.cpuTemperatureC} °C, over ${t} °C`);
  if (temp === "under") reasons.push(`CPU temperature back under ${t} °C`);

  if (next.throttling !== null) {
    const now = newFlags(prev.throttling?.now, next.throttling.now);
    if (now.length > 0) reasons.push(`throttling started: ${now.join(", ")}`);
    const boot = newFlags(prev.throttling?.sinceBoot, next.throttling.sinceBoot)
      .filter((f) => !now.includes(f));
    if (boot.length > 0) {
      reasons.push(`throttling happened since the last sample: ${boot.join(", ")}`);
    }
  }

  const smart = new Map(prev.smart.map((s) => [s.device, s]));
  for (const s of next.smart) {
    const was = smart.get(s.device);
    if (s.passed === false && was?.passed !== false) {
      reasons.push(`disk ${s.device}: SMART health check failed`);
    }
    const w = thresholds.smartWearPercent;
    if (crossed(was?.wearPercentUsed ?? null, s.wearPercentUsed, w) === "over") {
      reasons.push(`disk ${s.device}: ${s.wearPercentUsed}% of its rated life used, over ${w}%`);
    }
  }

  if (
    prev.software.version !== next.software.version || prev.software.commit !== next.software.commit
  ) {
    reasons.push(`software ${prev.software.version} → ${next.software.version}`);
  }
  return reasons.length === 0 ? null : reasons.join("; ");
}
