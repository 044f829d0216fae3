import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { RtpReorder } from "./rtp_reorder.ts";

function packet(seq: number, fill = seq & 0xff): Uint8Array {
  const p = new Uint8Array(16).fill(fill);
  p[0] = 0x80;
  p[2] = (seq >> 8) & 0xff;
  p[3] = seq & 0xff;
  return p;
}

function collector(): { seqs: number[]; fills: number[]; deliver: (p: Uint8Array) => void } {
  const seqs: number[] = [];
  const fills: number[] = [];
  return {
    seqs,
    fills,
    deliver: (p) => {
      seqs.push((p[2]! << 8) | p[3]!);
      fills.push(p[15]!);
    },
  };
}

Deno.test("RtpReorder: in-order packets pass through at once, across the 16-bit wrap", () => {
  const out = collector();
  const r = new RtpReorder(out.deliver);
  for (const seq of [65533, 65534, 65535, 0, 1]) r.push(packet(seq), 0);
  assertEquals(out.seqs, [65533, 65534, 65535, 0, 1]);
  assertEquals([r.early, r.late, r.gaps, r.held], [0, 0, 0, 0]);
});

Deno.test("RtpReorder: swapped packets are put back in order, with their own bytes", () => {
  const out = collector();
  const r = new RtpReorder(out.deliver);
  for (const seq of [10, 12, 13, 11, 14, 16, 15]) r.push(packet(seq, seq + 100), 0);
  assertEquals(out.seqs, [10, 11, 12, 13, 14, 15, 16]);
  assertEquals(out.fills, [110, 111, 112, 113, 114, 115, 116]);
  assertEquals([r.early, r.late, r.gaps, r.held], [3, 0, 0, 0]);
});

Deno.test("RtpReorder: a lost packet is given up after maxHeld packets; a late one is dropped", () => {
  const out = collector();
  const r = new RtpReorder(out.deliver, { maxHeld: 4, maxWaitMs: 1_000 });
  r.push(packet(1), 0);
  for (const seq of [3, 4, 5]) r.push(packet(seq), 0);
  assertEquals(out.seqs, [1], "held while 2 may still come");
  r.push(packet(6), 0);
  assertEquals(out.seqs, [1, 3, 4, 5, 6], "the gap is given up at 4 held");
  r.push(packet(2), 0);
  r.push(packet(6), 0);
  assertEquals(out.seqs, [1, 3, 4, 5, 6], "late and duplicate packets are dropped");
  assertEquals([r.gaps, r.late, r.held], [1, 2, 0]);
});

Deno.test("RtpReorder: a missing packet is waited for at most maxWaitMs", () => {
  const out = collector();
  const r = new RtpReorder(out.deliver, { maxHeld: 32, maxWaitMs: 200 });
  r.push(packet(100), 0);
  r.push(packet(102), 10);
  r.push(packet(103), 150);
  assertEquals(out.seqs, [100]);
  r.push(packet(104), 211);
  assertEquals(out.seqs, [100, 102, 103, 104]);
  assertEquals(r.gaps, 1);
});

Deno.test("RtpReorder: a jump far ahead (sender restart) delivers what is held and moves on", () => {
  const out = collector();
  const r = new RtpReorder(out.deliver, { maxHeld: 8 });
  r.push(packet(1), 0);
  r.push(packet(3), 0);
  r.push(packet(40_000), 0);
  r.push(packet(40_001), 0);
  assertEquals(out.seqs, [1, 3, 40_000, 40_001], "25 538 behind: a restart, not a late packet");
  r.push(packet(41_000), 0);
  r.push(packet(41_001), 0);
  assertEquals(out.seqs.slice(4), [41_000, 41_001], "999 ahead: a long loss");
  assertEquals(r.held, 0);
});

Deno.test("RtpReorder: flush() hands over what is held; bad options are a RangeError", () => {
  const out = collector();
  const r = new RtpReorder(out.deliver);
  r.push(packet(5), 0);
  r.push(packet(7), 0);
  r.push(packet(9), 0);
  r.flush();
  assertEquals(out.seqs, [5, 7, 9]);
  assertThrows(() => new RtpReorder(out.deliver, { maxHeld: 0 }), RangeError, "maxHeld");
});
