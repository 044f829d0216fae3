import { assertEquals } from "../../testing/assert.ts";
import { decodeG711 } from "./g711.ts";

Deno.test("G.711: A-law and µ-law codes expand to the ITU-T values", () => {
  const out = new Int16Array(4);
  // A-law: 0xD5/0x55 are the smallest steps ±8, 0xAA/0x2A the largest ±32256.
  assertEquals(decodeG711("pcma", Uint8Array.of(0xd5, 0x55, 0xaa, 0x2a), out), 4);
  assertEquals([...out], [8, -8, 32256, -32256]);
  // µ-law: 0xFF/0x7F are zero, 0x80/0x00 the largest ±32124.
  decodeG711("pcmu", Uint8Array.of(0xff, 0x7f, 0x80, 0x00), out);
  assertEquals([...out], [0, 0, 32124, -32124]);
  // Writing from an offset stops at the end of the output.
  assertEquals(decodeG711("pcmu", Uint8Array.of(0xff, 0xff, 0xff), out, 2), 4);
});
