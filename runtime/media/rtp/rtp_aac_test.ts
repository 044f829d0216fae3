import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { aacConfigFromFmtp, AacDepacketizer, AacFormatError } from "./rtp_aac.ts";

const HBR = "streamtype=5; profile-level-id=15; mode=AAC-hbr; config=1190; SizeLength=13; " +
  "IndexLength=3; IndexDeltaLength=3";

/** An AAC-hbr payload: AU-headers-length, one 16-bit header (13-bit size, 3-bit index) a frame. */
function packet(frames: readonly Uint8Array[], firstSize?: number): Uint8Array {
  const head = [(frames.length * 16) >> 8, (frames.length * 16) & 0xff];
  frames.forEach((f, i) => {
    const size = i === 0 && firstSize !== undefined ? firstSize : f.length;
    head.push(size >> 5, (size & 0x1f) << 3);
  });
  const out = new Uint8Array(head.length + frames.reduce((n, f) => n + f.length, 0));
  out.set(head);
  let at = head.length;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}
const frame = (length: number, fill: number) => new Uint8Array(length).fill(fill);

Deno.test("aacConfigFromFmtp: sample rate and channels from the AudioSpecificConfig", () => {
  // 0x1190: AAC LC, 48 kHz, 2 channels. 0x1408: AAC LC, 16 kHz, 1 channel (the sim's).
  const stereo = aacConfigFromFmtp(HBR);
  assertEquals([...stereo.config], [0x11, 0x90]);
  assertEquals([stereo.sampleRate, stereo.channels, stereo.frameLength], [48000, 2, 1024]);
  const mono = aacConfigFromFmtp("mode=AAC-hbr;config=1408;sizelength=13");
  assertEquals([mono.sampleRate, mono.channels], [16000, 1]);
  // frameLengthFlag set: 960-sample frames; explicit 24-bit frequency (index 15).
  assertEquals(aacConfigFromFmtp("config=118C").frameLength, 960);
  assertEquals(aacConfigFromFmtp("config=17800BB808").sampleRate, 6000);
  assertThrows(() => aacConfigFromFmtp("mode=AAC-hbr"), AacFormatError, "no valid config=");
  assertThrows(() => aacConfigFromFmtp("config=13"), AacFormatError, "sampling frequency");
  assertThrows(() => aacConfigFromFmtp("config=1180"), AacFormatError, "channel configuration 0");
});

Deno.test("AacDepacketizer: one and several frames a packet, timestamps 1024 apart", () => {
  const d = new AacDepacketizer(HBR);
  const one = d.push(packet([frame(100, 1)]), 1, 5000, true);
  assertEquals(one.map((f) => [f.data.length, f.data[0], f.timestamp]), [[100, 1, 5000]]);
  const three = d.push(packet([frame(10, 2), frame(20, 3), frame(30, 4)]), 2, 6024, true);
  assertEquals(three.map((f) => [f.data.length, f.data[0], f.timestamp]), [
    [10, 2, 6024],
    [20, 3, 7048],
    [30, 4, 8072],
  ]);
  assertEquals(d.lostPackets, 0);
  // Across the 2^32 wrap.
  const wrap = new AacDepacketizer(HBR);
  wrap.push(packet([frame(5, 1)]), 9, 2 ** 32 - 1024, true);
  assertEquals(wrap.push(packet([frame(5, 1)]), 10, 0, true)[0]?.timestamp, 2 ** 32);
});

Deno.test("AacDepacketizer: a fragmented frame, a lost fragment, garbage, lost packets", () => {
  const d = new AacDepacketizer(HBR);
  const whole = frame(300, 7);
  whole[299] = 9;
  assertEquals(d.push(packet([whole.subarray(0, 120)], 300), 1, 0, false), []);
  assertEquals(d.push(packet([whole.subarray(120, 250)], 300), 2, 0, false), []);
  const done = d.push(packet([whole.subarray(250)], 300), 3, 0, true);
  assertEquals(done.map((f) => [f.data.length, f.data[299], f.timestamp]), [[300, 9, 0]]);
  // The middle fragment lost: nothing comes out, the count says why.
  d.push(packet([whole.subarray(0, 120)], 300), 4, 1024, false);
  assertEquals(d.push(packet([whole.subarray(250)], 300), 6, 1024, true), []);
  assertEquals(d.lostPackets, 1);
  // Too short, headers longer than the packet: ignored.
  assertEquals(d.push(Uint8Array.of(0), 7, 2048, true), []);
  assertEquals(d.push(Uint8Array.of(0, 64, 1), 8, 2048, true), []);
  assertEquals(d.push(packet([frame(4, 1)]), 9, 3072, true).length, 1);
});
