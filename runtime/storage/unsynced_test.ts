/** Segments indexed before the clock was synced: flagged, re-stamped per boot, ordered. */
import { assertEquals } from "../testing/assert.ts";
import { unsyncedRelativePath } from "./layout.ts";
import { SegmentIndex } from "./segment_index.ts";

const BUILD = Date.UTC(2026, 0, 1);
const NOW = Date.UTC(2026, 5, 1, 12);

async function withIndex(fn: (index: SegmentIndex) => void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-unsynced-" });
  try {
    using index = SegmentIndex.open(`${dir}/index.sqlite`);
    fn(index);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const unsynced = (boot: string, mono: number) => ({
  camera: "cam1",
  startMs: BUILD + mono,
  endMs: BUILD + mono + 2_000,
  bytes: 100,
  codec: "h264",
  path: unsyncedRelativePath("cam1", boot, mono),
  clock: "unsynced" as const,
  bootId: boot,
  monoStartMs: mono,
  monoEndMs: mono + 2_000,
});

Deno.test("unsynced segments: re-stamped per boot in one go; another boot's stay flagged", async () => {
  await withIndex((index) => {
    const old = index.add(unsynced("boot-old", 4_000));
    const a = index.add(unsynced("boot-now", 6_000));
    const b = index.add(unsynced("boot-now", 8_000));
    assertEquals(index.segment(a)?.clock, "unsynced");
    // Synced at mono 60 000 with the wall at NOW.
    assertEquals(index.restamp("boot-now", NOW - 60_000), 2);
    assertEquals(index.segment(a)?.startMs, NOW - 54_000);
    assertEquals(index.segment(b)?.endMs, NOW - 50_000);
    assertEquals(index.segment(b)?.clock, null);
    assertEquals(index.segment(old)?.clock, "unsynced");
    assertEquals(index.segment(old)?.startMs, BUILD + 4_000);
    assertEquals(index.restamp("boot-now", NOW), 0); // nothing left to re-stamp
    // The re-stamped ones are found where they really were.
    assertEquals(index.range("cam1", NOW - 55_000, NOW).map((s) => s.id), [a, b]);
  });
});

Deno.test("unsynced segments: a boot's estimates start after everything else indexed", async () => {
  await withIndex((index) => {
    assertEquals(index.newestEnd("boot-now"), null);
    index.add({ ...unsynced("boot-old", 4_000), clock: null });
    index.add(unsynced("boot-now", 900_000));
    assertEquals(index.newestEnd("boot-now"), BUILD + 6_000);
    assertEquals(index.newestEnd("boot-other"), BUILD + 902_000);
  });
});

Deno.test("unsynced file names carry the boot and the time since boot, no date", () => {
  assertEquals(
    unsyncedRelativePath("cam1", "5c6b-9e/..", 1234.4),
    "recordings/cam1/unsynced/5c6b9e/cam1-m0000001234.mp4",
  );
});
