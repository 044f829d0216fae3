/**
 * A set of cameras recorded in this process: builds a CameraSupervisor per camera from the config
 * and a precomputed video plan, runs them, answers status and snapshot requests. Used by the
 * daemon directly (camerasPerProcess: 0) and by each recorder worker process.
 */
import type { CameraConfig, NvrConfig } from "../../config/types.ts";
import type { VideoPlan } from "../../board/mod.ts";
import type { ClockTrust } from "../../lib/clock_trust.ts";
import type { Logger } from "../../lib/log.ts";
import type { SegmentIndex } from "../../storage/mod.ts";
import type { CameraStatus } from "./camera_status.ts";
import { CameraSupervisor, type SupervisorOptions } from "./supervisor.ts";
import type { LiveSource } from "../../media/restream/feed.ts";

/** A camera to record, with the plan the daemon chose for it (or why it cannot be recorded). */
export interface PlannedCamera {
  readonly camera: CameraConfig;
  readonly plan: VideoPlan;
  readonly fault?: string;
}

export interface RecorderSetDeps {
  readonly config: NvrConfig;
  readonly index: () => SegmentIndex;
  readonly checkStorage: () => Promise<void>;
  readonly log: Logger;
  readonly now: () => number;
  /** Whether the wall clock is trusted (segments before it is are indexed as unsynced). */
  readonly clock?: ClockTrust;
  /** Frees space after a write failed on a full disk; resolves to the bytes freed. */
  readonly onDiskFull: () => Promise<number>;
  /** A segment was indexed (the retention loop checks the byte budget). */
  readonly onSegmentClosed?: () => void;
  /** A camera's stream flows into segments again (its status just became "recording"). */
  readonly onRecording?: () => void;
  readonly supervisor?: SupervisorOptions;
}

/** What the daemon needs from whatever records the cameras, in this process or in workers. */
export interface Recorders {
  cameras(): CameraStatus[];
  snapshot(camera: string): Promise<Uint8Array>;
  /** Finishes the camera's open segment and starts its pipeline again. */
  restartCamera(camera: string): Promise<void>;
  /**
   * An event concerns the camera: one in cameras[].record.mode "events" records around it
   * (`held`: an event is on until one says it is off). Unknown cameras are ignored.
   */
  trigger(camera: string, held: boolean): void;
  /** Records until the signal aborts; resolves when every open segment is finished. */
  run(signal: AbortSignal): Promise<void>;
  /** The pictures the recorder receives from the camera, for live viewers (restream). */
  live(camera: string): LiveSource | null;
}

export class UnknownCameraError extends Error {
  constructor(camera: string) {
    super(`No camera '${camera}' in the config`);
    this.name = "UnknownCameraError";
  }
}

export class RecorderSet implements Recorders {
  readonly #supervisors: CameraSupervisor[];

  constructor(cameras: readonly PlannedCamera[], deps: RecorderSetDeps) {
    this.#supervisors = cameras.map(({ camera, plan, fault }) =>
      new CameraSupervisor(camera, {
        dataDir: deps.config.storage.dataDir,
        segmentSeconds: deps.config.storage.segmentSeconds,
        index: deps.index,
        log: deps.log.child({ module: "recorder", camera: camera.id }),
        now: deps.now,
        ...(deps.clock ? { clock: deps.clock } : {}),
        checkStorage: deps.checkStorage,
        stallMs: deps.config.recording.stallSeconds * 1000,
        remux: deps.config.recording.remux,
        onDiskFull: deps.onDiskFull,
        ...(deps.onSegmentClosed ? { onSegment: () => deps.onSegmentClosed?.() } : {}),
        ...(deps.onRecording ? { onRecording: () => deps.onRecording?.() } : {}),
        plan,
        ...(fault === undefined ? {} : { fault }),
      }, deps.supervisor)
    );
  }

  cameras(): CameraStatus[] {
    return this.#supervisors.map((s) => s.status());
  }

  snapshot(camera: string): Promise<Uint8Array> {
    const supervisor = this.#supervisors.find((s) => s.camera.id === camera);
    if (!supervisor) return Promise.reject(new UnknownCameraError(camera));
    return supervisor.snapshot();
  }

  restartCamera(camera: string): Promise<void> {
    const supervisor = this.#supervisors.find((s) => s.camera.id === camera);
    if (!supervisor) return Promise.reject(new UnknownCameraError(camera));
    supervisor.restart();
    return Promise.resolve();
  }

  trigger(camera: string, held: boolean): void {
    this.#supervisors.find((s) => s.camera.id === camera)?.trigger(held);
  }

  live(camera: string): LiveSource | null {
    return this.#supervisors.find((s) => s.camera.id === camera)?.live ?? null;
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.#supervisors.map((s) => s.run(signal)));
  }
}
