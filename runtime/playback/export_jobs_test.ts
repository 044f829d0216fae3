import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { ffprobe } from "../testing/ffprobe.ts";
import { DatabaseSync } from "node:sqlite";
import type { SegmentIndex } from "../storage/mod.ts";
import { type ExportAuditEntry, ExportJobs } from "./export_jobs.ts";
import { decodeErrors, recordedSegments, T0 } from "./export_fixture.ts";

/** Real segments in a temp data folder, the job list over them, cleaned up after `fn`. */
async function withJobs(
  runs: { width: number; height: number; seconds: number }[],
  fn: (t: {
    dir: string;
    index: SegmentIndex;
    audited: ExportAuditEntry[];
    open: (max?: number) => ExportJobs;
  }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "nvr-exports-" });
  const index = await recordedSegments(dir, runs);
  const audited: ExportAuditEntry[] = [];
  const opened: ExportJobs[] = [];
  const open = (max = 2) => {
    const jobs = ExportJobs.open({
      dataDir: dir,
      index: () => index,
      audit: (e) => audited.push(e),
      max,
    });
    opened.push(jobs);
    return jobs;
  };
  try {
    await fn({ dir, index, audited, open });
  } finally {
    for (const j of opened) await j.close().catch(() => {});
    index.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const user = { id: 7, name: "Olga" };
const locks = (index: SegmentIndex, n: number) =>
  index.range("cam1", T0, T0 + n * 1000).map((s) => s.locked);

Deno.test("export job: many segments give one playable file; its recordings are kept; audited ok", async () => {
  await withJobs(
    [{ width: 160, height: 120, seconds: 12 }],
    async ({ dir, index, audited, open }) => {
      const jobs = open();
      index.setLocked(index.range("cam1", T0, T0 + 1000)[0]!.id, true); // kept before: stays kept
      const job = jobs.create({ camera: "cam1", from: T0, to: T0 + 12_000, user });
      await jobs.idle();
      const done = jobs.get(job.id)!;
      assertEquals([done.state, done.progress, done.error], ["done", 1, null]);
      assertEquals(done.bytes, (await Deno.stat(jobs.file(job.id))).size);
      assertEquals((await Deno.stat(`${dir}/exports.sqlite`)).mode! & 0o777, 0o600);
      const probe = await ffprobe(jobs.file(job.id));
      assertEquals([probe.codec, probe.frames, probe.width], ["hevc", 180, 160]);
      assert(Math.abs(probe.durationSeconds - 12) < 0.3, `duration ${probe.durationSeconds}`);
      assertEquals(await decodeErrors(jobs.file(job.id)), "");
      assertEquals(locks(index, 12), Array(12).fill(true));
      assertEquals(audited.length, 1);
      assertEquals([audited[0]!.action, audited[0]!.outcome, audited[0]!.userName], [
        "recording.export",
        "ok",
        "Olga",
      ]);
      assertMatch(audited[0]!.target, /^cam1 2026-11-25T12:00:00.000Z\/2026-11-25T12:00:12.000Z/);
      assertEquals(jobs.list(7).map((j) => j.id), [job.id]);
      assertEquals(jobs.list(8), []);
    },
  );
});

Deno.test("export job: a camera that changed resolution mid-range gives one playable file", async () => {
  await withJobs(
    [{ width: 160, height: 120, seconds: 3 }, { width: 320, height: 240, seconds: 3 }],
    async ({ index, open }) => {
      assertEquals(index.range("cam1", T0, T0 + 6000).map((s) => s.width), [
        160,
        160,
        160,
        320,
        320,
        320,
      ]);
      const jobs = open();
      const started = performance.now();
      const job = jobs.create({ camera: "cam1", from: T0, to: T0 + 6000, user });
      await jobs.idle();
      const ms = Math.round(performance.now() - started);
      const done = jobs.get(job.id)!;
      assertEquals([done.state, done.error], ["done", null]);
      const probe = await ffprobe(jobs.file(job.id));
      // One H.264 track at the first size: every frame of both runs, decodable.
      assertEquals([probe.codec, probe.width, probe.height], ["h264", 160, 120]);
      // 90 frames were recorded; the concat filter may drop one at each run's end.
      assert(probe.frames >= 87 && probe.frames <= 90, `${probe.frames} frames`);
      assert(Math.abs(probe.durationSeconds - 6) < 0.3, `duration ${probe.durationSeconds}`);
      assertEquals(await decodeErrors(jobs.file(job.id)), "");
      console.log(`re-encoded 6 s (160x120 + 320x240 → 160x120, x264 ultrafast) in ${ms} ms`);
    },
  );
});

Deno.test("export job: a segment gone before the job runs — failed with the reason, its locks released, audited failed", async () => {
  await withJobs(
    [{ width: 160, height: 120, seconds: 3 }],
    async ({ dir, index, audited, open }) => {
      index.setLocked(index.range("cam1", T0, T0 + 1000)[0]!.id, true); // kept before
      await Deno.remove(`${dir}/recordings/cam1/run0/s01.mp4`);
      const jobs = open();
      const job = jobs.create({ camera: "cam1", from: T0, to: T0 + 3000, user });
      await jobs.idle();
      const failed = jobs.get(job.id)!;
      assertEquals(failed.state, "failed");
      assertMatch(failed.error!, /1 of the 3 segments in that time are no longer on disk/);
      // Exactly the locks the job added are gone: what was kept before stays kept.
      assertEquals(locks(index, 3), [true, false, false]);
      assertEquals(audited.map((a) => [a.action, a.outcome]), [["recording.export", "failed"]]);
      assertMatch(audited[0]!.target, /failed: 1 of the 3 segments/);
      await assertRejectsNotFound(jobs.file(job.id));
    },
  );
});

Deno.test("export job: the cap — a third job waits queued while two run", async () => {
  await withJobs([{ width: 160, height: 120, seconds: 3 }], async ({ open }) => {
    const jobs = open(2);
    const ids = [1, 2, 3].map(() =>
      jobs.create({ camera: "cam1", from: T0, to: T0 + 3000, user }).id
    );
    assertEquals(ids.map((id) => jobs.get(id)!.state), ["running", "running", "queued"]);
    assertEquals(jobs.running, 2);
    await jobs.idle();
    assertEquals(ids.map((id) => jobs.get(id)!.state), ["done", "done", "done"]);
  });
});

Deno.test("export job: state survives a restart; a running job fails 'interrupted by a restart', queued ones run", async () => {
  await withJobs(
    [{ width: 160, height: 120, seconds: 3 }],
    async ({ dir, index, audited, open }) => {
      const first = open(1);
      const a = first.create({ camera: "cam1", from: T0, to: T0 + 3000, user });
      const b = first.create({ camera: "cam1", from: T0, to: T0 + 1000, user });
      await first.close(); // a stopped mid-run, b still queued
      const second = open(1);
      await second.idle();
      assertEquals(second.get(a.id)!.state, "failed");
      assertEquals(second.get(a.id)!.error, "interrupted by a restart");
      assertEquals(second.get(b.id)!.state, "done");
      assertEquals(locks(index, 3), [true, false, false]); // only b's segment is kept
      // A crash (no close) leaves a job "running" with the locks it added: the next start fails it
      // and releases them.
      const c = second.create({ camera: "cam1", from: T0 + 1000, to: T0 + 3000, user });
      await second.idle();
      assertEquals(locks(index, 3), [true, true, true]);
      await second.close();
      const db = new DatabaseSync(`${dir}/exports.sqlite`);
      db.prepare("UPDATE exports SET state = 'running' WHERE id = ?").run(c.id);
      db.close();
      const third = open(1);
      assertEquals(third.get(c.id)!.error, "interrupted by a restart");
      assertEquals(locks(index, 3), [true, false, false]);
      assertEquals(audited.filter((e) => e.outcome === "failed").length, 2);
    },
  );
});

Deno.test("export job: delete removes the file and keeps the recordings kept", async () => {
  await withJobs([{ width: 160, height: 120, seconds: 2 }], async ({ index, open }) => {
    const jobs = open();
    const job = jobs.create({ camera: "cam1", from: T0, to: T0 + 2000, user });
    await jobs.idle();
    await Deno.stat(jobs.file(job.id));
    assertEquals(await jobs.remove(job.id), true);
    await assertRejectsNotFound(jobs.file(job.id));
    assertEquals(jobs.get(job.id), null);
    assertEquals(locks(index, 2), [true, true]);
    assertEquals(await jobs.remove(job.id), false);
  });
});

async function assertRejectsNotFound(path: string) {
  try {
    await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  throw new Error(`${path} exists`);
}
