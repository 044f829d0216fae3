import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { OpusEncoder, OpusError } from "./opus.ts";

Deno.test("OpusEncoder: 20 ms frames of 8 kHz speech become small packets; pre-skip at 48 kHz", () => {
  using enc = new OpusEncoder({ sampleRate: 8000, channels: 1, bitrate: 24_000 });
  assert(enc.preSkip > 0 && enc.preSkip % 6 === 0, `pre-skip ${enc.preSkip} (48 kHz samples)`);
  const pcm = new Int16Array(160);
  let bytes = 0;
  for (let frame = 0; frame < 50; frame++) {
    for (let i = 0; i < pcm.length; i++) {
      pcm[i] = Math.round(8000 * Math.sin(2 * Math.PI * 440 * (frame * 160 + i) / 8000));
    }
    const packet = enc.encode(pcm);
    assert(packet.length > 0 && packet.length < 200, `packet of ${packet.length} bytes`);
    bytes += packet.length;
  }
  // One second at 24 kbit/s is about 3000 bytes.
  assert(bytes > 1000 && bytes < 6000, `${bytes} bytes a second`);
  enc.close();
  assertThrows(() => enc.encode(pcm), OpusError, "closed");
});

Deno.test("OpusEncoder: rates, channels and frame sizes it cannot take are refused", () => {
  assertThrows(() => new OpusEncoder({ sampleRate: 44100, channels: 1 }), RangeError, "44100");
  assertThrows(() => new OpusEncoder({ sampleRate: 8000, channels: 3 }), RangeError, "3");
  using enc = new OpusEncoder({ sampleRate: 8000, channels: 1 });
  assertThrows(() => enc.encode(new Int16Array(100)), OpusError, "opus_encode");
  assertEquals(enc.channels, 1);
  for (const complexity of [-1, 11, 2.5]) {
    assertThrows(
      () => new OpusEncoder({ sampleRate: 8000, channels: 1, complexity }),
      OpusError,
      "give an integer 0–10",
    );
  }
});

Deno.test("OpusEncoder: complexity 3 (the recorder's) keeps the bitrate of the default 10", () => {
  const pcm = new Int16Array(8000);
  for (let i = 0; i < pcm.length; i++) {
    pcm[i] = Math.round(
      3000 * Math.sin((i / 8000) * 2 * Math.PI * 440) + ((i * 7919) % 2000) - 1000,
    );
  }
  const cost = (complexity: number) => {
    using enc = new OpusEncoder({ sampleRate: 8000, channels: 1, bitrate: 24_000, complexity });
    let bytes = 0;
    for (let round = 0; round < 5; round++) {
      for (let at = 0; at < pcm.length; at += 160) {
        bytes += enc.encode(pcm.subarray(at, at + 160)).length;
      }
    }
    return { bytes };
  };
  cost(3); // warm up the library
  const low = cost(3);
  const high = cost(10);
  // Bytes, not quality, are checked here: VBR at the same target, within a fifth.
  assert(Math.abs(low.bytes - high.bytes) < high.bytes / 5, JSON.stringify({ low, high }));
  assert(low.bytes > 0);
});
