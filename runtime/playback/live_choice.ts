/**
 * Which stream a live viewer gets: the main stream as the recorder receives it when the browser
 * can decode its codec (H.265 as it is where MSE reports H.265 support), the camera's H.264
 * sub-stream otherwise, or a reason when neither works. A transcode of H.265 to H.264 for
 * browsers without H.265 and cameras without a sub-stream is not done yet.
 */
import type { LiveSource } from "../media/restream/feed.ts";
import type { VideoCodec } from "../media/codec/types.ts";

export interface LiveCandidates {
  readonly camera: string;
  /** The main stream's codec, as configured (cameras[].codec). */
  readonly mainCodec: VideoCodec;
  /** The recorder's restream of the main stream, or null (not recorded by the built-in remuxer). */
  readonly main: LiveSource | null;
  /** The shared sub-stream session, or null when the camera has no subUrl. */
  readonly sub: (LiveSource & { readonly lastError: string | null }) | null;
}

export type LiveChoice =
  | {
    readonly source: LiveSource;
    readonly label: "main" | "sub";
    readonly whyNoFrames?: () => string | null;
  }
  | { readonly reason: string };

export function chooseLive(c: LiveCandidates, accept: ReadonlySet<VideoCodec>): LiveChoice {
  if (c.main && accept.has(c.mainCodec)) return { source: c.main, label: "main" };
  const sub = c.sub;
  if (sub && accept.has("h264")) {
    return { source: sub, label: "sub", whyNoFrames: () => sub.lastError };
  }
  const can = [...accept].map((x) => x.toUpperCase()).join(" or ") || "neither H.264 nor H.265";
  const main = c.main
    ? `its main stream is ${c.mainCodec.toUpperCase()}`
    : "its main stream is not restreamed (it is recorded through GStreamer)";
  const subText = c.sub
    ? "its sub-stream is H.264"
    : "it has no H.264 sub-stream (cameras[].subUrl)";
  return {
    reason:
      `Camera '${c.camera}' cannot be shown live in this browser: the browser plays ${can}, ` +
      `${main} and ${subText}. Use a browser with ${c.mainCodec.toUpperCase()} support, set a ` +
      "sub-stream, or use the snapshot (an H.265 to H.264 transcode is not available yet)",
  };
}
