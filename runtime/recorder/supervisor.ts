/**
 * Keeps one camera recording: runs recordCamera, and after a failure waits with a growing,
 * jittered pause (1 s, 2 s, 5 s, 10 s, 30 s, then 60 s) before trying again. An unsupported
 * source fails once and stays failed. Other cameras are never touched.
 */
import type { CameraConfig } from "../config/types.ts";
import type { Logger } from "../log.ts";
import type { CameraState, CameraStatus } from "./camera_status.ts";
import { recordCamera, type RecorderContext } from "./camera_recorder.ts";
import { redactUrl, UnsupportedSourceError } from "./source.ts";

export const BACKOFF_MS: readonly number[] = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000];
/** A run that lasted this long resets the backoff. */
const HEALTHY_RUN_MS = 60_000;

export interface SupervisorOptions {
  readonly backoffMs?: readonly number[];
  /** 0..1 share of each pause that is randomised. Default 0.2. */
  readonly jitter?: number;
  readonly random?: () => number;
}

export class CameraSupervisor {
  readonly camera: CameraConfig;
  readonly #ctx: RecorderContext;
  readonly #log: Logger;
  readonly #options: SupervisorOptions;
  #status: CameraStatus;

  constructor(camera: CameraConfig, ctx: RecorderContext, options: SupervisorOptions = {}) {
    this.camera = camera;
    this.#log = ctx.log;
    this.#options = options;
    this.#status = {
      id: camera.id,
      state: camera.enabled ? "starting" : "disabled",
      lastError: null,
      restarts: 0,
      segments: 0,
      lastSegmentEndMs: null,
    };
    this.#ctx = {
      ...ctx,
      onRecording: () => {
        this.#set("recording", null);
        ctx.onRecording?.();
      },
      onSegment: (segment) => {
        this.#status = {
          ...this.#status,
          segments: this.#status.segments + 1,
          lastSegmentEndMs: segment.endMs,
        };
        ctx.onSegment?.(segment);
      },
    };
  }

  status(): CameraStatus {
    return this.#status;
  }

  /** Runs until `signal` aborts. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    if (!this.camera.enabled) return;
    const backoff = this.#options.backoffMs ?? BACKOFF_MS;
    let failures = 0;
    this.#log.info("camera starting", { url: redactUrl(this.camera.url) });
    while (!signal.aborted) {
      const started = this.#ctx.now();
      this.#set("starting", this.#status.lastError);
      try {
        await recordCamera(this.camera, this.#ctx, signal);
        if (signal.aborted) break;
        throw new Error("stream ended (EOS from the camera)");
      } catch (err) {
        const message = (err as Error).message;
        if (err instanceof UnsupportedSourceError) {
          this.#set("failed", message);
          this.#log.error("camera failed; not retrying", { err });
          return;
        }
        if (signal.aborted) break;
        if (this.#ctx.now() - started >= HEALTHY_RUN_MS) failures = 0;
        const pause = this.#pause(backoff[Math.min(failures, backoff.length - 1)] ?? 1_000);
        failures++;
        this.#set("retrying", message);
        this.#log.warn("camera pipeline failed; retrying", { err, retryInMs: pause });
        await sleep(pause, signal);
        this.#status = { ...this.#status, restarts: this.#status.restarts + 1 };
      }
    }
    this.#set("stopped", this.#status.lastError);
  }

  #pause(base: number): number {
    const jitter = this.#options.jitter ?? 0.2;
    const random = this.#options.random ?? Math.random;
    return Math.round(base * (1 - jitter + 2 * jitter * random()));
  }

  #set(state: CameraState, lastError: string | null): void {
    this.#status = { ...this.#status, state, lastError };
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
