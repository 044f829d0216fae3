/**
 * The days of a time zone on which a camera has recordings, for the page's day picker. Walks the
 * index one seek a day (the first segment starting at or after each day's local midnight), so a
 * year of 10-second segments (3 million rows a camera) costs a few hundred index seeks, not a
 * scan. A segment counts for the day it starts on.
 */
import type { SegmentIndex } from "../storage/mod.ts";
import { localDays } from "./local_day.ts";

/** At most this many days are listed (27 years): bounds the walk whatever the index holds. */
export const MAX_DAYS = 10_000;

export interface RecordingDays {
  readonly camera: string;
  readonly tz: string;
  /** "YYYY-MM-DD", oldest first. */
  readonly days: string[];
  /** Start of the oldest segment and end of the newest, or null without recordings. */
  readonly oldestMs: number | null;
  readonly newestMs: number | null;
}

/** Throws UnknownTimeZoneError (a RangeError) for a zone that is not one. */
export function recordingDays(index: SegmentIndex, camera: string, tz: string): RecordingDays {
  const cal = localDays(tz);
  const days: string[] = [];
  const oldestMs = index.firstStartFrom(camera, Number.MIN_SAFE_INTEGER);
  let start = oldestMs;
  while (start !== null && days.length < MAX_DAYS) {
    const day = cal.dayOf(start);
    days.push(day);
    // Never step back, whatever the zone data says about that midnight.
    start = index.firstStartFrom(camera, Math.max(cal.startOf(cal.next(day)), start + 1));
  }
  return { camera, tz, days, oldestMs, newestMs: index.lastSegmentEnd(camera) };
}
