import { assert, assertEquals } from "../../testing/assert.ts";
import { ByteArena } from "./byte_arena.ts";

Deno.test("arena: copies stay intact until released, and chunks are reused after release", () => {
  const arena = new ByteArena(1024);
  const views: Uint8Array[] = [];
  for (let i = 0; i < 10; i++) views.push(arena.copy(new Uint8Array(300).fill(i)));
  views.forEach((v, i) => assert(v.every((b) => b === i), `view ${i} intact`));
  const allocated = arena.allocatedChunks;
  assertEquals(allocated, 4, "three 300-byte copies a 1 KiB chunk");
  // The consumer keeps only the newest: everything before it goes back.
  arena.releaseBefore(views[9]!);
  assertEquals(arena.liveChunks, 1);
  for (let round = 0; round < 50; round++) {
    const kept = arena.copy(new Uint8Array(300).fill(round));
    arena.releaseBefore(kept);
  }
  assert(arena.allocatedChunks <= allocated + 1, `reused: ${arena.allocatedChunks} chunks`);
});

Deno.test("arena: a growing allocation moves to a bigger chunk when it does not fit", () => {
  const arena = new ByteArena(64);
  arena.copy(new Uint8Array(40).fill(9));
  arena.begin();
  for (let i = 0; i < 10; i++) arena.append(new Uint8Array(20).fill(i));
  const grown = arena.end();
  assertEquals(grown.length, 200);
  for (let i = 0; i < 10; i++) assert(grown.subarray(i * 20, i * 20 + 20).every((b) => b === i));
  arena.begin();
  arena.append(new Uint8Array(10));
  arena.abort();
  const next = arena.copy(Uint8Array.of(1, 2, 3));
  assertEquals([...next], [1, 2, 3]);
});
