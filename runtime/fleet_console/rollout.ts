/**
 * An OTA campaign in waves (issue 19), after AWS IoT Jobs' abort criteria and hawkBit's rollout
 * groups: boxes are cut into waves by cumulative percentage (e.g. 1 %, 10 %, 100 %); a wave
 * starts only when the one before finished without halting; the campaign halts when failures
 * pass `haltPercent` of the boxes finished, once at least `minBoxes` finished. Its status lives
 * in the registry's `rollouts` table, so another console process can pause, resume or abort it.
 * Inside a wave at most `maxInFlight` boxes update at once; the next box is sent the update only
 * while the campaign runs and is under its halt threshold, so a halt, a pause or an abort also
 * stops the rest of a wave in progress (as AWS IoT Jobs' abort criteria act on running jobs).
 * Boxes already updating finish and are counted (halt, pause) or reported `aborted` (abort).
 * Each box's outcome: good (runs the new version), rolled-back, failed/refused (with the
 * reason), timeout, aborted, or not-started.
 */
import { deviceTopics, type Json, type StateMessage } from "../fleet/schema.ts";
import { AWS_IOT_LIMITS } from "../fleet/broker_limits.ts";
import { prng } from "../lib/prng.ts";
import { chunks, ConsoleError, delay, type FleetConsole } from "./console.ts";

type Outcomes = Map<string, { wave: number; outcome: BoxOutcome; reason?: string }>;

export interface RolloutSpec {
  readonly id: string;
  readonly url: string;
  readonly sha256: string;
  readonly size: number;
  readonly version: string;
  /** Cumulative percentages, ascending, the last 100. Default [1, 10, 100]. */
  readonly waves?: readonly number[];
  /** Halt when failures exceed this percentage of finished boxes. Default 5. */
  readonly haltPercent?: number;
  /** ...once at least this many boxes finished. Default 1. */
  readonly minBoxes?: number;
  /** How long one box may take from command to running the new version. Default 10 min. */
  readonly boxTimeoutMs?: number;
  /** Boxes updating at once within a wave. Default 100. */
  readonly maxInFlight?: number;
  /** Order of boxes: shuffled with this seed (default: a random one). */
  readonly seed?: number;
}

export type BoxOutcome =
  | "good"
  | "rolled-back"
  | "failed"
  | "refused"
  | "timeout"
  | "aborted"
  | "not-started";

export interface RolloutReport {
  readonly id: string;
  /** done, halted, aborted. */
  readonly status: string;
  readonly waves: readonly string[][];
  /** Index of the last wave started. */
  readonly lastWave: number;
  readonly counts: Readonly<Record<BoxOutcome, number>>;
  readonly outcomes: readonly { id: string; wave: number; outcome: BoxOutcome; reason?: string }[];
}

export type RolloutStatus = "running" | "paused" | "aborted" | "halted" | "done";

/** Cuts `ids` into waves by cumulative percentage; every wave has at least one box. */
export function planWaves(ids: readonly string[], waves: readonly number[]): string[][] {
  if (
    waves.length === 0 || waves.at(-1) !== 100 || waves.some((w, i) => w <= (waves[i - 1] ?? 0))
  ) {
    throw new ConsoleError(
      `--waves ${
        waves.join(",")
      }: give ascending cumulative percentages ending in 100, e.g. 1,10,100`,
    );
  }
  const out: string[][] = [];
  let taken = 0;
  for (const pct of waves) {
    const upTo = Math.min(ids.length, Math.max(taken + 1, Math.ceil((ids.length * pct) / 100)));
    if (upTo > taken) out.push(ids.slice(taken, upTo));
    taken = upTo;
  }
  return out;
}

/** Sets the status of a rollout (pause, resume, abort from another process). */
export function setRolloutStatus(
  console: Pick<FleetConsole, "registry">,
  id: string,
  status: RolloutStatus,
): void {
  const row = console.registry.db.prepare("SELECT status FROM rollouts WHERE id = ?").get(id) as
    | { status: string }
    | undefined;
  if (!row) throw new ConsoleError(`no rollout '${id}' in this registry`);
  if (row.status === "done" || row.status === "halted" || row.status === "aborted") {
    throw new ConsoleError(`rollout '${id}' is ${row.status} already`);
  }
  console.registry.durable(
    "UPDATE rollouts SET status = ?, updatedAt = ? WHERE id = ?",
    status,
    Date.now(),
    id,
  );
}

export function rolloutStatus(console: Pick<FleetConsole, "registry">, id: string): string | null {
  const row = console.registry.db.prepare("SELECT status FROM rollouts WHERE id = ?").get(id) as
    | { status: string }
    | undefined;
  return row?.status ?? null;
}

/** Runs a campaign to its end (done, halted or aborted). */
export async function runRollout(
  console: FleetConsole,
  ids: readonly string[],
  spec: RolloutSpec,
  progress: (line: string) => void = () => {},
): Promise<RolloutReport> {
  const random = prng(spec.seed ?? Math.floor(Math.random() * 2 ** 31));
  const order = [...ids];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const waves = planWaves(order, spec.waves ?? [1, 10, 100]);
  const maxInFlight = spec.maxInFlight ?? 100;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
    throw new ConsoleError(`--in-flight ${maxInFlight}: give a whole number of boxes, 1 or more`);
  }
  const haltPercent = spec.haltPercent ?? 5;
  const minBoxes = spec.minBoxes ?? 1;
  console.registry.durable(
    "INSERT INTO rollouts (id, status, spec, outcomes, updatedAt) VALUES (?, 'running', ?, '[]', ?)",
    spec.id,
    JSON.stringify(spec),
    Date.now(),
  );
  const outcomes: Outcomes = new Map();
  const status = () => rolloutStatus(console, spec.id);
  const failures = () =>
    [...outcomes.values()].filter((o) => o.outcome !== "good" && o.outcome !== "not-started")
      .length;
  const finished = () => outcomes.size;
  const shouldHalt = () => finished() >= minBoxes && (failures() / finished()) * 100 > haltPercent;
  const control: WaveControl = {
    status,
    shouldHalt,
    progress,
    maxInFlight,
    waitWhilePaused: async () => {
      while (status() === "paused") await delay(200);
    },
  };
  let lastWave = -1;
  let final: RolloutStatus = "done";
  for (const [w, wave] of waves.entries()) {
    await control.waitWhilePaused();
    if (status() === "aborted") {
      final = "aborted";
      break;
    }
    if (shouldHalt()) {
      final = "halted";
      break;
    }
    lastWave = w;
    progress(`wave ${w + 1}/${waves.length}: ${wave.length} boxes`);
    const ended = await runWave(console, wave, spec, w, outcomes, control);
    console.registry.durable(
      "UPDATE rollouts SET outcomes = ?, updatedAt = ? WHERE id = ?",
      JSON.stringify([...outcomes]),
      Date.now(),
      spec.id,
    );
    progress(`wave ${w + 1}: ${failures()} failed of ${finished()} finished`);
    if (ended !== "done") {
      final = ended;
      break;
    }
    if (shouldHalt()) {
      final = w === waves.length - 1 ? "done" : "halted";
      if (final === "halted") break;
    }
  }
  if (final === "done" && shouldHalt()) final = "halted";
  for (const [w, wave] of waves.entries()) {
    for (const id of wave) {
      if (!outcomes.has(id)) outcomes.set(id, { wave: w, outcome: "not-started" });
    }
  }
  console.registry.durable(
    "UPDATE rollouts SET status = ?, outcomes = ?, updatedAt = ? WHERE id = ?",
    final,
    JSON.stringify([...outcomes]),
    Date.now(),
    spec.id,
  );
  const counts: Record<BoxOutcome, number> = {
    good: 0,
    "rolled-back": 0,
    failed: 0,
    refused: 0,
    timeout: 0,
    aborted: 0,
    "not-started": 0,
  };
  for (const o of outcomes.values()) counts[o.outcome]++;
  return {
    id: spec.id,
    status: final,
    waves,
    lastWave,
    counts,
    outcomes: order.map((id) => ({ id, ...outcomes.get(id)! })),
  };
}

interface WaveControl {
  status(): string | null;
  shouldHalt(): boolean;
  waitWhilePaused(): Promise<void>;
  progress(line: string): void;
  readonly maxInFlight: number;
}

/**
 * One wave: its boxes' state topics watched (exact, not shared: this console must see all of
 * them), the update sent box by box with at most `maxInFlight` undecided at once, and before each
 * send the campaign's status and halt threshold checked. Returns how the wave ended.
 */
async function runWave(
  console: FleetConsole,
  ids: readonly string[],
  spec: RolloutSpec,
  wave: number,
  outcomes: Outcomes,
  control: WaveControl,
): Promise<"done" | "halted" | "aborted"> {
  const timeoutMs = spec.boxTimeoutMs ?? 10 * 60_000;
  const installed = new Set<string>();
  const inFlight = new Map<string, Promise<void>>();
  const decide = (id: string, outcome: BoxOutcome, reason?: string) => {
    if (outcomes.has(id)) return;
    outcomes.set(id, { wave, outcome, ...(reason ? { reason } : {}) });
    control.progress(`box ${id}: ${outcome}${reason ? ` (${reason})` : ""}`);
  };
  const wanted = new Set(ids);
  const stop = console.listen((topic, payload) => {
    const parts = topic.split("/");
    const id = parts[2]!;
    if (parts[3] !== "state" || parts.length !== 4 || !wanted.has(id)) return;
    if (!inFlight.has(id)) return; // not sent the update (yet): its old state says nothing
    let state: StateMessage;
    try {
      state = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      return;
    }
    if (state.state !== "online") return;
    const last = state.lastUpdate;
    if (state.version === spec.version && (!last || last.state === "good")) decide(id, "good");
    else if (last?.to === spec.version && last.state === "rolled-back") {
      decide(id, "rolled-back", last.reason ?? "the new slot failed its checks");
    } else if (last?.to === spec.version && last.state === "failed" && installed.has(id)) {
      decide(id, "failed", last.reason ?? "failed after install");
    }
  });
  const command: Record<string, Json> = {
    cmd: "update",
    url: spec.url,
    size: spec.size,
    sha256: spec.sha256,
    version: spec.version,
  };
  // An abort stops the waiting for boxes in flight too (they cannot be called back).
  const abort = new AbortController();
  let watching = true;
  const watcher = (async () => {
    while (watching && !abort.signal.aborted) {
      if (control.status() === "aborted") abort.abort();
      else await delay(200);
    }
  })();
  const one = async (id: string) => {
    const deadline = Date.now() + timeoutMs;
    const summary = await console.command([id], command, timeoutMs, abort.signal);
    const o = summary.outcomes[0]!;
    if (abort.signal.aborted && o.status === "timeout") {
      decide(id, "aborted", "the rollout was aborted before it answered; see `devices`");
      return;
    }
    if (o.status === "ok") installed.add(id);
    else if (o.status === "timeout") decide(id, "timeout", "no answer to the update command");
    else decide(id, o.status === "refused" ? "refused" : "failed", o.error ?? o.status);
    while (!outcomes.has(id) && Date.now() < deadline && !abort.signal.aborted) {
      await delay(100);
    }
    if (abort.signal.aborted) {
      decide(id, "aborted", "the rollout was aborted while it updated; see `devices`");
    }
    decide(id, "timeout", "not back on the new version in time");
  };
  const filters = ids.map((id) => deviceTopics(id).state);
  let ended: "done" | "halted" | "aborted" = "done";
  try {
    for (const chunk of chunks(filters, AWS_IOT_LIMITS.maxSubscriptionsPerRequest)) {
      await console.client.subscribeAsync(chunk, { qos: 1 });
    }
    for (const id of ids) {
      while (inFlight.size >= control.maxInFlight) await Promise.race(inFlight.values());
      if (control.status() === "paused") {
        control.progress(`wave ${wave + 1}: paused, ${inFlight.size} boxes still updating`);
        await control.waitWhilePaused();
      }
      if (control.status() === "aborted") {
        ended = "aborted";
        break;
      }
      if (control.shouldHalt()) {
        ended = "halted";
        break;
      }
      // Watched before it is sent the update, so no state it publishes after is missed.
      inFlight.set(id, one(id).finally(() => inFlight.delete(id)));
    }
    await Promise.all(inFlight.values());
    if (control.status() === "aborted") ended = "aborted";
  } finally {
    watching = false;
    await watcher;
    stop();
    for (const chunk of chunks(filters, AWS_IOT_LIMITS.maxSubscriptionsPerRequest)) {
      await console.client.unsubscribeAsync(chunk).catch(() => {});
    }
  }
  return ended;
}
