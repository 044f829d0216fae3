/**
 * GET /api/cameras/:camera/live.mp4, the live view of browsers without WebSocket or MSE: one long
 * body of fragmented MP4 (playback/live_mp4.ts) from the stream an H.264-only browser gets over
 * live.ws (the camera's shared sub-stream, else its H.264 main stream restreamed from the
 * recorder, else its shared transcode), within the viewer limits. Never a camera session of its
 * own: every viewer of a camera shares the one the recorder or the shared sub-stream has.
 */
import type { Context, Hono } from "hono";
import { ApiError } from "./errors.ts";
import { LiveViewerLimit } from "../playback/live_stream.ts";
import type { LiveChoice } from "../playback/live_choice.ts";
import { openLiveMp4 } from "../playback/live_mp4.ts";

export { LiveViewerLimit };

export interface LiveDeps {
  /** The camera id from the path, checked: exists and this user may see it (else it throws). */
  readonly visibleCamera: (c: Context, camera: string | undefined) => string;
  /** Where an H.264-only viewer's pictures come from (the daemon's live choice); absent: none. */
  readonly choose?: (camera: string, accept: ReadonlySet<"h264" | "h265">) => LiveChoice;
  readonly limit: LiveViewerLimit;
  /** How long to wait for the first picture before answering 503; default 8000. */
  readonly openTimeoutMs?: number;
}

const H264_ONLY: ReadonlySet<"h264" | "h265"> = new Set(["h264"]);

/** GET /cameras/:camera/live.mp4 on `app` (mounted under /api behind the access check). */
export function addLiveRoute(app: Hono, deps: LiveDeps): void {
  app.get("/cameras/:camera/live.mp4", async (c) => {
    const camera = deps.visibleCamera(c, c.req.param("camera"));
    const choice: LiveChoice = deps.choose?.(camera, H264_ONLY) ?? {
      reason: `Camera '${camera}' has no live stream on this recorder; use the snapshot`,
    };
    if ("reason" in choice) throw new ApiError(404, "no_live_stream", choice.reason);
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
      stream = await openLiveMp4(choice.source, {
        onEnd: release,
        ...(choice.whyNoFrames ? { whyNoFrames: choice.whyNoFrames } : {}),
        ...(deps.openTimeoutMs === undefined ? {} : { firstMs: deps.openTimeoutMs }),
      });
    } catch (err) {
      release();
      throw new ApiError(
        503,
        "live_unavailable",
        `Cannot show camera '${camera}' live: ${(err as Error).message}; check cameras[].subUrl ` +
          "and that the camera is reachable",
      );
    }
    return c.body(stream as ReadableStream<Uint8Array<ArrayBuffer>>, 200, {
      "content-type": "video/mp4",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
  });
}
