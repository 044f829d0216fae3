/** What the recorder tells the API, health and the fleet about one camera. */
import type { CameraStats } from "./camera_stats.ts";

export type CameraState =
  | "starting" // pipeline being built or connecting
  | "recording" // stream flowing into segments
  | "retrying" // failed; waiting before the next try
  | "failed" // will not be retried until the config changes (e.g. unsupported URL scheme)
  | "disabled" // enabled: false in the config
  | "stopped"; // daemon shutting down

export interface CameraStatus {
  readonly id: string;
  readonly state: CameraState;
  /** Last error, e.g. "rtspsrc: Could not open resource for reading and writing". */
  readonly lastError: string | null;
  /** Pipeline starts after the first. */
  readonly restarts: number;
  /** Segments finished since the daemon started. */
  readonly segments: number;
  /** Wall-clock end of the newest finished segment (ms), or null. */
  readonly lastSegmentEndMs: number | null;
  /** How the video is recorded and why (passthrough, or which encoder). */
  readonly plan: {
    readonly mode: string;
    readonly codec: string;
    readonly reason: string;
    /** Who records it: the built-in remuxer or a GStreamer pipeline (absent: GStreamer). */
    readonly recorder?: "builtin" | "gstreamer";
  };
  /**
   * cameras[].record.mode "events" only: whether it is recording now. GStreamer cannot record
   * around events: a camera it records (re-encoded) is recorded continuously and says so.
   */
  readonly record?: {
    readonly mode: "events";
    readonly now: "waiting for an event" | "recording (event)" | "continuous (GStreamer)";
  };
  /** Measured once a second while recording. */
  readonly stats: CameraStats;
}
