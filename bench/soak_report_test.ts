import { assert, assertEquals } from "../runtime/testing/assert.ts";
import {
  budgetVerdict,
  emptyTally,
  rssVerdict,
  slopePerHour,
  soakBudget,
  type SoakMinute,
  soakRows,
  tableMinutes,
  tallyLogLines,
} from "./soak_report.ts";

const MiB = 2 ** 20;

function assertNear(actual: number | null | undefined, expected: number, what = ""): void {
  assert(
    actual !== null && actual !== undefined && Math.abs(actual - expected) < 1e-9,
    `${what} ${actual} is not ${expected}`,
  );
}

function minute(m: number, over: Partial<SoakMinute> = {}): SoakMinute {
  return {
    minute: m,
    at: `2026-12-07T10:${String(m).padStart(2, "0")}:00.000Z`,
    rssTreeKb: 200 * 1024,
    hwmSumKb: 210 * 1024,
    procs: [
      { role: "daemon", pid: 10, rssKb: 120 * 1024, hwmKb: 125 * 1024, fds: 40 },
      { role: "w1", pid: 11, rssKb: 80 * 1024, hwmKb: 85 * 1024, fds: 30 },
    ],
    fds: 70,
    cpuSeconds: 30,
    machineBusyPercent: 40,
    recordingsBytes: 100 * MiB,
    segments: 20,
    recordingsPeakBytes: 100 * MiB,
    openBytes: 5 * MiB,
    largestSegmentBytes: 6 * MiB,
    budgetBytes: 300 * MiB,
    deletedBytes: 0,
    sweeps: 0,
    restarts: 0,
    ...over,
  };
}

Deno.test("soak budget: what the streams write in 10 minutes, half the run for a short one", () => {
  // 16 × 4000 kbit/s = 8 MB/s; 600 s = 4.8 GB ≈ 4578 MiB.
  assertEquals(soakBudget(16, 4000, 120), { bytes: 4578 * MiB, fillMinutes: 10 });
  // The smoke: 4 streams for 4 minutes fill it in 2.
  assertEquals(soakBudget(4, 4000, 4), { bytes: 229 * MiB, fillMinutes: 2 });
  assertEquals(soakBudget(1, 100, 1).fillMinutes, 1, "never less than a minute");
});

Deno.test("soak table minutes: 1, 5, 10, every 10, the last; every hour past 3 h; all of a smoke", () => {
  assertEquals(tableMinutes(4), [1, 2, 3, 4], "a smoke: every minute");
  assertEquals(tableMinutes(10), [1, 5, 10]);
  assertEquals(tableMinutes(35), [1, 5, 10, 20, 30, 35]);
  assertEquals(tableMinutes(120), [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]);
  assertEquals(tableMinutes(300), [1, 5, 10, 20, 30, 40, 50, 60, 120, 180, 240, 300]);
});

Deno.test("soak slope: least squares in MiB per hour; a flat line is 0, one point none", () => {
  assertNear(slopePerHour([[10, 200], [20, 201], [30, 202]]), 6);
  assertEquals(slopePerHour([[10, 200], [70, 200]]), 0);
  assertEquals(slopePerHour([[10, 200]]), null);
  // Noise around a flat line: two high minutes at the ends do not make a leak.
  const noisy = [[10, 205], [20, 200], [30, 200], [40, 200], [50, 205]] as const;
  assertNear(slopePerHour(noisy), 0);
});

Deno.test("soak RSS verdict: growth from minute 10 to the end, under 5 % is flat", () => {
  const grow = (m: number) =>
    minute(m, { rssTreeKb: (200 + (m >= 10 ? (m - 10) * 0.05 : 0)) * 1024 });
  const flat = rssVerdict(Array.from({ length: 120 }, (_, i) => grow(i + 1)))!;
  assertEquals([flat.warmMinute, flat.lastMinute, flat.flat], [10, 120, true]);
  assertNear(flat.growthPercent, 2.75, "200 → 205.5 MiB:");
  assertNear(flat.slopeMiBPerHour, 3, "0.05 MiB a minute:");
  const leak = rssVerdict([minute(10), minute(120, { rssTreeKb: 221 * 1024 })])!;
  assertEquals([leak.flat, Math.round(leak.growthPercent)], [false, 11]);
  // The smoke: 4 minutes, warm-up taken as its first half.
  const short = rssVerdict([1, 2, 3, 4].map((m) => minute(m)))!;
  assertEquals([short.warmMinute, short.growthPercent, short.flat], [2, 0, true]);
  assertEquals(rssVerdict([minute(1)]), null);
});

Deno.test("soak budget verdict: reached and never past budget + one segment per camera", () => {
  const held = budgetVerdict([
    minute(1),
    minute(2, { recordingsPeakBytes: 310 * MiB, deletedBytes: 12 * MiB }),
    minute(3, { recordingsPeakBytes: 320 * MiB, deletedBytes: 30 * MiB }),
  ], 4);
  assertEquals(held.limitBytes, 324 * MiB);
  assertEquals([held.peakBytes, held.reachedMinute, held.deletedBytes, held.held], [
    320 * MiB,
    2,
    42 * MiB,
    true,
  ]);
  const over = budgetVerdict([minute(1), minute(2, { recordingsPeakBytes: 330 * MiB })], 4);
  assertEquals([over.reachedMinute, over.held], [2, false]);
  const never = budgetVerdict([minute(1), minute(2)], 4);
  assertEquals([never.reachedMinute, never.held], [null, false], "not shown is not held");
});

Deno.test("soak log tally: worker restarts, retention's deletions, failures and warnings", () => {
  const t = emptyTally();
  tallyLogLines(t, [
    '{"ts":"x","level":"info","module":"recorder","msg":"segment","path":"a.mp4","bytes":5}',
    '{"ts":"x","level":"info","module":"retention","msg":"retention sweep","deleted":2,' +
    '"bytes":1000,"byReason":{"age":0,"budget":2,"free-space":0}}',
    '{"ts":"x","level":"error","module":"recorder","msg":"recorder process lost","reason":"hung"}',
    '{"ts":"x","level":"warn","camera":"cam01","msg":"camera pipeline failed; retrying"}',
    '{"ts":"x","level":"warn","camera":"cam01","msg":"recording gap","seconds":3}',
    "Listening on http://127.0.0.1:40000/",
    "",
  ]);
  tallyLogLines(t, [
    '{"level":"info","msg":"retention sweep","bytes":500,"byReason":{"budget":1}}',
  ]);
  assertEquals(
    [t.restarts, t.sweeps, t.deletedBytes, t.budgetSegments, t.pipelineFailures, t.gaps],
    [1, 2, 1500, 3, 1, 1],
  );
  assertEquals(t.problems.length, 3);
  assert(t.problems[0]?.includes("recorder process lost"));
});

Deno.test("soak table: the chosen minutes, a column per process role", () => {
  const run = Array.from({ length: 12 }, (_, i) => minute(i + 1, { deletedBytes: (i + 1) * MiB }));
  const rows = soakRows(run);
  assertEquals(rows[0]?.slice(0, 4), ["min", "RSS tree MiB", "daemon MiB", "w1 MiB"]);
  assertEquals(rows.map((r) => r[0]), ["min", "1", "5", "10", "12"]);
  assertEquals(rows[2], ["5", "200", "120", "80", "210", "50.0", "70", "20", "100", "33 %", "5"]);
});
