/** The reboot window: inside means now, else the next start; windows may wrap midnight. */
import { assertEquals } from "../testing/assert.ts";
import { nextWindowStart, windowProblem } from "./window.ts";

const at = (d: number, h: number, m = 0) => new Date(2026, 0, d, h, m).getTime();

Deno.test("reboot window: inside → now, before → today's start, after → tomorrow's, wrapping midnight", () => {
  assertEquals(nextWindowStart(at(1, 3), "02:00-04:00"), at(1, 3));
  assertEquals(nextWindowStart(at(1, 1), "02:00-04:00"), at(1, 2));
  assertEquals(nextWindowStart(at(1, 4), "02:00-04:00"), at(2, 2));
  assertEquals(nextWindowStart(at(1, 0, 30), "23:00-01:00"), at(1, 0, 30));
  assertEquals(nextWindowStart(at(1, 23, 30), "23:00-01:00"), at(1, 23, 30));
  assertEquals(nextWindowStart(at(1, 12), "23:00-01:00"), at(1, 23));
  assertEquals(windowProblem("02:00-04:00"), null);
  assertEquals(windowProblem("2:00-4:00"), 'is not a window; e.g. "02:00-04:00" (local time)');
  assertEquals(windowProblem("04:00-04:00"), "is empty; give a start and a later end");
});
