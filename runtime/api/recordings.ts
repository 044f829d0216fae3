/**
 * Cameras and recordings for the local API: camera status, time-range queries over the index,
 * segment download by id (never by path, so no traversal), clip export, snapshots. Who may see
 * which camera is decided by an injected `access`, the users module's.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { CameraStatus } from "../recorder/mod.ts";
import {
  DiskFullError,
  type IndexedSegment,
  type SegmentIndex,
  withReserve,
} from "../storage/mod.ts";
import type { ExportJobs } from "../playback/export_jobs.ts";
import { addExportRoutes } from "./exports_routes.ts";
import { jsonBodyLimit, readJsonObject } from "./errors.ts";
import { addLiveRoute, LiveViewerLimit } from "./live.ts";
import { addLiveWsRoute, type LiveChoice, type LiveCodec } from "./live_ws.ts";
import { addPlaybackRoutes } from "./playback_routes.ts";
import { Thumbnails } from "../playback/thumbnails.ts";
import type { RangeTranscodes } from "../playback/range_transcode.ts";
import type { Logger } from "../lib/log.ts";

export interface CameraAccess {
  /** Rejects a request without a signed-in user (401). */
  readonly requireUser: MiddlewareHandler;
  /**
   * Lets through operators and admins only (403, audited): keeping recordings from deletion and
   * exporting clips (which keeps them too) decide what the disk holds, so viewers cannot.
   */
  readonly requireOperator: MiddlewareHandler;
  /** Whether the request's user may see this camera. */
  canSee(c: { get(key: string): unknown }, camera: string): boolean;
  /** Writes what the request's user did with recordings to the audit log. */
  audit(c: Context, action: string, target: string): void;
}

export interface RecordingsDeps {
  readonly dataDir: string;
  readonly index: () => SegmentIndex;
  readonly cameras: () => CameraStatus[];
  readonly snapshot: (camera: string) => Promise<Uint8Array>;
  readonly access: CameraAccess;
  /**
   * The camera's H.264 sub-stream for live view (cameras[].subUrl), or null. Absent: no camera
   * has live view and the page refreshes snapshots.
   */
  readonly subUrl?: (camera: string) => string | null;
  /** Concurrent live viewers; default 8 per camera, 16 in all (config defaults). */
  readonly liveLimit?: LiveViewerLimit;
  /** How long live.mp4 waits for the first picture before answering 503; default 8000. */
  readonly liveOpenTimeoutMs?: number;
  /**
   * Where a live viewer's pictures come from (restream: the recorder's session or a shared
   * sub-stream), for live.ws and live.mp4. Absent: no live.ws route, and live.mp4 answers 404.
   */
  readonly liveChoice?: (camera: string, accept: ReadonlySet<LiveCodec>) => LiveChoice;
  /**
   * Whether the camera may pan, tilt and zoom (it has an ONVIF address, and no check found it
   * without PTZ), so the page asks for its PTZ controls only then. Absent: no camera has PTZ.
   */
  readonly ptz?: (camera: string) => boolean;
  /** Where live viewers that this side ends are logged. */
  readonly log?: Logger;
  /** Called after recordings were released: retention may delete them now (a full disk). */
  readonly released?: () => void;
  /** Export jobs; absent: the export routes answer 503. */
  readonly exports?: () => ExportJobs;
  /** Timeline thumbnails; default: cached under the data folder with the default cap. */
  readonly thumbnails?: Thumbnails;
  /** H.265 recordings transcoded for browsers without H.265; absent: not offered. */
  readonly rangeTranscodes?: RangeTranscodes;
}

const CAMERA_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
const MAX_RANGE_MS = 31 * 86_400_000;
/** Longest clip exported in one request. */
const MAX_CLIP_MS = 3 * 3600_000;

export function createRecordingsApp(deps: RecordingsDeps): Hono {
  const app = new Hono();
  app.use("*", deps.access.requireUser);

  app.get("/cameras", (c) => {
    // `live`: the camera has an H.264 sub-stream the box restreams: the page can play live.mp4;
    // `ptz`: worth asking /ptz about (409 otherwise).
    const cameras = deps.cameras().filter((cam) => deps.access.canSee(c, cam.id))
      .map((cam) => ({
        ...cam,
        live: (deps.subUrl?.(cam.id) ?? null) !== null && deps.liveChoice !== undefined,
        liveWs: deps.liveChoice !== undefined,
        ptz: deps.ptz?.(cam.id) ?? false,
      }));
    return c.json({ cameras });
  });

  app.get("/cameras/:camera/snapshot", async (c) => {
    const camera = visibleCamera(c, deps, c.req.param("camera"));
    const jpeg = await deps.snapshot(camera).catch((err) => {
      throw new HTTPException(503, { message: (err as Error).message });
    });
    return c.body(jpeg as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "image/jpeg",
      "cache-control": "no-store",
    });
  });

  const liveLimit = deps.liveLimit ?? new LiveViewerLimit();
  addLiveRoute(app, {
    visibleCamera: (c, camera) => visibleCamera(c, deps, camera),
    ...(deps.liveChoice ? { choose: deps.liveChoice } : {}),
    ...(deps.liveOpenTimeoutMs ? { openTimeoutMs: deps.liveOpenTimeoutMs } : {}),
    limit: liveLimit,
  });
  if (deps.liveChoice) {
    addLiveWsRoute(app, {
      visibleCamera: (c, camera) => visibleCamera(c, deps, camera),
      choose: deps.liveChoice,
      limit: liveLimit,
      ...(deps.log ? { log: deps.log } : {}),
    });
  }

  app.get("/recordings", (c) => {
    const camera = visibleCamera(c, deps, c.req.query("camera"));
    const { from, to } = timeRange(c.req.query("from"), c.req.query("to"), MAX_RANGE_MS);
    const index = deps.index();
    return c.json({
      camera,
      from,
      to,
      segments: index.range(camera, from, to).map(publicSegment),
      gaps: index.gaps(camera, from, to),
    });
  });

  app.get("/recordings/:id/download", async (c) => {
    const segment = visibleSegment(c, deps, c.req.param("id"));
    let file: Deno.FsFile;
    try {
      file = await Deno.open(`${deps.dataDir}/${segment.path}`, { read: true });
    } catch {
      throw new HTTPException(410, { message: `Segment ${segment.id} is no longer on disk` });
    }
    const name = segment.path.slice(segment.path.lastIndexOf("/") + 1);
    deps.access.audit(c, "recording.download", `${segment.camera} segment ${segment.id} ${name}`);
    return c.body(file.readable, 200, {
      "content-type": "video/mp4",
      "content-length": String(segment.bytes),
      "content-disposition": `attachment; filename="${name}"`,
    });
  });

  // Exports are jobs (exports_routes.ts, playback/export_jobs.ts): made in the background into a
  // file on the data disk, downloaded any time later; POST /recordings/export is an alias.
  addExportRoutes(app, {
    jobs: deps.exports ?? (() => {
      throw new HTTPException(503, {
        message: "Exports are not available: the data disk is not ready; see /api/health",
      });
    }),
    access: deps.access,
    visibleCamera: (c, camera) => visibleCamera(c, deps, camera),
    range: (from, to) => timeRange(jsonTime(from), jsonTime(to), MAX_CLIP_MS),
  });

  // The timeline: days with recordings, HLS playlists and their parts, thumbnails.
  addPlaybackRoutes(app, {
    dataDir: deps.dataDir,
    index: deps.index,
    access: deps.access,
    thumbnails: deps.thumbnails ?? new Thumbnails({ dataDir: deps.dataDir }),
    ...(deps.rangeTranscodes ? { transcodes: deps.rangeTranscodes } : {}),
    visibleCamera: (c, camera) => visibleCamera(c, deps, camera),
    visibleSegment: (c, id) => visibleSegment(c, deps, id),
    range: (from, to, maxMs = MAX_RANGE_MS) => timeRange(from, to, maxMs),
  });

  app.post("/recordings/lock", jsonBodyLimit(4096), deps.access.requireOperator, async (c) => {
    const body = await readJsonObject(c);
    const camera = visibleCamera(c, deps, typeof body.camera === "string" ? body.camera : "");
    const { from, to } = timeRange(jsonTime(body.from), jsonTime(body.to), MAX_RANGE_MS);
    if (body.locked !== undefined && typeof body.locked !== "boolean") {
      throw new HTTPException(400, {
        message: "locked: true keeps the recordings, false lets retention delete them again",
      });
    }
    const locked = body.locked !== false;
    const segments = keepRange(deps, camera, from, to, locked);
    if (!locked) deps.released?.();
    deps.access.audit(
      c,
      locked ? "recording.lock" : "recording.unlock",
      `${camera} ${isoRange(from, to)} (${segments} segments)`,
    );
    return c.json({ camera, from, to, locked, segments });
  });

  return app;
}

function visibleCamera(
  c: { get(key: string): unknown },
  deps: RecordingsDeps,
  camera: string | undefined,
): string {
  if (!camera || !CAMERA_ID.test(camera)) {
    throw new HTTPException(400, {
      message: "camera: give a camera id (letters, digits, - and _)",
    });
  }
  // Unknown and forbidden cameras answer the same, so ids cannot be probed.
  if (!deps.cameras().some((s) => s.id === camera) || !deps.access.canSee(c, camera)) {
    throw new HTTPException(404, { message: `No camera '${camera}'` });
  }
  return camera;
}

function visibleSegment(
  c: { get(key: string): unknown },
  deps: RecordingsDeps,
  raw: string,
): IndexedSegment {
  const id = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  const segment = Number.isSafeInteger(id) ? deps.index().segment(id) : null;
  if (!segment || !deps.access.canSee(c, segment.camera)) {
    throw new HTTPException(404, { message: `No segment '${raw.slice(0, 40)}'` });
  }
  return segment;
}

/** Locks or releases a range; on a full disk the index's reserve is used (disk_reserve.ts). */
function keepRange(
  deps: RecordingsDeps,
  camera: string,
  from: number,
  to: number,
  locked: boolean,
): number {
  try {
    return withReserve(deps.dataDir, () => deps.index().setLockedRange(camera, from, to, locked));
  } catch (err) {
    if (err instanceof DiskFullError) throw new HTTPException(507, { message: err.message });
    throw err;
  }
}

function isoRange(from: number, to: number): string {
  return `${new Date(from).toISOString()}/${new Date(to).toISOString()}`;
}

/** A time from a JSON body as timeRange reads it from a query string. */
function jsonTime(v: unknown): string | undefined {
  if (typeof v === "number") return String(v);
  return typeof v === "string" ? v : undefined;
}

/** from/to as ms since the epoch or ISO 8601; to after from; at most `maxMs` apart. */
export function timeRange(
  fromRaw: string | undefined,
  toRaw: string | undefined,
  maxMs: number,
): { from: number; to: number } {
  const parse = (name: string, raw: string | undefined): number => {
    if (raw === undefined || raw === "") {
      throw new HTTPException(400, { message: `${name}: give a time (ms since 1970 or ISO 8601)` });
    }
    const value = /^\d{1,15}$/.test(raw) ? Number(raw) : Date.parse(raw);
    if (!Number.isFinite(value)) {
      throw new HTTPException(400, {
        message: `${name}: '${raw.slice(0, 40)}' is not a time (ms since 1970 or ISO 8601)`,
      });
    }
    return value;
  };
  const from = parse("from", fromRaw);
  const to = parse("to", toRaw);
  if (to <= from) throw new HTTPException(400, { message: "to: must be after from" });
  if (to - from > maxMs) {
    throw new HTTPException(400, {
      message: `to: at most ${Math.round(maxMs / 3600_000)} hours after from`,
    });
  }
  return { from, to };
}

function publicSegment(s: IndexedSegment) {
  return {
    id: s.id,
    startMs: s.startMs,
    endMs: s.endMs,
    bytes: s.bytes,
    codec: s.codec,
    width: s.width,
    height: s.height,
    locked: s.locked,
    // "unsynced": recorded before the box's clock was trusted; startMs/endMs are an estimate
    // (never before the build date), re-stamped when that boot's clock is synced.
    clock: s.clock ?? "synced",
  };
}
