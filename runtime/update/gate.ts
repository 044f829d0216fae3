/**
 * The health gate of a trial boot: the new slot is kept only when, within a time limit, the
 * service is up, the fleet is connected and every enabled camera has been recording without a
 * break for a while. Polls; every wait is bounded by the limit.
 */

export interface GateProbe {
  /** The daemon serves and its recorders answer. */
  readonly serviceUp: () => boolean;
  readonly fleetConnected: () => boolean;
  /** Each enabled camera with its recorder state ("recording" is what counts). */
  readonly cameras: () => ReadonlyArray<{ readonly id: string; readonly state: string }>;
}

export interface GateTiming {
  /** How long everything must hold without a break (default 60 s). */
  readonly steadyMs: number;
  /** The whole gate's limit (default 10 min). */
  readonly limitMs: number;
  /** How often it looks (default 1 s). */
  readonly pollMs: number;
}

export const DEFAULT_GATE_TIMING: GateTiming = {
  steadyMs: 60_000,
  limitMs: 10 * 60_000,
  pollMs: 1000,
};

export type GateOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** What is not yet healthy, or null when everything is. */
export function notHealthy(probe: GateProbe): string | null {
  if (!probe.serviceUp()) return "the service is not up";
  if (!probe.fleetConnected()) return "the fleet is not connected";
  const down = probe.cameras().filter((c) => c.state !== "recording");
  if (down.length > 0) {
    return `not recording: ${down.map((c) => `${c.id} (${c.state})`).join(", ")}`;
  }
  return null;
}

export async function runHealthGate(
  probe: GateProbe,
  timing: GateTiming,
  opts: { now?: () => number; signal?: AbortSignal } = {},
): Promise<GateOutcome> {
  const now = opts.now ?? Date.now;
  const start = now();
  let healthySince: number | null = null;
  let last = "the gate did not run";
  for (;;) {
    if (opts.signal?.aborted) return { ok: false, reason: "the daemon stopped during the gate" };
    let problem: string | null;
    try {
      problem = notHealthy(probe);
    } catch (err) {
      problem = `the health check failed: ${(err as Error).message}`;
    }
    const t = now();
    if (problem === null) {
      healthySince ??= t;
      if (t - healthySince >= timing.steadyMs) return { ok: true };
    } else {
      healthySince = null;
      last = problem;
    }
    if (t - start >= timing.limitMs) {
      return {
        ok: false,
        reason: problem === null
          ? `healthy for only ${Math.round((t - (healthySince ?? t)) / 1000)} s of the ` +
            `${timing.steadyMs / 1000} s needed within ${timing.limitMs / 1000} s`
          : `health gate failed after ${Math.round(timing.limitMs / 1000)} s: ${last}`,
      };
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timing.pollMs);
      function done() {
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", done);
        resolve();
      }
      opts.signal?.addEventListener("abort", done, { once: true });
    });
  }
}
