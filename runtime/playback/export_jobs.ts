/**
 * Export jobs: an export asked for on the page becomes a job (queued → running → done | failed)
 * kept in `<dataDir>/exports.sqlite` (0600), its file in `<dataDir>/exports/<id>.mp4`.
 *
 * - At most `max` jobs run at once (each is an ffmpeg process reading the disk); the rest wait,
 *   queued, and beyond `maxWaiting` jobs a new one is refused (ExportBusyError → 429).
 * - A running job locks the range's segments (retention cannot delete them mid-export) and
 *   remembers exactly which locks it added. Done: they stay (what was handed out as evidence
 *   stays on the box until an operator releases it) and "recording.export" is audited ok.
 *   Failed: the locks it added are released (unless another job still holds them), the failure
 *   is audited with its reason and the job keeps the reason.
 * - A restart: a job that was running becomes failed "interrupted by a restart" (its locks are
 *   released as for any failure); queued jobs stay queued and run.
 * - Export files live on the data disk and count against its space; retention never deletes
 *   them (the list shows each one's size). Deleting a job removes its file and does NOT release
 *   the recordings it kept: releasing is the keep/release action on the camera page.
 */
import { DatabaseSync } from "node:sqlite";
import type { SegmentIndex } from "../storage/mod.ts";
import { withReserve } from "../storage/mod.ts";
import { writeExport } from "./export_file.ts";

export type ExportState = "queued" | "running" | "done" | "failed";

export interface ExportJob {
  readonly id: string;
  readonly camera: string;
  readonly from: number;
  readonly to: number;
  readonly userId: number | null;
  readonly userName: string | null;
  readonly state: ExportState;
  /** 0..1 while running; 1 when done. */
  readonly progress: number;
  /** The file's size once done. */
  readonly bytes: number;
  readonly error: string | null;
  readonly createdAt: number;
  readonly finishedAt: number | null;
}

export interface ExportAuditEntry {
  readonly userId: number | null;
  readonly userName: string | null;
  readonly action: string;
  readonly target: string;
  readonly outcome: "ok" | "failed";
}

export interface ExportJobsOptions {
  readonly dataDir: string;
  readonly index: () => SegmentIndex;
  /** Writes the outcome of a job (no request is around when a job ends). */
  readonly audit: (e: ExportAuditEntry) => void;
  /** Called after a failed job released recordings: retention may delete them now. */
  readonly released?: () => void;
  /** Jobs running at once; default 2. */
  readonly max?: number;
  /** Jobs queued or running beyond which a new one is refused; default 10. */
  readonly maxWaiting?: number;
  readonly now?: () => number;
}

export class ExportBusyError extends Error {
  constructor(waiting: number) {
    super(`${waiting} exports are queued or running, the most at once; try again later`);
    this.name = "ExportBusyError";
  }
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS exports (
  id TEXT PRIMARY KEY, camera TEXT NOT NULL, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL,
  user_id INTEGER, user_name TEXT, state TEXT NOT NULL, bytes INTEGER NOT NULL DEFAULT 0,
  error TEXT, created_at INTEGER NOT NULL, finished_at INTEGER,
  added_locks TEXT NOT NULL DEFAULT '[]')`;

type Row = Record<string, string | number | null>;

export class ExportJobs {
  readonly dir: string;
  readonly max: number;
  readonly maxWaiting: number;
  readonly #o: ExportJobsOptions;
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  /** Running jobs: their progress and how to stop them. */
  readonly #running = new Map<string, { progress: number; abort: AbortController }>();
  readonly #done = new Set<Promise<void>>();
  #closed = false;

  private constructor(o: ExportJobsOptions, db: DatabaseSync) {
    this.#o = o;
    this.#db = db;
    this.dir = `${o.dataDir}/exports`;
    this.max = o.max ?? 2;
    this.maxWaiting = o.maxWaiting ?? 10;
    if (!(Number.isInteger(this.max) && this.max >= 1)) {
      throw new RangeError(`max: ${this.max} is not 1 or more`);
    }
    this.#now = o.now ?? Date.now;
  }

  /** Opens the job list; a job left running by a restart fails; queued jobs start. */
  static open(o: ExportJobsOptions): ExportJobs {
    const path = `${o.dataDir}/exports.sqlite`;
    Deno.mkdirSync(`${o.dataDir}/exports`, { recursive: true });
    Deno.writeFileSync(path, new Uint8Array(), { append: true, mode: 0o600 });
    Deno.chmodSync(path, 0o600);
    const db = new DatabaseSync(path);
    db.exec("PRAGMA busy_timeout = 5000;");
    db.exec(SCHEMA);
    const jobs = new ExportJobs(o, db);
    for (const row of db.prepare("SELECT * FROM exports WHERE state = 'running'").all() as Row[]) {
      jobs.#fail(fromRow(row), row, "interrupted by a restart");
    }
    for (const entry of Deno.readDirSync(jobs.dir)) {
      if (entry.name.endsWith(".part") || entry.name.endsWith(".d")) {
        Deno.removeSync(`${jobs.dir}/${entry.name}`, { recursive: true });
      }
    }
    jobs.#pump();
    return jobs;
  }

  /** A new queued job; ExportBusyError when `maxWaiting` jobs wait or run already. */
  create(
    a: { camera: string; from: number; to: number; user: { id: number; name: string } | null },
  ): ExportJob {
    const waiting = Number(
      (this.#db.prepare(
        "SELECT COUNT(*) AS n FROM exports WHERE state IN ('queued','running')",
      ).get() as Row).n,
    );
    if (waiting >= this.maxWaiting) throw new ExportBusyError(waiting);
    const id = crypto.randomUUID();
    withReserve(this.#o.dataDir, () =>
      this.#db.prepare(
        `INSERT INTO exports (id, camera, from_ms, to_ms, user_id, user_name, state, created_at)
       VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)`,
      ).run(id, a.camera, a.from, a.to, a.user?.id ?? null, a.user?.name ?? null, this.#now()));
    this.#pump();
    return this.get(id)!;
  }

  /** Jobs newest first: of one user, or all (`userId` undefined). */
  list(userId?: number | null): ExportJob[] {
    const rows = userId === undefined
      ? this.#db.prepare("SELECT * FROM exports ORDER BY created_at DESC, rowid DESC").all()
      : this.#db.prepare(
        "SELECT * FROM exports WHERE user_id IS ? ORDER BY created_at DESC, rowid DESC",
      ).all(userId);
    return (rows as Row[]).map((r) => this.#withProgress(fromRow(r)));
  }

  get(id: string): ExportJob | null {
    const row = this.#db.prepare("SELECT * FROM exports WHERE id = ?").get(id) as Row | undefined;
    return row ? this.#withProgress(fromRow(row)) : null;
  }

  /** The finished file of a done job. */
  file(id: string): string {
    return `${this.dir}/${id}.mp4`;
  }

  get running(): number {
    return this.#running.size;
  }

  /** Stops the job if it runs, removes its file and its row. Kept recordings stay kept. */
  async remove(id: string): Promise<boolean> {
    const job = this.get(id);
    if (!job) return false;
    this.#running.get(id)?.abort.abort();
    // A running job fails as "deleted" (its locks released) before the row goes.
    while (this.#running.has(id)) await Promise.race(this.#done);
    this.#db.prepare("DELETE FROM exports WHERE id = ?").run(id);
    await Deno.remove(this.file(id)).catch(() => {});
    return true;
  }

  /** Resolves when no job runs (tests; shutdown). */
  async idle(): Promise<void> {
    while (this.#done.size > 0) await Promise.allSettled([...this.#done]);
  }

  /** Stops running jobs (they become failed "interrupted by a restart" next start). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const r of this.#running.values()) r.abort.abort();
    await this.idle();
    this.#db.close();
  }

  #withProgress(job: ExportJob): ExportJob {
    const r = this.#running.get(job.id);
    return r ? { ...job, progress: r.progress } : job;
  }

  /** Starts queued jobs, oldest first, while fewer than `max` run. */
  #pump(): void {
    while (!this.#closed && this.#running.size < this.max) {
      const row = this.#db.prepare(
        "SELECT * FROM exports WHERE state = 'queued' ORDER BY created_at, rowid LIMIT 1",
      ).get() as Row | undefined;
      if (!row) return;
      const job = fromRow(row);
      const abort = new AbortController();
      this.#running.set(job.id, { progress: 0, abort });
      this.#db.prepare("UPDATE exports SET state = 'running' WHERE id = ?").run(job.id);
      const done: Promise<void> = this.#run(job, abort.signal).finally(() => {
        this.#running.delete(job.id);
        this.#done.delete(done);
        this.#pump();
      });
      this.#done.add(done);
    }
  }

  async #run(job: ExportJob, signal: AbortSignal): Promise<void> {
    const index = this.#o.index();
    const segments = index.range(job.camera, job.from, job.to);
    const added = segments.filter((s) => !s.locked).map((s) => s.id);
    const fail = (reason: string) => {
      const row = this.#db.prepare("SELECT * FROM exports WHERE id = ?").get(job.id) as Row;
      this.#fail(job, row, reason);
    };
    try {
      if (segments.length === 0) return fail(`no recordings of '${job.camera}' in that time`);
      withReserve(this.#o.dataDir, () => {
        for (const id of added) index.setLocked(id, true);
      });
      this.#db.prepare("UPDATE exports SET added_locks = ? WHERE id = ?")
        .run(JSON.stringify(added), job.id);
      const paths = segments.map((s) => `${this.#o.dataDir}/${s.path}`);
      let missing = 0;
      for (const p of paths) missing += await Deno.stat(p).then(() => 0, () => 1);
      if (missing > 0) {
        return fail(
          `${missing} of the ${paths.length} segments in that time are no longer on disk; ` +
            "export a shorter time or check the recording disk",
        );
      }
      const part = `${this.file(job.id)}.part`;
      await writeExport(segments.map((s, i) => ({ ...s, path: paths[i]! })), part, {
        signal,
        onProgress: (p) => {
          const r = this.#running.get(job.id);
          if (r) r.progress = p;
        },
      });
      await Deno.rename(part, this.file(job.id));
      const bytes = (await Deno.stat(this.file(job.id))).size;
      this.#db.prepare(
        "UPDATE exports SET state = 'done', bytes = ?, finished_at = ? WHERE id = ?",
      ).run(bytes, this.#now(), job.id);
      this.#audit(job, "ok", `(${segments.length} segments, ${bytes} bytes)`);
    } catch (err) {
      await Deno.remove(`${this.file(job.id)}.part`).catch(() => {});
      fail(
        signal.aborted
          ? (this.#closed ? "interrupted by a restart" : "deleted while running")
          : (err as Error).message,
      );
    }
  }

  /** Marks the job failed, releases the locks it added that no other job holds, audits. */
  #fail(job: ExportJob, row: Row | undefined, reason: string): void {
    const added = JSON.parse(String(row?.added_locks ?? "[]")) as number[];
    const held = new Set<number>();
    for (
      const r of this.#db.prepare(
        "SELECT added_locks FROM exports WHERE id != ? AND state IN ('running','done')",
      ).all(job.id) as Row[]
    ) for (const id of JSON.parse(String(r.added_locks)) as number[]) held.add(id);
    const release = added.filter((id) => !held.has(id));
    const index = this.#o.index();
    for (const id of release) {
      try {
        index.setLocked(id, false);
      } catch { /* the segment's row is gone */ }
    }
    this.#db.prepare(
      `UPDATE exports SET state = 'failed', error = ?, finished_at = ?, added_locks = '[]'
       WHERE id = ?`,
    ).run(reason, this.#now(), job.id);
    this.#audit(job, "failed", `failed: ${reason}`);
    if (release.length > 0) this.#o.released?.();
  }

  #audit(job: ExportJob, outcome: "ok" | "failed", detail: string): void {
    try {
      this.#o.audit({
        userId: job.userId,
        userName: job.userName,
        action: "recording.export",
        target: `${job.camera} ${isoRange(job.from, job.to)} export ${job.id} ${detail}`,
        outcome,
      });
    } catch (err) {
      console.warn(`export ${job.id}: audit not written (${(err as Error).message})`);
    }
  }
}

export function isoRange(from: number, to: number): string {
  return `${new Date(from).toISOString()}/${new Date(to).toISOString()}`;
}

function fromRow(r: Row): ExportJob {
  const state = String(r.state) as ExportState;
  return {
    id: String(r.id),
    camera: String(r.camera),
    from: Number(r.from_ms),
    to: Number(r.to_ms),
    userId: r.user_id === null ? null : Number(r.user_id),
    userName: r.user_name === null ? null : String(r.user_name),
    state,
    progress: state === "done" ? 1 : 0,
    bytes: Number(r.bytes),
    error: r.error === null ? null : String(r.error),
    createdAt: Number(r.created_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
  };
}
