/** The retention loop against real files and a real index. */
import { assert, assertEquals } from "../testing/assert.ts";
import { runRetention, sweepRetention } from "./retention.ts";
import { dataFolder, DAY, KiB, MIN, NOW, policy, roomy } from "./retention_fixture.ts";

Deno.test("age: old segments go, file and row; empty folders go; an event counts them", async () => {
  await dataFolder(async ({ index, write, exists, deps, dir }) => {
    const old1 = await write("cam1", NOW - 3 * DAY, 10 * KiB);
    const new1 = await write("cam1", NOW - DAY / 2, 10 * KiB);
    const old2 = await write("cam2", NOW - 3 * DAY, 10 * KiB); // cam2 keeps 5 days
    const p = policy({ retentionDays: 2, cameraRetentionDays: { cam2: 5 } });
    const result = await sweepRetention(deps(p, { diskSpace: () => roomy }));
    assertEquals([result.deleted, result.byReason.age, result.bytes], [1, 1, 10 * KiB]);
    assertEquals(
      [await exists(old1.file), await exists(new1.file), await exists(old2.file)],
      [false, true, true],
    );
    assertEquals(index.segment(old1.id), null);
    // recordings/cam1/<day>/<hour>/ of the old segment is gone with its day folder.
    const day = old1.path.split("/").slice(0, 3).join("/");
    assertEquals(await exists(`${dir}/${day}`), false);
    const events = index.events(0, NOW + 1);
    assertEquals(events.map((e) => [e.camera, e.kind, e.detail.deleted]), [[
      null,
      "retention",
      1,
    ]]);
    assertEquals(events[0]?.detail.byReason, { age: 1, budget: 0, "free-space": 0 });
  });
});

Deno.test("budget: oldest across cameras go until the recordings fit", async () => {
  await dataFolder(async ({ index, write, exists, deps }) => {
    const segs = [];
    for (let i = 0; i < 6; i++) {
      segs.push(await write(`cam${i % 2}`, NOW - (10 - i) * MIN, 10 * KiB));
    }
    const result = await sweepRetention(
      deps(policy({ maxBytes: 35 * KiB }), { diskSpace: () => roomy }),
    );
    assertEquals([result.deleted, result.byReason.budget, result.shortBytes], [3, 3, 0]);
    const left = await Promise.all(segs.map((s) => exists(s.file)));
    assertEquals(left, [false, false, false, true, true, true]);
    assertEquals(index.totals().reduce((sum, t) => sum + t.bytes, 0), 30 * KiB);
  });
});

Deno.test("locked segments survive; the shortfall is reported", async () => {
  await dataFolder(async ({ index, write, exists, deps, lines }) => {
    const kept = await write("cam1", NOW - 10 * DAY, 50 * KiB);
    const gone = await write("cam1", NOW - 9 * DAY, 10 * KiB);
    index.setLocked(kept.id, true);
    const p = policy({ retentionDays: 1, maxBytes: 20 * KiB });
    const result = await sweepRetention(deps(p, { diskSpace: () => roomy }));
    assertEquals([result.deleted, result.shortBytes], [1, 30 * KiB]);
    assertEquals([await exists(kept.file), await exists(gone.file)], [true, false]);
    assert(lines.some((l) => l.includes("still short of space")), lines.join("\n"));
    assertEquals(index.events(0, NOW + 1)[0]?.detail.shortBytes, 30 * KiB);
  });
});

Deno.test("a segment closing during the sweep: swept again, not reported short with deletable ones left", async () => {
  await dataFolder(async ({ index, write, exists, deps, lines }) => {
    const oldest = await write("cam1", NOW - 30 * MIN, 10 * KiB);
    for (let i = 1; i < 3; i++) await write("cam1", NOW - (30 - i) * MIN, 10 * KiB);
    // Within the 35 KiB budget when the sweep plans; the second clock reading (the sweep's end)
    // is when a recorder closes one more segment (indexed, as a recorder does).
    let readings = 0;
    const now = () => {
      if (++readings === 2) {
        const path = "recordings/cam1/late.mp4";
        index.add({
          camera: "cam1",
          startMs: NOW - MIN,
          endMs: NOW,
          bytes: 10 * KiB,
          codec: "h265",
          path,
        });
      }
      return NOW;
    };
    const result = await sweepRetention(
      deps(policy({ maxBytes: 35 * KiB }), { diskSpace: () => roomy, now }),
    );
    assertEquals([result.deleted, result.byReason.budget, result.shortBytes], [1, 1, 0]);
    assertEquals(await exists(oldest.file), false);
    assert(!lines.some((l) => l.includes("still short of space")), lines.join("\n"));
  });
});

Deno.test("a missing file is not an error; an undeletable one keeps its row", async () => {
  await dataFolder(async ({ index, write, deps }) => {
    const missing = await write("cam1", NOW - 5 * DAY, KiB);
    await Deno.remove(missing.file);
    const stuck = await write("cam1", NOW - 4 * DAY, KiB);
    // A non-empty folder in place of the file: removing it fails even for root.
    await Deno.remove(stuck.file);
    await Deno.mkdir(stuck.file);
    await Deno.writeTextFile(`${stuck.file}/x`, "x");
    const result = await sweepRetention(
      deps(policy({ retentionDays: 1 }), { diskSpace: () => roomy }),
    );
    assertEquals([result.deleted, result.missingFiles, result.failed], [1, 1, 1]);
    assertEquals(index.segment(missing.id), null);
    assertEquals(index.segment(stuck.id)?.path, stuck.path);
  });
});

Deno.test("the loop sweeps by itself every interval, and stops on abort", async () => {
  await dataFolder(async ({ write, exists, deps }) => {
    const stop = new AbortController();
    const loop = runRetention(
      deps(policy({ retentionDays: 1 }), { intervalSeconds: 0.05, diskSpace: () => roomy }),
      stop.signal,
    );
    try {
      const old = await write("cam1", NOW - 2 * DAY, KiB); // added after the first sweep ran
      for (let i = 0; i < 200 && await exists(old.file); i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      assertEquals(await exists(old.file), false);
    } finally {
      stop.abort();
      await loop.done;
    }
  });
});

Deno.test("an unavailable index skips the sweep without throwing", async () => {
  await dataFolder(async ({ deps, lines }) => {
    const result = await sweepRetention(
      deps(policy({ retentionDays: 1 }), {
        index: () => {
          throw new Error("disk gone");
        },
      }),
    );
    assertEquals([result.deleted, result.error], [0, "Error: disk gone"]);
    assert(lines.some((l) => l.includes("retention skipped")));
  });
});

Deno.test("trigger() during a sweep queues one fresh sweep; after stop it does nothing", async () => {
  await dataFolder(async ({ deps, lines }) => {
    const stop = new AbortController();
    const loop = runRetention(deps(policy(), { diskSpace: () => roomy }), stop.signal);
    const sweeps = () => lines.filter((l) => l.includes("retention sweep")).length;
    try {
      // The start-up sweep is running: both calls share the one sweep queued after it.
      const first = loop.trigger();
      assert(first === loop.trigger());
      assertEquals(sweeps(), 0);
      await first;
      assertEquals(sweeps(), 2);
    } finally {
      stop.abort();
      await loop.done;
    }
    assertEquals((await loop.trigger()).error, "retention has stopped");
  });
});
