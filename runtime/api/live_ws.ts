/**
 * GET /api/cameras/:camera/live.ws?codecs=h265,h264: live view over a WebSocket, fragmented MP4
 * for Media Source Extensions (playback/live_viewer.ts), from the stream the recorder already
 * receives (restream) or a shared sub-stream session: never a new RTSP session per viewer.
 * `codecs` is what the browser's MediaSource.isTypeSupported accepted. The signed-in user must
 * see the camera (the recordings app's requireUser ran before), and a browser's `Origin` must be
 * this recorder (lan_guard.ts checks WebSocket upgrades as it checks posts).
 */
import type { Context, Hono } from "hono";
import { ApiError } from "./errors.ts";
import type { LiveViewerLimit } from "../playback/live_stream.ts";
import type { LiveChoice } from "../playback/live_choice.ts";
import { serveViewer } from "../playback/live_viewer.ts";
import type { Logger } from "../lib/log.ts";

export type LiveCodec = "h264" | "h265";

export type { LiveChoice };

export interface LiveWsDeps {
  readonly visibleCamera: (c: Context, camera: string | undefined) => string;
  readonly choose: (camera: string, accept: ReadonlySet<LiveCodec>) => LiveChoice;
  readonly limit: LiveViewerLimit;
  readonly log?: Logger;
}

/** Close code for "cannot be shown" (the reason comes first in an error message). */
const CLOSE_UNAVAILABLE = 4000;
const CLOSE_TOO_MANY = 4029;

export function addLiveWsRoute(app: Hono, deps: LiveWsDeps): void {
  app.get("/cameras/:camera/live.ws", (c) => {
    const camera = deps.visibleCamera(c, c.req.param("camera"));
    if ((c.req.header("upgrade") ?? "").toLowerCase() !== "websocket") {
      throw new ApiError(
        426,
        "upgrade_required",
        "live.ws is a WebSocket: open it with new WebSocket(url), or use live.mp4",
      );
    }
    const accept = new Set<LiveCodec>();
    for (const name of (c.req.query("codecs") ?? "").split(",")) {
      if (name === "h264" || name === "h265") accept.add(name);
    }
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    const refuse = (reason: string, code: number) => {
      socket.addEventListener("open", () => {
        socket.send(JSON.stringify({ type: "error", reason }));
        socket.close(code, reason.slice(0, 120));
      }, { once: true });
    };
    const choice = deps.choose(camera, accept);
    if ("reason" in choice) {
      refuse(choice.reason, CLOSE_UNAVAILABLE);
      return response;
    }
    const release = deps.limit.acquire(camera);
    if (!release) {
      refuse(
        `Too many live viewers (at most ${deps.limit.perCamera} per camera and ` +
          `${deps.limit.total} in all; http.liveViewersPerCamera, http.liveViewersTotal); close ` +
          "another live view",
        CLOSE_TOO_MANY,
      );
      return response;
    }
    serveViewer(socket, choice.source, {
      label: choice.label,
      ...(choice.whyNoFrames ? { whyNoFrames: choice.whyNoFrames } : {}),
      onEnd: (reason, byServer, unsentPeak) => {
        release();
        // Dropped by this side (too slow, no pictures): worth a line; a viewer leaving is not.
        const fields = { camera, reason, unsentPeak };
        if (byServer) deps.log?.info("live viewer dropped", fields);
        else deps.log?.debug("live viewer ended", fields);
      },
    });
    return response;
  });
}
