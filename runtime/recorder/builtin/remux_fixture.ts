/**
 * What the built-in remuxer's tests share (remux_recorder_test, remux_recorder_audio_test,
 * remux_recorder_odd_streams_test: split so the three run side by side in the parallel suite):
 * a recorder context on a temp folder with 2 s segments, a camera config, a bounded wait.
 */
import { validateConfig } from "../../config/mod.ts";
import type { CameraConfig } from "../../config/types.ts";
import type { Logger } from "../../lib/log.ts";
import { ensureWritable, SegmentIndex, type SegmentRecord } from "../../storage/mod.ts";
import type { CameraStats } from "../supervisor/camera_stats.ts";
import type { RecorderContext } from "../engine.ts";
import type { KeyframeTap } from "../snapshot.ts";

/** What a run reported: its closed segments, its last stats, its keyframe tap. */
export interface Seen {
  segments: SegmentRecord[];
  stats: CameraStats | null;
  tap: KeyframeTap | null;
}

export function noneSeen(): Seen {
  return { segments: [], stats: null, tap: null };
}

export function context(
  dir: string,
  index: SegmentIndex,
  log: Logger,
  seen: Seen,
  codec: "h264" | "h265" = "h265",
): RecorderContext {
  return {
    dataDir: dir,
    segmentSeconds: 2,
    index: () => index,
    log,
    now: Date.now,
    checkStorage: () => ensureWritable(dir),
    stallMs: 4_000,

    plan: {
      mode: "passthrough",
      codec,
      encoder: null,
      decoder: null,
      reason: `camera sends ${codec}`,
      launch: "",
    },
    onSegment: (s) => seen.segments.push(s),
    onStats: (s) => (seen.stats = s),
    onKeyframes: (tap) => (seen.tap = tap),
  };
}

/** Runs `start` until `check` holds (within `until`'s deadline), then stops it and waits for its end. */
export async function recordUntil(
  start: (signal: AbortSignal) => Promise<unknown>,
  check: () => boolean,
  what: string,
  timeoutMs?: number,
): Promise<void> {
  const stop = new AbortController();
  const run = start(stop.signal);
  try {
    await until(check, what, timeoutMs);
  } finally {
    stop.abort();
    await run;
  }
}

export async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function camera(url: string, codec: "h264" | "h265"): CameraConfig {
  return validateConfig({ cameras: [{ id: "cam1", url, codec }] }).cameras[0]!;
}
