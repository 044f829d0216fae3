import { assert, assertEquals } from "../../testing/assert.ts";
import { H26xDepacketizer, MAX_AU_BYTES, MAX_AU_NALS } from "./rtp_h26x.ts";
import type { VideoAccessUnit } from "../codec/types.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);
const filled = (head: number[], length: number, fill = 0xaa) => {
  const out = new Uint8Array(length).fill(fill);
  out.set(head);
  return out;
};
/** Plain arrays of the NALs, for readable comparisons. */
const nals = (au: VideoAccessUnit | null) => au?.nals.map((n) => [...n]) ?? null;

// H.264 NAL headers: 0x67 SPS, 0x68 PPS, 0x65 IDR slice, 0x41 non-IDR slice. The byte after a
// slice header with its top bit set is first_mb_in_slice = 0 (a picture's first slice).
const SPS = [0x67, 0x42, 0x00, 0x1e];
const PPS = [0x68, 0xce, 0x3c];
const IDR = [0x65, 0x88, 0x84];
const P = [0x41, 0x9a, 0x02];

Deno.test("H.264: single NAL packets up to the marker make one access unit", () => {
  const d = new H26xDepacketizer("h264");
  assertEquals(d.push(bytes(...SPS), 1, 1000, false), null);
  assertEquals(d.push(bytes(...PPS), 2, 1000, false), null);
  const au = d.push(bytes(...IDR), 3, 1000, true);
  assertEquals(nals(au), [SPS, PPS, IDR]);
  assertEquals([au?.timestamp, au?.keyframe, au?.damaged], [1000, true, false]);
  const p = d.push(bytes(...P), 4, 4000, true);
  assertEquals([nals(p), p?.timestamp, p?.keyframe], [[P], 4000, false]);
  assertEquals([d.lostPackets, d.flush()], [0, null]);
});

Deno.test("H.264: STAP-A is split into its NAL units (copied into the arena, not the packet)", () => {
  const d = new H26xDepacketizer("h264");
  const stap = bytes(0x78, 0, SPS.length, ...SPS, 0, PPS.length, ...PPS);
  assertEquals(d.push(stap, 10, 0, false), null);
  const au = d.push(bytes(...IDR), 11, 0, true);
  assertEquals(nals(au), [SPS, PPS, IDR]);
  assert(au?.nals[0]?.buffer !== stap.buffer, "the packet's buffer may be reused at once");
  stap.fill(0);
  assertEquals(nals(au)?.[0], SPS, "so overwriting it changes nothing");
  // A size running past the packet: what came before is kept, the unit is damaged.
  d.push(bytes(0x78, 0, 3, ...PPS, 0, 9, 1, 2), 12, 3000, false);
  const bad = d.push(bytes(...P), 13, 3000, true);
  assertEquals([nals(bad), bad?.damaged], [[PPS, P], true]);
});

Deno.test("H.264: FU-A start, middle, end are reassembled into one new buffer", () => {
  const d = new H26xDepacketizer("h264");
  // FU indicator: NRI of the NAL (0x60) | 28; FU header: S/E bits | type 5.
  assertEquals(d.push(bytes(0x7c, 0x85, 0x88, 0x84), 100, 9000, false), null);
  assertEquals(d.push(bytes(0x7c, 0x05, 1, 2, 3), 101, 9000, false), null);
  const au = d.push(bytes(0x7c, 0x45, 4, 5), 102, 9000, true);
  assertEquals(nals(au), [[0x65, 0x88, 0x84, 1, 2, 3, 4, 5]]);
  assertEquals([au?.keyframe, au?.damaged], [true, false]);
});

Deno.test("H.264: a changed timestamp ends the unit without a marker; 2^32 wraps forward", () => {
  const d = new H26xDepacketizer("h264");
  const top = 2 ** 32 - 3000;
  assertEquals(d.push(bytes(...IDR), 1, top, false), null);
  const first = d.push(bytes(...P), 2, 0, false); // 3000 ticks later, across the wrap
  assertEquals([nals(first), first?.timestamp], [[IDR], top]);
  // A timestamp change and a marker in one packet finish two units: the second from shift().
  const second = d.push(bytes(...P), 3, 3000, true);
  assertEquals([nals(second), second?.timestamp], [[P], top + 3000]);
  const third = d.shift();
  assertEquals([nals(third), third?.timestamp, d.shift(), d.flush()], [
    [P],
    top + 6000,
    null,
    null,
  ]);
  const wrapped = new H26xDepacketizer("h264");
  const stamps: number[] = [];
  for (let k = 0; k < 4; k++) {
    const au = wrapped.push(bytes(...P), k, (top + k * 3000) >>> 0, true);
    stamps.push(au?.timestamp ?? -1);
  }
  assertEquals(stamps, [top, top + 3000, top + 6000, top + 9000]);
});

Deno.test("H.264: a second picture under the same timestamp is a unit of its own", () => {
  const d = new H26xDepacketizer("h264");
  assertEquals(d.push(bytes(...IDR), 1, 0, false), null);
  const first = d.push(bytes(...SPS), 2, 0, false); // a parameter set after a slice
  assertEquals(nals(first), [IDR]);
  const second = d.push(bytes(...IDR), 3, 0, true);
  assertEquals([nals(second), second?.timestamp], [[SPS, IDR], 0]);
  // The second slice of one picture (first_mb_in_slice ≠ 0) stays in it.
  d.push(bytes(...P), 4, 3000, false);
  assertEquals(nals(d.push(bytes(0x41, 0x1a, 0x02), 5, 3000, true)), [P, [0x41, 0x1a, 0x02]]);
});

Deno.test("H.264: sequence gaps damage the unit in progress, or the next one between units", () => {
  const d = new H26xDepacketizer("h264");
  d.push(bytes(...IDR), 65534, 0, false);
  const au = d.push(bytes(0x41, 0x1a, 0x02), 1, 0, true); // 65535 and 0 lost, across the wrap
  assertEquals([au?.damaged, d.lostPackets], [true, 2]);
  const clean = d.push(bytes(...P), 2, 3000, true);
  assertEquals(clean?.damaged, false);
  const after = d.push(bytes(...P), 5, 6000, true); // 3 and 4 lost between units
  assertEquals([after?.damaged, d.lostPackets], [true, 4]);
  assertEquals(d.push(bytes(...P), 6, 9000, true)?.damaged, false);
});

Deno.test("H.264: FU without its start, or a new start before the end, is damaged", () => {
  const d = new H26xDepacketizer("h264");
  assertEquals(d.push(bytes(0x7c, 0x05, 1, 2), 1, 0, false), null); // middle, no start
  const orphan = d.push(bytes(...P), 2, 0, true);
  assertEquals([nals(orphan), orphan?.damaged], [[P], true]);
  d.push(bytes(0x7c, 0x85, 0x88), 3, 3000, false); // start
  d.push(bytes(0x7c, 0x85, 0x88, 7), 4, 3000, false); // start again: the first is lost
  const au = d.push(bytes(0x7c, 0x45, 8), 5, 3000, true);
  assertEquals([nals(au), au?.damaged], [[[0x65, 0x88, 7, 8]], true]);
  // A marker while a fragment is open: the fragment is dropped, the unit damaged.
  d.push(bytes(...P), 6, 6000, false);
  const cut = d.push(bytes(0x7c, 0x81, 0x9a), 7, 6000, true);
  assertEquals([nals(cut), cut?.damaged], [[P], true]);
  assertEquals(d.lostPackets, 0);
});

Deno.test("H.264: an access unit over the bounds is dropped and the next one is damaged", () => {
  const d = new H26xDepacketizer("h264");
  const big = filled([0x7c, 0x85], 60_000);
  const mid = filled([0x7c, 0x05], 60_000);
  d.push(big, 0, 0, false);
  let seq = 1;
  for (let sent = 60_000; sent <= MAX_AU_BYTES; sent += 60_000) {
    assertEquals(d.push(mid, seq++, 0, false), null);
  }
  assertEquals(d.push(filled([0x7c, 0x45], 10), seq++, 0, true), null);
  const next = d.push(bytes(...P), seq++, 3000, true);
  assertEquals([nals(next), next?.damaged, d.droppedUnits], [[P], true, 1]);
  // Too many NAL units.
  for (let k = 0; k <= MAX_AU_NALS; k++) d.push(bytes(0x06, 5, 1, 0), seq++, 6000, false);
  assertEquals(d.push(bytes(...P), seq++, 6000, true), null);
  assertEquals([d.droppedUnits, d.push(bytes(...P), seq++, 9000, true)?.damaged], [2, true]);
});

// H.265 NAL headers (2 bytes): type << 1. VPS 32 → 0x40 01, IDR_W_RADL 19 → 0x26 01,
// TRAIL_R 1 → 0x02 01; the next byte's top bit is first_slice_segment_in_pic_flag.
const VPS = [0x40, 0x01, 0x0c];
const IDR5 = [0x26, 0x01, 0xaf, 0x01];
const TRAIL = [0x02, 0x01, 0xd0, 0x02];

Deno.test("H.265: single NAL, AP and FU packets; IRAP is a keyframe", () => {
  const d = new H26xDepacketizer("h265");
  const ap = bytes(0x60, 0x01, 0, VPS.length, ...VPS, 0, 2, 0x42, 0x01);
  assertEquals(d.push(ap, 7, 500, false), null);
  // FU: PayloadHdr type 49 (0x62 01), FU header S | type 19.
  assertEquals(d.push(bytes(0x62, 0x01, 0x93, 0xaf, 1), 8, 500, false), null);
  assertEquals(d.push(bytes(0x62, 0x01, 0x13, 2, 3), 9, 500, false), null);
  const au = d.push(bytes(0x62, 0x01, 0x53, 4), 10, 500, true);
  assertEquals(nals(au), [VPS, [0x42, 0x01], [0x26, 0x01, 0xaf, 1, 2, 3, 4]]);
  assertEquals([au?.keyframe, au?.damaged, au?.timestamp], [true, false, 500]);
  const p = d.push(bytes(...TRAIL), 11, 3500, true);
  assertEquals([nals(p), p?.keyframe], [[TRAIL], false]);
  assertEquals(nals(d.push(bytes(...IDR5), 12, 6500, true)), [IDR5]);
});

Deno.test("H.265: gap, FU without start, timestamp change, flush", () => {
  const d = new H26xDepacketizer("h265");
  d.push(bytes(...IDR5), 1, 0, true);
  assertEquals(d.push(bytes(0x62, 0x01, 0x01, 9), 2, 3000, false), null); // FU middle alone
  const orphan = d.push(bytes(...TRAIL), 3, 3000, true);
  assertEquals([nals(orphan), orphan?.damaged], [[TRAIL], true]);
  assertEquals(d.push(bytes(...TRAIL), 10, 6000, false), null); // 4–9 lost
  const next = d.push(bytes(...TRAIL), 11, 9000, false);
  assertEquals([nals(next), next?.damaged, d.lostPackets], [[TRAIL], true, 6]);
  const last = d.flush();
  assertEquals([nals(last), last?.timestamp, last?.damaged, d.flush()], [
    [TRAIL],
    9000,
    false,
    null,
  ]);
});
