/**
 * Retention by events (cameras[].eventRetentionExtraDays): against a real index and real files,
 * which segments survive a retention pass: those with a camera event inside them are kept the
 * extra days, the rest go at the camera's age, and the byte budget still takes the oldest first.
 */
import { assertEquals } from "../testing/assert.ts";
import { validateConfig } from "../config/mod.ts";
import { CAMERA_EVENT_KIND, retentionPolicy, sweepRetention } from "./retention.ts";
import { dataFolder, DAY, KiB, MIN, NOW, policy, roomy } from "./retention_fixture.ts";

Deno.test("retention by events: segments with a camera event are kept N days longer, the rest go at the camera's age", async () => {
  await dataFolder(async ({ index, write, exists, deps }) => {
    // cam1 keeps 2 days, 5 more for segments with its events; cam2 keeps 2 days, no extra.
    const quiet = await write("cam1", NOW - 3 * DAY, 10 * KiB);
    const motion = await write("cam1", NOW - 3 * DAY + 2 * MIN, 10 * KiB);
    const motionTooOld = await write("cam1", NOW - 8 * DAY, 10 * KiB);
    const recent = await write("cam1", NOW - DAY, 10 * KiB);
    const otherCamera = await write("cam2", NOW - 3 * DAY + 2 * MIN, 10 * KiB);
    const boxEvent = await write("cam1", NOW - 3 * DAY + 4 * MIN, 10 * KiB);
    const otherKind = await write("cam1", NOW - 3 * DAY + 6 * MIN, 10 * KiB);
    const at = (startMs: number) => startMs + 30_000; // inside the one-minute segment
    const cameraEvent = (camera: string, tsMs: number) =>
      index.addEvent({ camera, tsMs, kind: CAMERA_EVENT_KIND, detail: { type: "motion" } });
    cameraEvent("cam1", at(NOW - 3 * DAY + 2 * MIN));
    cameraEvent("cam1", at(NOW - 8 * DAY));
    // cam1's event does not keep cam2's segment at the same time, and neither do a box-wide
    // event or another kind (a recording gap) inside cam1's segments.
    cameraEvent("cam1", at(NOW - 3 * DAY + 2 * MIN) + 1);
    index.addEvent({ camera: null, tsMs: at(NOW - 3 * DAY + 4 * MIN), kind: CAMERA_EVENT_KIND });
    index.addEvent({ camera: "cam1", tsMs: at(NOW - 3 * DAY + 6 * MIN), kind: "recording-gap" });

    const config = validateConfig({
      storage: { dataDir: "/tmp/x", retentionDays: 2 },
      cameras: [
        { id: "cam1", url: "rtsp://10.0.0.5/main", eventRetentionExtraDays: 5 },
        { id: "cam2", url: "rtsp://10.0.0.6/main" },
      ],
    });
    const p = { ...policy(), ...retentionPolicy(config), minFreeBytes: 0, minFreePercent: 0 };
    assertEquals(p.cameraEventExtraDays, { cam1: 5 });
    const result = await sweepRetention(deps(p, { diskSpace: () => roomy }));
    const survives = async (s: { file: string; id: number }) =>
      (await exists(s.file)) && index.segment(s.id) !== null;
    assertEquals(
      {
        quiet: await survives(quiet),
        motion: await survives(motion),
        motionTooOld: await survives(motionTooOld),
        recent: await survives(recent),
        otherCamera: await survives(otherCamera),
        boxEvent: await survives(boxEvent),
        otherKind: await survives(otherKind),
      },
      {
        quiet: false,
        motion: true,
        motionTooOld: false,
        recent: true,
        otherCamera: false,
        boxEvent: false,
        otherKind: false,
      },
    );
    assertEquals([result.deleted, result.byReason.age], [5, 5]);
  });
});

Deno.test("retention by events: old segments kept for events do not starve the batch", async () => {
  await dataFolder(async ({ index, write, exists, deps }) => {
    // Three old segments with motion first, then two without: a batch of 2 must still reach them.
    const kept = [];
    for (let i = 0; i < 3; i++) {
      const s = await write("cam1", NOW - 4 * DAY + i * MIN, KiB);
      index.addEvent({
        camera: "cam1",
        tsMs: NOW - 4 * DAY + i * MIN + 1000,
        kind: CAMERA_EVENT_KIND,
      });
      kept.push(s);
    }
    const gone = [
      await write("cam1", NOW - 3 * DAY, KiB),
      await write("cam1", NOW - 3 * DAY + MIN, KiB),
    ];
    const p = policy({ retentionDays: 1, cameraEventExtraDays: { cam1: 10 } });
    const result = await sweepRetention(deps(p, { diskSpace: () => roomy, batch: 2 }));
    assertEquals(result.deleted, 2);
    assertEquals(await Promise.all(kept.map((s) => exists(s.file))), [true, true, true]);
    assertEquals(await Promise.all(gone.map((s) => exists(s.file))), [false, false]);
  });
});

Deno.test("retention by events: the byte budget still takes the oldest, events or not", async () => {
  await dataFolder(async ({ index, write, exists, deps }) => {
    const withMotion = await write("cam1", NOW - 10 * MIN, 10 * KiB);
    index.addEvent({ camera: "cam1", tsMs: NOW - 10 * MIN + 1000, kind: CAMERA_EVENT_KIND });
    const newer = await write("cam1", NOW - 5 * MIN, 10 * KiB);
    const p = policy({ maxBytes: 15 * KiB, cameraEventExtraDays: { cam1: 30 } });
    const result = await sweepRetention(deps(p, { diskSpace: () => roomy }));
    assertEquals([result.deleted, result.byReason.budget], [1, 1]);
    assertEquals([await exists(withMotion.file), await exists(newer.file)], [false, true]);
  });
});

Deno.test("retention by events: free space still takes the oldest, events or not, after the age rule with its extra days", async () => {
  await dataFolder(async ({ index, write, exists, deps }) => {
    // cam1 keeps 2 days, 5 more for segments with its events; the disk holds 60 KiB and must
    // keep 35 KiB free. Its free space follows the indexed bytes, as a real disk would.
    const capacity = 60 * KiB;
    const disk = () => {
      const free = capacity - index.totals().reduce((sum, t) => sum + t.bytes, 0);
      return { totalBytes: capacity, freeBytes: free, availableBytes: free };
    };
    const motionPastExtra = await write("cam1", NOW - 8 * DAY, 10 * KiB);
    const motionKept = await write("cam1", NOW - 3 * DAY, 10 * KiB);
    const quietOld = await write("cam1", NOW - 3 * DAY + MIN, 10 * KiB);
    const yesterday = await write("cam1", NOW - DAY, 10 * KiB);
    const lastHour = await write("cam1", NOW - 60 * MIN, 10 * KiB);
    for (const s of [NOW - 8 * DAY, NOW - 3 * DAY]) {
      index.addEvent({ camera: "cam1", tsMs: s + 1000, kind: CAMERA_EVENT_KIND });
    }
    assertEquals(disk().availableBytes, 10 * KiB);

    const p = policy({
      retentionDays: 2,
      cameraEventExtraDays: { cam1: 5 },
      minFreeBytes: 35 * KiB,
    });
    const result = await sweepRetention(deps(p, { diskSpace: disk }));
    // Age first (the segment past its extra days, the quiet one past its age: 20 KiB free more),
    // then the oldest left, though it has an event, for the last 5 KiB; no more than that.
    assertEquals(
      await Promise.all(
        [motionPastExtra, motionKept, quietOld, yesterday, lastHour].map((s) => exists(s.file)),
      ),
      [false, false, false, true, true],
    );
    assertEquals(result.byReason, { age: 2, budget: 0, "free-space": 1 });
    assertEquals(disk().availableBytes, 40 * KiB);
  });
});
