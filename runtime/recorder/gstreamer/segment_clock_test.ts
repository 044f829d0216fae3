import { assertEquals } from "../../testing/assert.ts";
import { SegmentClock } from "./gst_recorder.ts";

const S = 1_000_000_000n;

Deno.test("SegmentClock: segments join exactly; drift or a clock step over 2 s ties them again", () => {
  let now = 1_000_000;
  let pipelineNs = 0n;
  const clock = new SegmentClock(() => now, () => pipelineNs);
  // The first fragment's buffers are 200 ms behind the pipeline clock (jitter buffer, queues).
  now += 1_200;
  pipelineNs = 1_200_000_000n;
  clock.opened("a", 1n * S);
  now += 2_000;
  pipelineNs += 2n * S;
  clock.opened("b", 3n * S);
  assertEquals(clock.closed("a", 3n * S), { startMs: 1_001_000, endMs: 1_003_000 });
  // The camera's clock runs fast: after a while its segments start 2.5 s "early"; the next one is
  // put back where it arrived, and the one before keeps the tie it was opened under.
  now += 1_997_500;
  pipelineNs += 1_997_500_000_000n;
  clock.opened("c", 2_003n * S);
  const b = clock.closed("b", 2_003n * S);
  assertEquals(b, { startMs: 1_003_000, endMs: 3_003_000 });
  now += 2_000;
  clock.opened("d", 2_005n * S);
  assertEquals(clock.closed("c", 2_005n * S), { startMs: 3_000_500, endMs: 3_002_500 });
  // NTP sets the board's clock an hour forward: the next segment follows it.
  now += 3_600_000 + 2_000;
  clock.opened("e", 2_007n * S);
  const d = clock.closed("d", 2_007n * S);
  assertEquals(d, { startMs: 3_002_500, endMs: 3_004_500 });
  now += 2_000;
  assertEquals(clock.closed("e", 2_009n * S), { startMs: 6_604_500, endMs: 6_606_500 });
  // Small differences (message delays) never move the tie.
  now += 500;
  clock.opened("f", 2_009n * S);
  assertEquals(clock.closed("f", 2_011n * S).startMs, 6_606_500);
});
