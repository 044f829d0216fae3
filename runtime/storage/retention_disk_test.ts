/**
 * Retention against a real small disk: a 20 MiB tmpfs when mounting is permitted (root), else an
 * injected diskSpace computed from the real file sizes (and the disk-full test is skipped).
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { type DiskSpace, diskSpace, isDiskFull } from "./disk_space.ts";
import { runRetention, sweepRetention } from "./retention.ts";
import { dataFolder, MIN, NOW, policy } from "./retention_fixture.ts";
import { mountTmpfs } from "../testing/tmpfs.ts";

const MiB = 2 ** 20;

/** A pretend disk of `capacity` holding exactly the files under `dir`, read at every call. */
function filesDisk(dir: string, capacity: number): (path: string) => DiskSpace {
  const used = (path: string): number => {
    let sum = 0;
    for (const entry of Deno.readDirSync(path)) {
      const full = `${path}/${entry.name}`;
      sum += entry.isDirectory ? used(full) : Deno.statSync(full).size;
    }
    return sum;
  };
  return () => {
    const free = capacity - used(dir);
    return { totalBytes: capacity, freeBytes: free, availableBytes: free };
  };
}

async function onSmallDisk(
  name: string,
  fn: (dataDir: string, space: (path: string) => DiskSpace, real: boolean) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `nvr-${name}-` });
  try {
    const fs = await mountTmpfs(`${dir}/ssd`, 20 * MiB);
    try {
      const dataDir = `${dir}/ssd/nvr`;
      await Deno.mkdir(dataDir);
      await fn(dataDir, fs ? diskSpace : filesDisk(dataDir, 20 * MiB), fs !== null);
    } finally {
      await fs?.unmount();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("free space: the oldest segments go until the minimum is free, no more", async () => {
  await onSmallDisk("free", async (dataDir, space, real) => {
    await dataFolder(async ({ write, exists, deps }) => {
      const segs = [];
      for (let i = 0; i < 16; i++) segs.push(await write(`cam${i % 2}`, NOW - (20 - i) * MIN, MiB));
      const before = space(dataDir).availableBytes;
      assert(before < 8 * MiB, `only ${before} bytes should be free`);

      const p = policy({ minFreeBytes: 8 * MiB });
      const result = await sweepRetention(deps(p, { diskSpace: space }));
      const after = space(dataDir).availableBytes;
      assert(after >= 8 * MiB, `${after} bytes free after the sweep (real disk: ${real})`);
      assert(after < 9 * MiB + 256 * 1024, `${after} bytes free: deleted more than needed`);
      assertEquals(result.byReason["free-space"], result.deleted);
      const left = await Promise.all(segs.map((s) => exists(s.file)));
      assertEquals(left, segs.map((_, i) => i >= result.deleted));
    }, dataDir);
  });
});

Deno.test("disk full: trigger() frees space before the writer retries", async () => {
  await onSmallDisk("full", async (dataDir, _space, real) => {
    if (!real) {
      console.warn("no tmpfs here: a real ENOSPC cannot be produced, test skipped");
      return;
    }
    await dataFolder(async ({ write, index, deps }) => {
      const stop = new AbortController();
      const loop = runRetention(deps(policy({ minFreeBytes: 2 * MiB })), stop.signal);
      try {
        await loop.trigger(); // the start-up sweep: nothing to do on an empty disk
        let diskFull = 0;
        // 40 one-MiB segments through a 20 MiB disk, as the recorder would write them.
        for (let i = 0; i < 40; i++) {
          const startMs = NOW + i * MIN;
          try {
            await write("cam1", startMs, MiB);
          } catch (err) {
            assert(isDiskFull(err), `not a disk-full error: ${err}`);
            diskFull++;
            const result = await loop.trigger();
            assert(result.deleted > 0 && result.byReason["free-space"] === result.deleted);
            await write("cam1", startMs, MiB); // the retry must succeed
          }
        }
        assert(diskFull > 0, "the disk never filled up");
        const rows = index.range("cam1", 0, Number.MAX_SAFE_INTEGER);
        assertEquals(rows.at(-1)?.startMs, NOW + 39 * MIN);
        assert(rows.length < 20, `${rows.length} segments cannot fit on 20 MiB`);
        assert(diskSpace(dataDir).availableBytes > 0);
      } finally {
        stop.abort();
        await loop.done;
      }
    }, dataDir);
  });
});
