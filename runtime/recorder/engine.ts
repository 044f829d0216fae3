/**
 * The contract of a recording engine, and the one place an engine is chosen for a camera.
 *
 * An engine records one camera until its signal aborts (resolving after the open segment is
 * finished) or the stream fails (rejecting); retrying is the supervisor's job. Two engines exist:
 * the built-in remuxer (builtin/: our RTSP client and fMP4 writer, for cameras kept as they come
 * over RTSP, TCP, UDP or TLS) and GStreamer (gstreamer/: everything else: encoding, USB cameras).
 */
import type { CameraConfig, RemuxEngine } from "../config/types.ts";
import type { VideoPlan } from "../board/mod.ts";
import type { ClockTrust } from "../lib/clock_trust.ts";
import type { Logger } from "../lib/log.ts";
import type { SegmentIndex, SegmentRecord } from "../storage/mod.ts";
import type { CameraStats } from "./supervisor/camera_stats.ts";
import type { KeyframeTap } from "./snapshot.ts";
import type { LiveFanout } from "../media/restream/feed.ts";

export type EngineName = "builtin" | "gstreamer";

/** What an engine is given: where to write, what to report to, how the camera is planned. */
export interface RecorderContext {
  readonly dataDir: string;
  readonly segmentSeconds: number;
  readonly index: () => SegmentIndex;
  readonly log: Logger;
  readonly now: () => number;
  /**
   * Whether the wall clock is trusted; segments finished while it is not are indexed as
   * unsynced (lib/clock_trust.ts). Absent: the wall clock is taken as it is.
   */
  readonly clock?: ClockTrust;
  /** How this camera's video is turned into what is recorded. */
  readonly plan: VideoPlan;
  /** Throws StorageUnavailableError when the data folder must not be written (not mounted...). */
  readonly checkStorage: () => Promise<void>;
  /** Restart the pipeline when no frame arrives for this long. */
  readonly stallMs: number;
  /** True while audio must be left out (it stalled the recording before). */
  readonly audioOff?: () => boolean;
  /** Called when the stream flows (first stream-start). */
  readonly onRecording?: () => void;
  readonly onSegment?: (segment: SegmentRecord) => void;
  readonly onStats?: (stats: CameraStats) => void;
  /** Segments repaired from an earlier, interrupted run (before this run records). */
  readonly onSalvaged?: (segments: readonly SegmentRecord[]) => void;
  /** Where the running recording's latest keyframe is read, and null once it is gone (snapshots). */
  readonly onKeyframes?: (tap: KeyframeTap | null) => void;
  /**
   * Where live viewers get this camera's pictures (restream, no second RTSP session); the
   * built-in remuxer publishes every picture it receives. GStreamer recordings do not (yet).
   */
  readonly live?: LiveFanout;
  /**
   * cameras[].record.mode "events": the camera's latest event (what the built-in remuxer records
   * around); absent: no events have a way here (the camera records continuously).
   */
  readonly events?: () => CameraEventState;
  /** Events mode: a recording around an event started (true) or ended (false). */
  readonly onEventRecording?: (recording: boolean) => void;
}

/** When the camera's latest event arrived (ms; -Infinity before any), and whether it is still on. */
export interface CameraEventState {
  readonly atMs: number;
  /** An event that said it is on (ONVIF motion true) and has not said it is off. */
  readonly held: boolean;
}

/** An engine: records `camera` until `signal` aborts or the stream fails. */
export type RecordCamera = (
  camera: CameraConfig,
  ctx: RecorderContext,
  signal: AbortSignal,
) => Promise<void>;

/** No frame arrived for longer than the stall limit. */
export class CameraStallError extends Error {
  constructor(camera: string, seconds: number) {
    super(`Camera '${camera}': no frames for ${seconds} s; restarting its pipeline`);
    this.name = "CameraStallError";
  }
}

/**
 * Which engine records `camera`: the built-in remuxer when the configuration asks for it
 * (`recording.remux`) and the camera is recorded as it comes (passthrough) over RTSP (TCP, UDP or
 * rtsps://; H.264/H.265, B-frames included); GStreamer otherwise (encoding, USB/CSI capture), or when the
 * built-in remuxer found the stream unsuitable (`gstreamerOnly`).
 */
export function chooseEngine(
  camera: CameraConfig,
  plan: { readonly mode: string },
  remux: RemuxEngine,
  gstreamerOnly = false,
): EngineName {
  const fits = plan.mode === "passthrough" &&
    /^rtsps?:$/.test(new URL(camera.url).protocol);
  return remux === "builtin" && fits && !gstreamerOnly ? "builtin" : "gstreamer";
}
