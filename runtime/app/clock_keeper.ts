/**
 * The daemon's side of the wall clock (lib/clock_trust.ts): watches whether it is trusted, and
 * when it becomes so re-stamps this boot's unsynced segments in one transaction and records a
 * `clock-synced` event (index and fleet). A step of a trusted clock, or a clock no longer
 * believed (e.g. set back before the build date), is an event and a warning; history already
 * indexed is not rewritten.
 */
import {
  type ClockChange,
  type ClockStatus,
  ClockTrust,
  type ClockTrustOptions,
} from "../lib/clock_trust.ts";
import type { Logger } from "../lib/log.ts";
import { softwareVersion } from "../lib/version.ts";
import type { SegmentIndex } from "../storage/mod.ts";
import type { ClockTrustMode } from "../config/types.ts";

/** How often the clock and timesyncd's file are looked at. */
export const CLOCK_POLL_MS = 2_000;

export interface ClockKeeperDeps {
  readonly trust: ClockTrustMode;
  /** Clock sources (tests: a fake wall clock, fixture roots, a boot id). */
  readonly options: Omit<ClockTrustOptions, "trust" | "onChange">;
  readonly index: () => SegmentIndex;
  readonly log: Logger;
  /** An event for the fleet (kind, detail); errors are the caller's to swallow. */
  readonly publish?: (kind: "clock-synced" | "clock-jump", detail: Record<string, unknown>) => void;
  readonly pollMs?: number;
}

export interface ClockKeeper {
  readonly clock: ClockTrust;
  /** For recorder workers: how they build their own ClockTrust. */
  readonly workerOptions: Omit<ClockTrustOptions, "wall" | "mono" | "onChange">;
  status(): ClockStatus;
  stop(): void;
}

/** The build date (build-info.json) when the image has one, else lib's BUILD_FLOOR_MS. */
async function buildFloor(): Promise<number | undefined> {
  const built = (await softwareVersion({ git: null })).builtAt;
  const ms = built === null ? Number.NaN : Date.parse(built);
  return Number.isFinite(ms) ? ms : undefined;
}

export async function startClockKeeper(deps: ClockKeeperDeps): Promise<ClockKeeper> {
  const log = deps.log.child({ module: "clock" });
  const floorMs = deps.options.floorMs ?? await buildFloor();
  const onChange = (change: ClockChange) => {
    try {
      handle(change);
    } catch (err) {
      log.error("clock change not recorded in the index", { err, kind: change.kind });
    }
  };
  const clock = new ClockTrust({
    ...deps.options,
    ...(floorMs === undefined ? {} : { floorMs }),
    trust: deps.trust,
    onChange,
  });
  let first = true;
  const handle = (change: ClockChange) => {
    if (change.kind === "synced") {
      const segments = deps.index().restamp(clock.bootId, change.wallMs - change.monoMs);
      if (first && segments === 0) return; // trusted from the start: nothing happened

      const detail = {
        source: change.source,
        segments,
        jumpMs: change.jumpMs,
        correctionMs: change.correctionMs ?? 0,
      };
      log.info("clock synced; segments recorded before it re-stamped", detail);
      deps.index().addEvent({ camera: null, tsMs: change.wallMs, kind: "clock-synced", detail });
      deps.publish?.("clock-synced", detail);
    } else {
      // Not rewritten: what was indexed under a trusted clock stays as it was.
      const detail = {
        trusted: change.kind === "jump",
        jumpMs: change.jumpMs,
        reason: change.reason ?? "stepped",
      };
      log.warn(
        change.kind === "lost"
          ? "clock no longer trusted; segments are flagged unsynced until it is"
          : "trusted clock stepped; recordings already indexed keep their times",
        detail,
      );
      const tsMs = clock.syncOffset() === null
        ? Math.max(change.wallMs, clock.floorMs)
        : change.wallMs;
      deps.index().addEvent({ camera: null, tsMs, kind: "clock-jump", detail });
      deps.publish?.("clock-jump", detail);
    }
  };
  try {
    clock.raiseFloor(deps.index().newestEnd(clock.bootId));
  } catch (err) {
    log.warn("index not readable for the clock's floor; estimates start at the build date", {
      err,
    });
  }
  const status = clock.status(); // the first look
  first = false;
  log.info("clock", { ...status, bootId: clock.bootId });
  const timer = setInterval(() => {
    clock.refresh();
    const offset = clock.syncOffset();
    if (offset === null) return;
    try {
      // Segments a recorder process finished unsynced after the sync was seen here.
      const late = deps.index().restamp(clock.bootId, offset);
      if (late > 0) log.info("late unsynced segments re-stamped", { segments: late });
    } catch (err) {
      log.warn("unsynced segments not re-stamped; tried again", { err });
    }
  }, deps.pollMs ?? CLOCK_POLL_MS);
  const { timesyncRoot, sysRoot, procRoot } = deps.options;
  return {
    clock,
    workerOptions: {
      trust: deps.trust,
      bootId: clock.bootId,
      floorMs: clock.floorMs,
      ...(timesyncRoot ? { timesyncRoot } : {}),
      ...(sysRoot ? { sysRoot } : {}),
      ...(procRoot ? { procRoot } : {}),
    },
    status: () => clock.status(),
    stop: () => clearInterval(timer),
  };
}
