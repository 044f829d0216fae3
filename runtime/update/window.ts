/**
 * The reboot window (`update.rebootWindow`, "HH:MM-HH:MM" in the box's local time; it may wrap
 * midnight, "23:00-01:00"). Pure.
 */

export const WINDOW_PATTERN = /^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$/;

/** Why `text` is not a window, or null. */
export function windowProblem(text: string): string | null {
  const m = WINDOW_PATTERN.exec(text);
  if (!m) return 'is not a window; e.g. "02:00-04:00" (local time)';
  return m[1] === m[3] && m[2] === m[4] ? "is empty; give a start and a later end" : null;
}

/** When the box should reboot: `nowMs` when it is inside the window, else the next start. */
export function nextWindowStart(nowMs: number, window: string): number {
  const m = WINDOW_PATTERN.exec(window);
  if (!m) throw new RangeError(`reboot window ${JSON.stringify(window)} is not "HH:MM-HH:MM"`);
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  const now = new Date(nowMs);
  const minute = now.getHours() * 60 + now.getMinutes();
  const inside = start < end ? minute >= start && minute < end : minute >= start || minute < end;
  if (inside) return nowMs;
  const next = new Date(nowMs);
  next.setHours(Number(m[1]), Number(m[2]), 0, 0);
  if (next.getTime() <= nowMs) next.setDate(next.getDate() + 1);
  return next.getTime();
}
