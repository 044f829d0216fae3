/**
 * Whether the wall clock can be believed, and the times a segment gets when it cannot.
 *
 * A board without a real-time clock starts in 1970 (or at whatever systemd last saved) until
 * systemd-timesyncd has synced it. Recording must not wait for that, so segments made meanwhile
 * are stamped from the monotonic clock (ms since boot, the same in every process of a boot):
 * they are indexed with `clock: "unsynced"`, the boot id and their monotonic start and end, at an
 * estimated wall time that is never before `floorMs`. Once the clock is trusted, the daemon
 * re-stamps this boot's unsynced segments: wall = mono + (syncWall − syncMono).
 *
 * The clock is trusted when its time is not before `floorMs` (the image's build date) and one of: systemd-timesyncd says it synced
 * (`<timesyncRoot>/run/systemd/timesync/synchronized` exists), the board has an RTC
 * (`<sysRoot>/class/rtc/rtc0`), or the config says so (`clock.trust: "always"`).
 */

export type ClockSource = "timesyncd" | "rtc" | "config";

/** What health and the fleet state report about the clock. */
export interface ClockStatus {
  readonly trusted: boolean;
  /** Why it is trusted, or null. */
  readonly source: ClockSource | null;
  /** ISO time of the last sync (timesyncd's file time, else when it became trusted); or null. */
  readonly lastSync: string | null;
}

/** The clock changed: became trusted ("synced"), stopped being trusted ("lost"), or stepped. */
export interface ClockChange {
  readonly kind: "synced" | "lost" | "jump";
  readonly source: ClockSource | null;
  /** Wall and monotonic time when it was seen. */
  readonly wallMs: number;
  readonly monoMs: number;
  /** How far the wall clock stepped since it was last looked at, ms (positive: forward). */
  readonly jumpMs: number;
  /** For "synced": how far this boot's estimated times move when re-stamped, ms. */
  readonly correctionMs?: number;
  /** For "lost": why the clock is no longer believed. */
  readonly reason?: string;
}

/** The times a segment is indexed with. */
export interface SegmentTimes {
  readonly startMs: number;
  readonly endMs: number;
  /** null: from a trusted wall clock; "unsynced": estimated, to be re-stamped. */
  readonly clock: "unsynced" | null;
  readonly bootId: string | null;
  readonly monoStartMs: number | null;
  readonly monoEndMs: number | null;
}

export interface ClockTrustOptions {
  /** `clock.trust` of the config: "auto" (default) or "always". */
  readonly trust?: "auto" | "always";
  /** The wall clock; default Date.now. */
  readonly wall?: () => number;
  /** Milliseconds since boot; default /proc/uptime at start plus performance.now(). */
  readonly mono?: () => number;
  /** This boot's id; default /proc/sys/kernel/random/boot_id. */
  readonly bootId?: string;
  /** Root under which run/systemd/timesync/synchronized is looked for; default "/". */
  readonly timesyncRoot?: string;
  /** /sys, for class/rtc/rtc0; default "/sys". */
  readonly sysRoot?: string;
  /** /proc, for uptime and boot_id; default "/proc". */
  readonly procRoot?: string;
  /** No time before this is ever trusted or estimated (the build date); default BUILD_FLOOR_MS. */
  readonly floorMs?: number;
  /** Called on every change, by whoever called refresh(). */
  readonly onChange?: (change: ClockChange) => void;
}

/**
 * The earliest time a clock may show when the image has no build date: 2026-01-01, before any
 * release of this firmware. The image's build date (build-info.json) raises it.
 */
export const BUILD_FLOOR_MS = Date.UTC(2026, 0, 1);
/** A step of the wall clock against the monotonic one larger than this is a jump. */
const JUMP_MS = 2_000;
/** A segment is indexed at most this long after the recorder stamped its end (else: a step). */
const STAMP_LAG_MAX_MS = 10 * 60_000;

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return null;
  }
}

/** Milliseconds since boot, the same in every process of this boot (CLOCK_BOOTTIME via uptime). */
export function bootMonoClock(procRoot = "/proc"): () => number {
  const uptime = Number.parseFloat(readText(`${procRoot}/uptime`)?.split(" ")[0] ?? "");
  const base = (Number.isFinite(uptime) ? uptime * 1000 : 0) - performance.now();
  return () => base + performance.now();
}

export class ClockTrust {
  readonly bootId: string;
  readonly #trust: "auto" | "always";
  readonly #wall: () => number;
  readonly #mono: () => number;
  readonly #syncedFile: string;
  readonly #rtcDir: string;
  readonly #onChange: ((change: ClockChange) => void) | undefined;
  readonly #buildFloorMs: number;
  /** Estimates start here: the build date, or the newest time already indexed. */
  #floorMs: number;
  /** wall − mono when last looked at, to see steps. */
  #lastOffset: number | null = null;
  #source: ClockSource | null = null;
  /** wall − mono while trusted (kept after trust is lost: the monotonic clock carries it on). */
  #anchor: number | null = null;
  /** Monotonic time since which the clock has been trusted without a break. */
  #trustedSinceMono = Number.POSITIVE_INFINITY;
  #lastSync: number | null = null;
  #checked = false;

  constructor(options: ClockTrustOptions = {}) {
    const procRoot = options.procRoot ?? "/proc";
    this.#trust = options.trust ?? "auto";
    this.#wall = options.wall ?? Date.now;
    this.#mono = options.mono ?? bootMonoClock(procRoot);
    this.bootId = options.bootId ?? readText(`${procRoot}/sys/kernel/random/boot_id`) ??
      `unknown-${crypto.randomUUID()}`;
    const root = (options.timesyncRoot ?? "/").replace(/\/$/, "");
    this.#syncedFile = `${root}/run/systemd/timesync/synchronized`;
    this.#rtcDir = `${options.sysRoot ?? "/sys"}/class/rtc/rtc0`;
    this.#buildFloorMs = options.floorMs ?? BUILD_FLOOR_MS;
    this.#floorMs = this.#buildFloorMs;
    this.#onChange = options.onChange;
  }

  /** No wall time before this is trusted (the build date). */
  get floorMs(): number {
    return this.#buildFloorMs;
  }

  /**
   * Raises where estimates start (to the newest time already in the index, so that this boot's
   * unsynced segments sort after everything before them); never lowers it, never changes trust.
   */
  raiseFloor(ms: number | null): void {
    if (ms !== null && Number.isFinite(ms) && ms > this.#floorMs) this.#floorMs = ms;
  }

  mono(): number {
    return this.#mono();
  }

  wall(): number {
    return this.#wall();
  }

  /** Looks at the clock and its sources again; reports a change to onChange and returns it. */
  refresh(): ClockChange | null {
    const wall = this.#wall();
    const mono = this.#mono();
    const offset = wall - mono;
    const { source, reason } = this.#judge(wall);
    const jumpMs = Math.round(offset - (this.#lastOffset ?? offset));
    this.#lastOffset = offset;
    const seen = { wallMs: wall, monoMs: mono, jumpMs };
    let change: ClockChange | null = null;
    if (source !== null) {
      if (this.#source === null) {
        const correctionMs = Math.round(offset - this.#estimateOffset());
        change = { kind: "synced", source, ...seen, correctionMs };
        this.#trustedSinceMono = mono;
        this.#lastSync = wall;
      } else if (Math.abs(jumpMs) > JUMP_MS) {
        change = { kind: "jump", source, ...seen };
      }
      this.#anchor = offset;
      if (source === "timesyncd") this.#lastSync = this.#fileTime() ?? this.#lastSync;
    } else {
      if (this.#source !== null) change = { kind: "lost", source: null, ...seen, reason };
      this.#trustedSinceMono = Number.POSITIVE_INFINITY;
    }
    this.#source = source;
    this.#checked = true;
    if (change) this.#onChange?.(change);
    return change;
  }

  status(): ClockStatus {
    if (!this.#checked) this.refresh();
    return {
      trusted: this.#source !== null,
      source: this.#source,
      lastSync: this.#lastSync === null ? null : new Date(this.#lastSync).toISOString(),
    };
  }

  /** wall − mono for this boot's synced clock, or null while it has not been trusted. */
  syncOffset(): number | null {
    return this.#source === null ? null : this.#anchor;
  }

  /**
   * The times a just-closed segment is indexed with. `span` is what the recorder measured with
   * the wall clock; `durationMs` its length when that is known better (the file's own duration,
   * used when the wall clock stepped during the segment). The segment ends about now.
   */
  stamp(span: { startMs: number; endMs: number }, durationMs?: number): SegmentTimes {
    this.refresh();
    const wall = this.#wall();
    const mono = this.#mono();
    // The recorder stamped the end a moment ago (the file is closed first); when the wall clock
    // did not step since, that lag carries over to the monotonic clock.
    const lag = wall - span.endMs;
    // The span is in the clock's current terms only when the clock did not step since its end was
    // stamped (a span closed in 1970 and indexed after the sync is not, however late it comes).
    const sameClock = lag > -JUMP_MS && lag < STAMP_LAG_MAX_MS &&
      span.startMs >= this.#buildFloorMs;
    // A lag outside that: the end is taken as now (the recorder's wall clock follows the camera's
    // RTP clock and may go on in the old time base for a while after a step, so its end can be
    // later than the moment the step was seen).
    const monoEnd = lag >= 0 && lag < 10_000 ? mono - lag : mono;
    const duration = Math.max(0, durationMs ?? span.endMs - span.startMs);
    const monoStart = monoEnd - duration;
    const trusted = { ...span, clock: null, bootId: null, monoStartMs: null, monoEndMs: null };
    if (this.#source !== null && sameClock && monoStart >= this.#trustedSinceMono) return trusted;
    if (this.#source !== null && this.#anchor !== null) {
      // Began before the clock was synced, ends after: placed by the monotonic clock.
      const startMs = Math.round(monoStart + this.#anchor);
      return { ...trusted, startMs, endMs: startMs + duration };
    }
    const estimate = this.#estimateOffset();
    const startMs = Math.round(monoStart + estimate);
    return {
      startMs,
      endMs: startMs + duration,
      clock: "unsynced",
      bootId: this.bootId,
      monoStartMs: Math.round(monoStart),
      monoEndMs: Math.round(monoStart) + duration,
    };
  }

  /**
   * wall − mono to place untrusted times with: the last trusted one carried on by the monotonic
   * clock, else "booted at the floor" (never before anything already indexed).
   */
  #estimateOffset(): number {
    return this.#anchor ?? this.#floorMs;
  }

  #judge(wall: number): { source: ClockSource | null; reason: string } {
    if (wall < this.#buildFloorMs) {
      const shows = new Date(wall).toISOString();
      const floor = new Date(this.#buildFloorMs).toISOString();
      return { source: null, reason: `the clock shows ${shows}, before the build date ${floor}` };
    }
    if (this.#trust === "always") return { source: "config", reason: "" };
    if (this.#fileTime() !== null) return { source: "timesyncd", reason: "" };
    if (exists(this.#rtcDir)) return { source: "rtc", reason: "" };
    return { source: null, reason: `not synced yet (no ${this.#syncedFile}) and no RTC` };
  }

  #fileTime(): number | null {
    try {
      const t = Deno.statSync(this.#syncedFile).mtime?.getTime() ?? null;
      return t !== null && t >= this.#buildFloorMs ? t : this.#wall();
    } catch {
      return null;
    }
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
