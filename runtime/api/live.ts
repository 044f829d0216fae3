/**
 * GET /api/cameras/:camera/live.mp4: the camera's H.264 sub-stream as fragmented MP4, one long
 * body (the stream itself is made in playback/live_stream.ts), within the viewer limits.
 */
import type { Context, Hono } from "hono";
import { ApiError } from "./errors.ts";
import { LiveViewerLimit, openLiveStream } from "../playback/live_stream.ts";

export { LiveViewerLimit };

export interface LiveDeps {
  /** The camera id from the path, checked: exists and this user may see it (else it throws). */
  readonly visibleCamera: (c: Context, camera: string | undefined) => string;
  /** The camera's H.264 sub-stream URL, or null when it has none. */
  readonly subUrl: (camera: string) => string | null;
  readonly limit: LiveViewerLimit;
  /** How long to wait for the sub-stream's first bytes before answering 503; default 8000. */
  readonly openTimeoutMs?: number;
}

/** GET /cameras/:camera/live.mp4 on `app` (mounted under /api behind the access check). */
export function addLiveRoute(app: Hono, deps: LiveDeps): void {
  app.get("/cameras/:camera/live.mp4", async (c) => {
    const camera = deps.visibleCamera(c, c.req.param("camera"));
    const subUrl = deps.subUrl(camera);
    if (subUrl === null) {
      throw new ApiError(
        404,
        "no_live_stream",
        `Camera '${camera}' has no H.264 sub-stream for live view; set cameras[].subUrl ` +
          "(e.g. rtsp://camera/sub) in the configuration, or use the snapshot",
      );
    }
    const release = deps.limit.acquire(camera);
    if (!release) {
      throw new ApiError(
        429,
        "too_many_viewers",
        `Too many live viewers (at most ${deps.limit.perCamera} per camera and ` +
          `${deps.limit.total} in all); close another live view or use the snapshot`,
      );
    }
    let stream: ReadableStream<Uint8Array>;
    try {
      stream = await openLiveStream(camera, subUrl, {
        onClose: release,
        ...(deps.openTimeoutMs === undefined ? {} : { openTimeoutMs: deps.openTimeoutMs }),
      });
    } catch (err) {
      release();
      throw new ApiError(503, "live_unavailable", (err as Error).message);
    }
    return c.body(stream as ReadableStream<Uint8Array<ArrayBuffer>>, 200, {
      "content-type": "video/mp4",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
  });
}
