/**
 * Calendar days in a time zone (IANA name, e.g. "Europe/Berlin"), as the page's day picker shows
 * them: a day is "YYYY-MM-DD" and starts at local midnight, so a day has 23 or 25 hours at a
 * daylight-saving change. Uses the runtime's Intl time-zone data; no I/O.
 */

/** The zone is no IANA time zone name this runtime knows. */
export class UnknownTimeZoneError extends RangeError {
  constructor(tz: string) {
    super(`tz: '${tz.slice(0, 64)}' is not a time zone name (e.g. UTC or Europe/Berlin)`);
    this.name = "UnknownTimeZoneError";
  }
}

const TZ_NAME = /^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A day's calendar in one zone: which day a time falls on, and when a day starts. */
export interface LocalDays {
  readonly tz: string;
  /** "YYYY-MM-DD" of `ms` in the zone. */
  dayOf(ms: number): string;
  /** Local midnight at the start of `day` ("YYYY-MM-DD"), ms since the epoch. */
  startOf(day: string): number;
  /** The day after `day`. */
  next(day: string): string;
}

/** Throws UnknownTimeZoneError for a name that is not a zone. */
export function localDays(tz: string): LocalDays {
  let format: Intl.DateTimeFormat;
  try {
    if (!TZ_NAME.test(tz)) throw new RangeError(tz);
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    });
  } catch {
    throw new UnknownTimeZoneError(tz);
  }
  /** The zone's wall clock at `ms`, read as if it were UTC. */
  const wall = (ms: number): number => {
    const p: Record<string, number> = {};
    for (const part of format.formatToParts(ms)) {
      if (part.type !== "literal") p[part.type] = Number(part.value);
    }
    return Date.UTC(
      p.year ?? 1970,
      (p.month ?? 1) - 1,
      p.day ?? 1,
      p.hour ?? 0,
      p.minute ?? 0,
      p.second ?? 0,
    );
  };
  const parse = (day: string): [number, number, number] => {
    const m = DAY.exec(day);
    if (!m) throw new RangeError(`day: '${day.slice(0, 20)}' is not YYYY-MM-DD`);
    return [Number(m[1]), Number(m[2]), Number(m[3])];
  };
  const iso = (utcMidnight: number) => new Date(utcMidnight).toISOString().slice(0, 10);
  return {
    tz,
    dayOf: (ms) => iso(wall(ms) - (wall(ms) % 86_400_000 + 86_400_000) % 86_400_000),
    startOf(day) {
      const [y, m, d] = parse(day);
      const guess = Date.UTC(y, m - 1, d);
      // Two rounds settle the offset also when midnight is near a daylight-saving change.
      let start = guess - (wall(guess) - guess);
      start = guess - (wall(start) - start);
      return start - (start % 1000);
    },
    next(day) {
      const [y, m, d] = parse(day);
      return iso(Date.UTC(y, m - 1, d + 1));
    },
  };
}
