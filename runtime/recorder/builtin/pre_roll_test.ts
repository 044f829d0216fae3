import { assert, assertEquals } from "../../testing/assert.ts";
import type { VideoAccessUnit } from "../../media/codec/types.ts";
import { PreRoll } from "./pre_roll.ts";
import { EventRecording } from "./event_recording.ts";
import type { HeldUnit } from "./pre_roll.ts";

const CLOCK = 90_000;
const FPS = 15;

/** Pictures of a stream with a keyframe every `gopSeconds`, `bytes` each. */
function* stream(gopSeconds: number, seconds: number, bytes = 1_000): Generator<VideoAccessUnit> {
  for (let i = 0; i < seconds * FPS; i++) {
    yield {
      nals: [new Uint8Array(bytes)],
      timestamp: i * CLOCK / FPS,
      keyframe: i % (gopSeconds * FPS) === 0,
      damaged: false,
    };
  }
}

for (const gop of [1, 4]) {
  Deno.test(`pre-roll: a ${gop} s GOP holds whole GOPs from a keyframe at least the pre-roll back, at most one GOP more`, () => {
    const pre = new PreRoll({ clockRate: CLOCK, preRollSeconds: 5 });
    let most = 0;
    for (const au of stream(gop, 60)) {
      pre.pushVideo(au);
      if (au.timestamp >= 10 * CLOCK) {
        assert(pre.seconds >= 5, `${pre.seconds} s held at ${au.timestamp / CLOCK} s`);
        assert(pre.seconds < 5 + gop, `${pre.seconds} s held at ${au.timestamp / CLOCK} s`);
      }
      most = Math.max(most, pre.bytes);
    }
    assert(most <= (5 + gop) * FPS * 1_000, `${most} bytes at most`);
    const units = pre.take();
    assert(units[0]?.kind === "video" && units[0].au.keyframe, "starts at a keyframe");
    assertEquals([pre.bytes, pre.ready], [0, false], "empty once taken");
  });
}

Deno.test("pre-roll: the byte bound drops the oldest GOP first; a GOP larger than the bound is not held until the next keyframe", () => {
  // 4 s GOPs of 15 kB pictures: 60 frames, 900 kB a GOP; the bound 1 MB holds one GOP.
  const pre = new PreRoll({ clockRate: CLOCK, preRollSeconds: 30, maxBytes: 1_000_000 });
  for (const au of stream(4, 40, 15_000)) {
    pre.pushVideo(au);
    assert(pre.bytes <= 1_000_000, `${pre.bytes} bytes held`);
  }
  assert(pre.counters.gopsOverBound > 0, "GOPs dropped for the bound");
  assert(pre.ready && pre.seconds < 4, `${pre.seconds} s: the newest GOP only`);
  // A GOP of 20 kB pictures outgrows the bound on its own: nothing held until the next keyframe.
  const small = new PreRoll({ clockRate: CLOCK, preRollSeconds: 5, maxBytes: 1_000_000 });
  for (const au of stream(4, 3.6, 20_000)) small.pushVideo(au);
  assertEquals([small.ready, small.bytes], [false, 0], "the oversize GOP is dropped whole");
  assertEquals(small.latestPictures([]), null);
});

Deno.test("events gate: nothing is fed without an event; an event feeds the pre-roll from a keyframe, then the stream, and cuts at a keyframe after the post-roll", () => {
  const fed: HeldUnit[] = [];
  const changes: boolean[] = [];
  let finished = 0;
  let state = { atMs: -Infinity, held: false };
  const gate = new EventRecording(
    { mode: "events", preRollSeconds: 2, postRollSeconds: 3 },
    CLOCK,
    () => state,
    { feed: (u) => fed.push(u), finish: () => finished++, changed: (r) => changes.push(r) },
  );
  const ms = (au: VideoAccessUnit) => au.timestamp * 1000 / CLOCK;
  for (const au of stream(1, 30)) {
    const now = ms(au);
    if (Math.abs(now - 10_000) < 1) state = { atMs: now, held: false };
    gate.video(au, now);
    if (now < 10_000) assertEquals(fed.length, 0, `nothing fed at ${now} ms`);
  }
  const first = fed[0];
  assert(first?.kind === "video" && first.au.keyframe, "the first unit fed is a keyframe");
  assert(ms(first.au) <= 8_000, `starts ${ms(first.au)} ms: at least 2 s before the event`);
  const last = fed.at(-1)!;
  assertEquals(ms(last.au as VideoAccessUnit) < 14_000, true, "ends at the keyframe after 13 s");
  assertEquals([finished, changes], [1, [true, false]]);
});

Deno.test("attack: events flood a camera in events mode — one segment, memory bounded (the gate)", () => {
  let finished = 0;
  let opened = 0;
  let state = { atMs: -Infinity, held: false };
  const gate = new EventRecording(
    { mode: "events", preRollSeconds: 5, postRollSeconds: 2 },
    CLOCK,
    () => state,
    { feed: () => {}, finish: () => finished++, changed: (r) => r && opened++ },
    2_000_000,
  );
  let most = 0;
  for (const au of stream(4, 60, 10_000)) {
    const now = au.timestamp * 1000 / CLOCK;
    // A hundred events for every picture, for 40 s.
    if (now >= 10_000 && now < 50_000) {
      for (let i = 0; i < 100; i++) state = { atMs: now, held: i % 2 === 0 };
    }
    gate.video(au, now);
    most = Math.max(most, gate.pre.bytes);
  }
  assertEquals([opened, finished], [1, 1], "one recording for the whole flood");
  assert(most <= 2_000_000, `${most} bytes held at most`);
});
