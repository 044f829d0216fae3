/**
 * Export jobs over the API (playback/export_jobs.ts): POST /exports asks for one (operators and
 * admins; a POST, so CSRF and Origin are checked), GET /exports lists the user's own (admins: all),
 * GET /exports/:id/download streams a done job's file any time later, DELETE /exports/:id removes
 * it (the recordings it kept stay kept). Asking, downloading and deleting are audited; so is how
 * each job ended (the jobs module does that).
 */
import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import {
  ExportBusyError,
  type ExportJob,
  type ExportJobs,
  isoRange,
} from "../playback/export_jobs.ts";
import { errorBody, jsonBodyLimit, readJsonObject } from "./errors.ts";
import type { CameraAccess } from "./recordings.ts";

export interface ExportRoutesDeps {
  readonly jobs: () => ExportJobs;
  readonly access: CameraAccess;
  /** The camera id from the request, checked: 400 malformed, 404 unknown or not visible. */
  readonly visibleCamera: (c: Context, camera: string | undefined) => string;
  /** from/to from the body, checked (at most `MAX_CLIP_MS` apart). */
  readonly range: (from: unknown, to: unknown) => { from: number; to: number };
}

/** What a refused export is told to wait. */
const EXPORT_RETRY_SECONDS = 10;

interface SignedIn {
  readonly id: number;
  readonly name: string;
  readonly role?: string;
}

export function addExportRoutes(app: Hono, deps: ExportRoutesDeps): void {
  const create = async (c: Context) => {
    const body = await readJsonObject(c);
    const camera = deps.visibleCamera(c, typeof body.camera === "string" ? body.camera : "");
    const { from, to } = deps.range(body.from, body.to);
    const user = signedIn(c);
    let job: ExportJob;
    try {
      job = deps.jobs().create({
        camera,
        from,
        to,
        user: user ? { id: user.id, name: user.name } : null,
      });
    } catch (err) {
      if (!(err instanceof ExportBusyError)) throw err;
      return c.json(errorBody("export_busy", err.message), 429, {
        "Retry-After": String(EXPORT_RETRY_SECONDS),
      });
    }
    deps.access.audit(c, "export.create", `${camera} ${isoRange(from, to)} export ${job.id}`);
    return c.json({ ...publicJob(job), url: `/api/exports/${job.id}/download` }, 201);
  };
  app.post("/exports", jsonBodyLimit(4096), deps.access.requireOperator, create);
  // The old path, kept for scripts: it asks for a job as POST /exports does.
  app.post("/recordings/export", jsonBodyLimit(4096), deps.access.requireOperator, create);

  app.get("/exports", (c) => {
    const user = signedIn(c);
    const jobs = deps.jobs().list(user?.role === "admin" ? undefined : (user?.id ?? null));
    return c.json({ exports: jobs.map(publicJob) });
  });

  app.get("/exports/:id/download", async (c) => {
    const job = ownJob(c, deps);
    if (job.state !== "done") {
      throw new HTTPException(409, {
        message: `Export ${job.id} is ${job.state}${job.error ? `: ${job.error}` : ""}`,
      });
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(deps.jobs().file(job.id), { read: true });
    } catch {
      throw new HTTPException(410, { message: `The file of export ${job.id} is gone` });
    }
    deps.access.audit(c, "export.download", `${job.camera} export ${job.id}`);
    const stamp = new Date(job.from).toISOString().replace(/[-:]/g, "").slice(0, 15);
    return c.body(file.readable, 200, {
      "content-type": "video/mp4",
      "content-length": String(job.bytes),
      "content-disposition": `attachment; filename="${job.camera}-${stamp}.mp4"`,
      "cache-control": "no-store",
    });
  });

  app.delete("/exports/:id", deps.access.requireOperator, async (c) => {
    const job = ownJob(c, deps);
    await deps.jobs().remove(job.id);
    deps.access.audit(c, "export.delete", `${job.camera} export ${job.id} (${job.state})`);
    return c.json({ id: job.id, deleted: true });
  });
}

function signedIn(c: { get(key: string): unknown }): SignedIn | undefined {
  return c.get("user") as SignedIn | undefined;
}

/** The job, when it is the user's own or the user is an admin and may still see the camera. */
function ownJob(c: Context, deps: ExportRoutesDeps): ExportJob {
  const id = c.req.param("id") ?? "";
  const user = signedIn(c);
  const job = /^[0-9a-f-]{36}$/.test(id) ? deps.jobs().get(id) : null;
  if (
    !job || !deps.access.canSee(c, job.camera) ||
    (user?.role !== "admin" && job.userId !== (user?.id ?? null))
  ) {
    throw new HTTPException(404, { message: `No export '${id.slice(0, 40)}'` });
  }
  return job;
}

function publicJob(j: ExportJob) {
  return {
    id: j.id,
    camera: j.camera,
    from: j.from,
    to: j.to,
    user: j.userName,
    state: j.state,
    progress: j.progress,
    bytes: j.bytes,
    error: j.error,
    createdAt: j.createdAt,
    finishedAt: j.finishedAt,
  };
}
