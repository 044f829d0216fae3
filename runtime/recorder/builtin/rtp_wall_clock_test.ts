import { assertEquals } from "../../testing/assert.ts";
import { RtpWallClock } from "./rtp_wall_clock.ts";

const RATE = 90_000;
const SEG = 10 * RATE; // a 10 s segment in RTP ticks

Deno.test("segments join exactly although the process handles them late under load (no false gap, no overlap)", () => {
  const clock = new RtpWallClock(RATE);
  const t0 = 1_800_000_000_000;
  // Handled at: on time, 7.7 s late, 5 s late, then caught up: the stream itself never stopped.
  const lateness = [0, 7_700, 5_000, 0, 300, 0];
  const spans: [number, number][] = [];
  for (let i = 0; i < lateness.length; i++) {
    const start = clock.start(i * SEG, t0 + i * 10_000 + lateness[i]!);
    spans.push([start, clock.wall((i + 1) * SEG)]);
  }
  for (let i = 1; i < spans.length; i++) assertEquals(spans[i]![0], spans[i - 1]![1]);
  assertEquals(spans[0]![0], t0);
});

Deno.test("a lasting disagreement (the camera's clock runs at another rate) re-ties after three segment starts", () => {
  const clock = new RtpWallClock(RATE);
  const t0 = 1_800_000_000_000;
  clock.start(0, t0);
  // Our clock is 3 s ahead of the camera's from segment 1 on, for good.
  const starts = [1, 2, 3, 4].map((i) => clock.start(i * SEG, t0 + i * 10_000 + 3_000));
  assertEquals(starts, [t0 + 10_000, t0 + 20_000, t0 + 33_000, t0 + 43_000]);
});

Deno.test("a jump in the RTP timestamps (over a minute) re-ties at once", () => {
  const clock = new RtpWallClock(RATE);
  const t0 = 1_800_000_000_000;
  clock.start(0, t0);
  assertEquals(clock.start(SEG + 3600 * RATE, t0 + 10_000), t0 + 10_000);
  assertEquals(clock.wall(2 * SEG + 3600 * RATE), t0 + 20_000);
});
