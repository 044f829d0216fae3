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
});
