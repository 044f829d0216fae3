/** The sync of several cameras' playback (page/play_sync.js): what it tells each row to do. */
import { assertEquals } from "../testing/assert.ts";
import { syncPlan, toleranceMs } from "./page/play_sync.js";

const at = (wallMs: number, held = false) => ({ wallMs, held });

Deno.test("play sync: rows within a sixth of the tolerance play at the chosen rate", () => {
  assertEquals(syncPlan([at(1_000), at(1_040)], 1), [
    { hold: false, factor: 1 },
    { hold: false, factor: 1 },
  ]);
});

Deno.test("play sync: a row a little ahead plays slower, never more than a quarter", () => {
  const [behind, ahead] = syncPlan([at(1_000), at(1_100)], 1);
  assertEquals(behind, { hold: false, factor: 1 });
  assertEquals(ahead!.hold, false);
  assertEquals(ahead!.factor, 1 - 100 / 600);
  assertEquals(syncPlan([at(0), at(179)], 1)[1]!.factor >= 0.75, true);
});

Deno.test("play sync: a row further ahead waits until the row behind is nearly level", () => {
  assertEquals(syncPlan([at(1_000), at(3_000)], 1)[1], {
    hold: true,
    factor: 1,
  });
  // Held: still waiting at 60 ms ahead, released at 50 ms (a sixth of 300).
  assertEquals(syncPlan([at(2_940), at(3_000, true)], 1)[1], {
    hold: true,
    factor: 1,
  });
  assertEquals(syncPlan([at(2_950), at(3_000, true)], 1)[1], {
    hold: false,
    factor: 1,
  });
});

Deno.test("play sync: the row behind is never held or hurried, whoever it is", () => {
  const plan = syncPlan([at(5_000), at(2_000), at(4_000)], 1);
  assertEquals(plan[1], { hold: false, factor: 1 });
  assertEquals(plan[0]!.hold && plan[2]!.hold, true);
});

Deno.test("play sync: rows taking no part are left alone, and a row alone is released", () => {
  assertEquals(syncPlan([null, at(9_000, true)], 1), [
    { hold: false, factor: 1 },
    { hold: false, factor: 1 },
  ]);
  assertEquals(syncPlan([], 1), []);
});

Deno.test("play sync: the tolerance is 0.3 s up to 2×, then 0.15 s of watching", () => {
  assertEquals([1, 2, 4, 8].map(toleranceMs), [300, 300, 600, 1_200]);
  // At 8× a row 0.5 s ahead is only slowed (0.6 × 1 200 = 720 ms before it is held).
  assertEquals(syncPlan([at(0), at(500)], 8)[1]!.hold, false);
});
