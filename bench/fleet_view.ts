/**
 * Presence bench helpers (bench/fleet_scale.ts presence): the console's online view as a
 * timeline (watchView), and the comparison of that timeline with the boxes' true one
 * (comparePresence): agreement over device-time, sampled every second and integrated exactly,
 * the lag of every transition, and the transitions the registry never showed or showed against
 * the truth.
 */
import type { Registry } from "../runtime/fleet_console/registry.ts";

/**
 * Calls `onChange` whenever a box's state in `registry` turns online or away from online, right
 * after the message that did it was taken in (instrumentation of the bench, not of the product:
 * it wraps this registry object's ingest).
 */
export function watchView(
  registry: Registry,
  onChange: (id: string, online: boolean, t: number) => void,
): void {
  const read = registry.db.prepare("SELECT state FROM devices WHERE id = ?");
  const last = new Map<string, boolean>();
  const ingest = registry.ingest.bind(registry);
  registry.ingest = (topic: string, payload: Uint8Array) => {
    const done = ingest(topic, payload);
    // A state message is written before ingest's first await: the row holds it now.
    if (topic.endsWith("/state")) {
      const id = topic.split("/")[2]!;
      const row = read.get(id) as { state: string } | undefined;
      const online = row?.state === "online";
      if (last.get(id) !== online) {
        last.set(id, online);
        onChange(id, online, Date.now());
      }
    }
    return done;
  };
}

/** A box's states over time: [ms since the epoch, online] in time order. */
export type Timeline = [number, boolean][];

/** Index of the first entry at or after `t` (binary search). */
function firstAtOrAfter(line: Timeline, t: number): number {
  let lo = 0;
  let hi = line.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (line[mid]![0] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The state at `t` (the last entry at or before it; offline before the first). */
function stateAt(line: Timeline, t: number): boolean {
  let lo = 0;
  let hi = line.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (line[mid]![0] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? line[lo - 1]![1] : false;
}

export interface PresenceFigures {
  /** Device-seconds sampled (every box at each whole second of the window). */
  deviceSeconds: number;
  /** Share of them where the view matched the truth (%). */
  sampledAgreePercent: number;
  /** The same, integrated over the whole window (no sampling) (%). */
  exactAgreePercent: number;
  transitions: { offline: number; online: number };
  /** Truth → view lag per transition (ms): p50, p90, p99, p99.9, max, mean. */
  lagMs: {
    offline: Record<string, number | null>;
    online: Record<string, number | null>;
  };
  /** Transitions the view never showed before the truth changed again. */
  missed: { offline: number; online: number };
  /** View changes into a state the truth was not in at that instant (late or out of order). */
  againstTruth: { offline: number; online: number };
  /** Device-time of disagreement, split by cause (ms): lag of a transition, or other. */
  disagreeMs: { lag: number; other: number; total: number };
}

function lagStats(ms: number[]): Record<string, number | null> {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) =>
    s.length === 0 ? null : s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  const mean = s.length === 0
    ? null
    : Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 10) / 10;
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    "p99.9": at(0.999),
    max: s.at(-1) ?? null,
    mean,
  };
}

/**
 * Compares truth and view of every box over [from, to). Both timelines must start at or before
 * `from` (their state then) and hold every change after it.
 */
export function comparePresence(
  truth: ReadonlyMap<string, Timeline>,
  view: ReadonlyMap<string, Timeline>,
  from: number,
  to: number,
): PresenceFigures {
  let samples = 0;
  let agreeSamples = 0;
  let agreeMs = 0;
  let totalMs = 0;
  let lagMsTotal = 0;
  const lags = { offline: [] as number[], online: [] as number[] };
  const transitions = { offline: 0, online: 0 };
  const missed = { offline: 0, online: 0 };
  const against = { offline: 0, online: 0 };
  for (const [id, t] of truth) {
    const v = view.get(id) ?? [];
    for (let s = from + 1000; s < to; s += 1000) {
      samples++;
      if (stateAt(t, s) === stateAt(v, s)) agreeSamples++;
    }
    // Exact: walk both step functions.
    const cuts = [...new Set([from, to, ...t.map((x) => x[0]), ...v.map((x) => x[0])])]
      .filter((x) => x >= from && x <= to).sort((a, b) => a - b);
    for (let i = 0; i + 1 < cuts.length; i++) {
      const a = cuts[i]!;
      const b = cuts[i + 1]!;
      totalMs += b - a;
      if (stateAt(t, a) === stateAt(v, a)) agreeMs += b - a;
    }
    // Lag of each true transition inside the window.
    for (let i = 0; i < t.length; i++) {
      const [at, online] = t[i]!;
      if (at < from || at >= to) continue;
      if (i > 0 && t[i - 1]![1] === online) continue; // not a change
      const key = online ? "online" : "offline";
      transitions[key]++;
      const next = t[i + 1]?.[0] ?? Infinity;
      let seen: number | null = stateAt(v, at) === online ? at : null;
      if (seen === null) {
        for (let j = firstAtOrAfter(v, at); j < v.length && v[j]![0] < next; j++) {
          if (v[j]![1] === online) {
            seen = v[j]![0];
            break;
          }
        }
      }
      if (seen === null) missed[key]++;
      else {
        lags[key].push(seen - at);
        lagMsTotal += Math.min(seen, to) - Math.min(at, to);
      }
    }
    for (const [vt, vo] of v) {
      if (vt < from || vt >= to) continue;
      if (stateAt(t, vt) !== vo) against[vo ? "online" : "offline"]++;
    }
  }
  const pct = (a: number, b: number) => b === 0 ? 0 : Math.round((a / b) * 1_000_000) / 10_000;
  const disagree = totalMs - agreeMs;
  return {
    deviceSeconds: samples,
    sampledAgreePercent: pct(agreeSamples, samples),
    exactAgreePercent: pct(agreeMs, totalMs),
    transitions,
    lagMs: { offline: lagStats(lags.offline), online: lagStats(lags.online) },
    missed,
    againstTruth: against,
    disagreeMs: { lag: lagMsTotal, other: Math.max(0, disagree - lagMsTotal), total: disagree },
  };
}
