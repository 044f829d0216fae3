/**
 * Which stream a live viewer gets: the main stream as the recorder receives it when the browser
 * can decode its codec (H.265 as it is where MSE reports H.265 support), the camera's H.264
 * sub-stream otherwise, and as last resort the camera's one shared H.265 → H.264 transcode
 * (live_transcode.ts) when the box has a slot of its transcode cap free; or a reason when none
 * works.
 */
import type { LiveSource } from "../media/restream/feed.ts";
import type { VideoCodec } from "../media/codec/types.ts";

/** The camera's shared transcode, as the choice needs it (live_transcode.ts SharedTranscode). */
export interface TranscodeCandidate extends LiveSource {
  /** Runs already, or a slot of the cap was free and it starts now. */
  admit(): boolean;
  readonly lastError: string | null;
}

export interface LiveCandidates {
  readonly camera: string;
  /** The main stream's codec, as configured (cameras[].codec). */
  readonly mainCodec: VideoCodec;
  /** The recorder's restream of the main stream, or null (not recorded by the built-in remuxer). */
  readonly main: LiveSource | null;
  /** The shared sub-stream session, or null when the camera has no subUrl. */
  readonly sub: (LiveSource & { readonly lastError: string | null }) | null;
  /**
   * The camera's shared H.265 → H.264 transcode of `main`, or null (the board cannot transcode);
   * `refusal` says why when the cap is reached.
   */
  readonly transcode?: { readonly source: TranscodeCandidate; readonly refusal: () => string };
}

export type LiveChoice =
  | {
    readonly source: LiveSource;
    readonly label: "main" | "sub" | "transcode";
    readonly whyNoFrames?: () => string | null;
  }
  | { readonly reason: string };

export function chooseLive(c: LiveCandidates, accept: ReadonlySet<VideoCodec>): LiveChoice {
  if (c.main && accept.has(c.mainCodec)) return { source: c.main, label: "main" };
  const sub = c.sub;
  if (sub && accept.has("h264")) {
    return { source: sub, label: "sub", whyNoFrames: () => sub.lastError };
  }
  const tc = c.transcode;
  if (tc && c.main && c.mainCodec === "h265" && accept.has("h264")) {
    if (!tc.source.admit()) return { reason: tc.refusal() };
    return { source: tc.source, label: "transcode", whyNoFrames: () => tc.source.lastError };
  }
  const can = [...accept].map((x) => x.toUpperCase()).join(" or ") || "neither H.264 nor H.265";
  const main = c.main
    ? `its main stream is ${c.mainCodec.toUpperCase()}`
    : "its main stream is not restreamed (it is recorded through GStreamer)";
  const subText = c.sub
    ? "its sub-stream is H.264"
    : "it has no H.264 sub-stream (cameras[].subUrl)";
  const transcode = !c.main || !accept.has("h264")
    ? ""
    : " (this board cannot transcode H.265 to H.264: see the log for the missing element)";
  return {
    reason:
      `Camera '${c.camera}' cannot be shown live in this browser: the browser plays ${can}, ` +
      `${main} and ${subText}${transcode}. Use a browser with ${c.mainCodec.toUpperCase()} ` +
      "support, set a sub-stream, or use the snapshot",
  };
}
