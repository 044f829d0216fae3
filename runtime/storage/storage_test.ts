import { assertEquals, assertRejects } from "../testing/assert.ts";
import {
  ensureWritable,
  SegmentIndex,
  segmentRelativePath,
  StorageUnavailableError,
} from "./mod.ts";
import { restrictMode } from "./data_dir.ts";

Deno.test("segment paths are by camera, UTC date and hour", () => {
  assertEquals(
    segmentRelativePath("cam1", Date.UTC(2026, 10, 25, 14, 3, 12, 345)),
    "recordings/cam1/2026-11-25/14/cam1-20261125T140312345Z.mp4",
  );
});

Deno.test("segment index: add, overlap query, reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const seg = (start: number, path: string) => ({
      camera: "cam1",
      startMs: start,
      endMs: start + 10_000,
      bytes: 1000,
      codec: "h265",
      path,
    });
    {
      using index = SegmentIndex.open(`${dir}/index.sqlite`);
      index.add(seg(0, "a.mp4"));
      index.add(seg(10_000, "b.mp4"));
      index.add({ ...seg(0, "c.mp4"), camera: "cam2" });
      assertEquals(index.range("cam1", 5_000, 12_000).map((s) => s.path), ["a.mp4", "b.mp4"]);
      assertEquals(index.range("cam1", 10_000, 11_000).map((s) => s.path), ["b.mp4"]);
    }
    using again = SegmentIndex.open(`${dir}/index.sqlite`);
    assertEquals(again.range("cam1", 0, 1e12).length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a data folder that cannot be written gives one clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "");
    const err = await assertRejects(
      () => ensureWritable(`${dir}/file/data`),
      StorageUnavailableError,
    );
    assertEquals(err.message.startsWith(`Data folder '${dir}/file/data' cannot be used:`), true);
    await ensureWritable(`${dir}/ok`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file modes: a data folder and a config file readable by others are tightened", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = `${dir}/data`;
    await Deno.mkdir(data, { mode: 0o755 });
    await Deno.chmod(data, 0o755); // the umask may have taken bits off
    await ensureWritable(data);
    assertEquals((await Deno.stat(data)).mode! & 0o777, 0o700);
    const config = `${dir}/config.json`;
    await Deno.writeTextFile(config, "{}");
    await Deno.chmod(config, 0o644);
    assertEquals(await restrictMode(config, 0o600), true);
    assertEquals((await Deno.stat(config)).mode! & 0o777, 0o600);
    assertEquals(await restrictMode(config, 0o600), false, "already 0600: left alone");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
