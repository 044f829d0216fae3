/**
 * Keeps one camera recording: runs recordCamera, and after a failure waits a short, jittered
 * pause (0.5 s, 1 s, then every 1.5 s) before trying again, so that recording resumes within 2 s
 * of a camera's return. A refused or timed-out connection costs a few milliseconds of CPU, far
 * less than what a lost minute of video costs an NVR; the log is rate-limited instead. A full disk is not
 * a camera fault: retention frees space and the pipeline restarts at once. An unsupported source
 * fails once and stays failed. Time with no recording is written to the index as a gap, and
 * camera up/down as events. Other cameras are never touched.
 */
import type { CameraConfig, RemuxEngine } from "../../config/types.ts";
import type { Logger } from "../../lib/log.ts";
import { sleep } from "../../lib/sleep.ts";
import { isDiskFull } from "../../storage/mod.ts";
import type { CameraState, CameraStatus } from "./camera_status.ts";
import { EMPTY_STATS } from "./camera_stats.ts";
import {
  CameraAudioStallError,
  recordCamera,
  type RecorderContext,
} from "../gstreamer/gst_recorder.ts";
import { recordCameraRemux, RemuxUnsuitableError } from "../builtin/remux_recorder.ts";
import {
  type CameraEventState,
  chooseEngine,
  type EngineName,
  type RecordCamera,
} from "../engine.ts";
import { type KeyframeTap, snapshotJpeg } from "../snapshot.ts";
import { UnsupportedSourceError } from "../source.ts";
import { redactUrl } from "../../lib/redact_url.ts";
import { RtspError } from "../../media/rtsp/errors.ts";
import { LiveFanout } from "../../media/restream/feed.ts";

/**
 * Pauses between attempts: 0.5 s, then every 1 s (±20 % jitter, so at most 1.2 s), which leaves
 * 0.8 s of the 2 s reconnect promise for the connection and the first keyframe even on a loaded
 * box (every 1.5 s left 0.2 s, and a loaded test run missed it by 8 ms). A refused connection
 * costs milliseconds, so retrying a dead camera every second is cheap.
 */
export const BACKOFF_MS: readonly number[] = [500, 1_000];
/** The pause after a refused connection (see run()); never longer than the backoff's. */
const REFUSED_RETRY_MS = 250;
/** The same failure is logged again at most this often. */
const REPEAT_LOG_MS = 60_000;
/** A run that lasted this long resets the backoff. */
const HEALTHY_RUN_MS = 60_000;
/** After audio stalled a recording, audio is left out this long. */
const AUDIO_OFF_MS = 10 * 60_000;
/** Shorter holes between segments are timestamp jitter, not gaps. */
const GAP_MIN_MS = 1_500;

export interface SupervisorOptions {
  readonly backoffMs?: readonly number[];
  /** 0..1 share of each pause that is randomised. Default 0.2. */
  readonly jitter?: number;
  readonly random?: () => number;
}

/** The engines by name (engine.ts chooses). */
const ENGINES: Readonly<Record<EngineName, RecordCamera>> = {
  builtin: recordCameraRemux,
  gstreamer: recordCamera,
};

export interface SupervisorContext extends RecorderContext {
  /** `recording.remux`: which engine records the cameras either could (engine.ts); default GStreamer. */
  readonly remux?: RemuxEngine;
  /** Frees space (retention sweep) after the disk filled up; resolves to the bytes freed. */
  readonly onDiskFull?: () => Promise<number>;
  /** Set when the camera cannot be recorded at all (e.g. no way to encode it on this board). */
  readonly fault?: string;
}

export class CameraSupervisor {
  readonly camera: CameraConfig;
  readonly #ctx: SupervisorContext;
  readonly #log: Logger;
  readonly #options: SupervisorOptions;
  #status: CameraStatus;
  #keyframes: KeyframeTap | null = null;
  /** Live viewers subscribe here; it outlives each run of the engine. */
  readonly live: LiveFanout;
  /** End of the last recorded segment, to measure gaps. */
  #lastEndMs: number | null = null;
  /** The last segment was indexed before the clock was trusted (its times are estimates). */
  #lastUnsynced = false;
  /** Why recording stopped, kept until the gap it caused is indexed. */
  #outageReason: string | null = null;
  #audioOffUntil = 0;
  #restartRun: (() => void) | null = null;
  /** The built-in remuxer found this camera unsuitable (G.711 audio): GStreamer from now on. */
  #gstreamerOnly = false;
  /** Events mode: the latest event; it outlives each run, so a restart mid-event records on. */
  #eventState: CameraEventState = { atMs: -Infinity, held: false };

  constructor(camera: CameraConfig, ctx: SupervisorContext, options: SupervisorOptions = {}) {
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
      plan: { mode: ctx.plan.mode, codec: ctx.plan.codec, reason: ctx.plan.reason },
      stats: EMPTY_STATS,
    };
    this.live = ctx.live ?? new LiveFanout();
    this.#ctx = {
      ...ctx,
      live: this.live,
      audioOff: () => ctx.now() < this.#audioOffUntil,
      onRecording: () => {
        this.#set("recording", null);
        this.#log.info("camera recording");
        this.#event("camera-up", {});
        ctx.onRecording?.();
      },
      onSegment: (segment) => {
        // Times estimated before the clock was trusted show no real hole (lib/clock_trust.ts).
        if (!segment.clock && !this.#lastUnsynced) this.#recordGap(segment.startMs);
        this.#lastUnsynced = segment.clock === "unsynced";
        this.#lastEndMs = segment.endMs;
        this.#status = {
          ...this.#status,
          segments: this.#status.segments + 1,
          lastSegmentEndMs: segment.endMs,
        };
        ctx.onSegment?.(segment);
      },
      onSalvaged: (segments) => {
        for (const segment of segments) {
          this.#lastEndMs = Math.max(this.#lastEndMs ?? 0, segment.endMs);
        }
        ctx.onSalvaged?.(segments);
      },
      onStats: (stats) => {
        this.#status = { ...this.#status, stats };
        ctx.onStats?.(stats);
      },
      onKeyframes: (tap) => {
        this.#keyframes = tap;
        ctx.onKeyframes?.(tap);
      },
      ...(camera.record?.mode === "events"
        ? {
          events: () => this.#eventState,
          onEventRecording: (recording: boolean) => {
            this.#setRecordNow(recording ? "recording (event)" : "waiting for an event");
            ctx.onEventRecording?.(recording);
          },
        }
        : {}),
    };
  }

  /**
   * An event concerns this camera (events mode records around it; continuous ignores it).
   * `held`: an event is on and stays on until one says it is off.
   */
  trigger(held: boolean): void {
    if (this.camera.record?.mode !== "events") return;
    this.#eventState = { atMs: this.#ctx.now(), held };
  }

  #setRecordNow(now: NonNullable<CameraStatus["record"]>["now"]): void {
    if (this.camera.record?.mode !== "events") return;
    this.#status = { ...this.#status, record: { mode: "events", now } };
  }

  status(): CameraStatus {
    return this.#status;
  }

  /** JPEG of the latest keyframe, from the running pipeline. Throws SnapshotUnavailableError. */
  snapshot(timeoutMs?: number): Promise<Uint8Array> {
    return snapshotJpeg(this.camera.id, this.#keyframes, this.#ctx.plan.codec, timeoutMs);
  }

  /** Finishes the open segment and starts the pipeline again (e.g. a fleet command). */
  restart(): void {
    this.#restartRun?.();
  }

  /** Runs until `signal` aborts. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    if (!this.camera.enabled) return;
    if (this.#ctx.fault) {
      this.#set("failed", this.#ctx.fault);
      this.#log.error("camera cannot be recorded; not retrying", { error: this.#ctx.fault });
      return;
    }
    const backoff = this.#options.backoffMs ?? BACKOFF_MS;
    let failures = 0;
    this.#setRecorder();
    this.#log.info("camera starting", {
      url: redactUrl(this.camera.url),
      plan: this.#ctx.plan.reason,
      recorder: this.#engine(),
    });
    try {
      this.#lastEndMs = this.#ctx.index().lastSegmentEnd(this.camera.id);
    } catch { /* storage unavailable: the first run reports it */ }
    while (!signal.aborted) {
      const started = this.#ctx.now();
      this.#set("starting", this.#status.lastError);
      const thisRun = new AbortController();
      this.#restartRun = () => thisRun.abort();
      try {
        const record = ENGINES[this.#engine()];
        await record(this.camera, this.#ctx, AbortSignal.any([signal, thisRun.signal]));
        if (signal.aborted) break;
        if (thisRun.signal.aborted) {
          this.#log.info("camera restarted on request");
          this.#status = { ...this.#status, restarts: this.#status.restarts + 1 };
          continue;
        }
        throw new Error("stream ended (EOS from the camera)");
      } catch (err) {
        const message = (err as Error).message;
        const wasRecording = this.#status.state === "recording";
        if (err instanceof RemuxUnsuitableError) {
          this.#gstreamerOnly = true;
          this.#setRecorder();
          this.#log.info("camera goes to GStreamer", { why: message });
          continue;
        }
        if (err instanceof UnsupportedSourceError) {
          this.#set("failed", message);
          this.#log.error("camera failed; not retrying", { err });
          return;
        }
        if (signal.aborted) break;
        if (err instanceof CameraAudioStallError) {
          this.#audioOffUntil = this.#ctx.now() + AUDIO_OFF_MS;
        }
        this.#outageReason ??= message;
        if (wasRecording) this.#event("camera-down", { error: message });
        if (isDiskFull(err)) {
          this.#set("retrying", message);
          const freed = await this.#ctx.onDiskFull?.() ?? 0;
          if (freed > 0) {
            this.#log.warn("disk full: freed space, recording again", { err, freedBytes: freed });
          } else {
            // Nothing could be freed (kept recordings, someone else's files): wait like any
            // failure, and say what would help.
            const why = `Camera '${this.camera.id}': the recording disk is full (${message}) ` +
              "and retention found nothing it may delete (only kept recordings or files it does " +
              "not own): release kept recordings or free space on the disk";
            const pause = backoff.at(-1) ?? 1_000;
            this.#set("retrying", why);
            this.#logFailure(why, err, pause);
            await sleep(pause, signal);
          }
          this.#status = { ...this.#status, restarts: this.#status.restarts + 1 };
          continue;
        }
        if (this.#ctx.now() - started >= HEALTHY_RUN_MS) failures = 0;
        const base = backoff[Math.min(failures, backoff.length - 1)] ?? 1_000;
        // A refused connection (the camera down or rebooting) costs microseconds to try again,
        // and the first keyframe after it may take a GOP: ask often, so it resumes within 2 s.
        const refused = err instanceof RtspError && err.kind === "connect" &&
          err.cause instanceof Deno.errors.ConnectionRefused;
        const pause = this.#pause(refused ? Math.min(base, REFUSED_RETRY_MS) : base);
        failures++;
        this.#set("retrying", message);
        this.#logFailure(message, err, pause);
        await sleep(pause, signal);
        this.#status = { ...this.#status, restarts: this.#status.restarts + 1 };
      }
    }
    this.#set("stopped", this.#status.lastError);
  }

  #setRecorder(): void {
    const recorder = this.#engine();
    this.#status = { ...this.#status, plan: { ...this.#status.plan, recorder } };
    this.#setRecordNow(recorder === "builtin" ? "waiting for an event" : "continuous (GStreamer)");
  }

  #engine(): EngineName {
    return chooseEngine(
      this.camera,
      this.#ctx.plan,
      this.#ctx.remux ?? "gstreamer",
      this.#gstreamerOnly,
    );
  }

  #lastLogged: { message: string; atMs: number; repeats: number } | null = null;

  /** Logs a failure when it is new or a minute has passed, with how often it repeated. */
  #logFailure(message: string, err: unknown, retryInMs: number): void {
    const now = this.#ctx.now();
    const last = this.#lastLogged;
    if (last && last.message === message && now - last.atMs < REPEAT_LOG_MS) {
      last.repeats++;
      return;
    }
    this.#log.warn("camera pipeline failed; retrying", {
      err,
      retryInMs,
      ...(last && last.repeats > 0 ? { repeatedSinceLastLog: last.repeats } : {}),
    });
    this.#lastLogged = { message, atMs: now, repeats: 0 };
  }

  #recordGap(startMs: number): void {
    const last = this.#lastEndMs;
    if (last === null || startMs - last < GAP_MIN_MS) return;
    if (this.#outageReason === null && this.#ctx.events && this.#engine() === "builtin") {
      // Events mode: time without an event is a gap by design, not an outage (no event, no log).
      try {
        const reason = "no event (cameras[].record.mode events)";
        this.#ctx.index().addGap({ camera: this.camera.id, startMs: last, endMs: startMs, reason });
      } catch (err) {
        this.#log.warn("could not index a recording gap", { err });
      }
      return;
    }
    const reason = this.#outageReason ?? "the recorder was not running";
    this.#outageReason = null;
    try {
      this.#ctx.index().addGap({ camera: this.camera.id, startMs: last, endMs: startMs, reason });
      this.#event("recording-gap", { fromMs: last, toMs: startMs, reason });
    } catch (err) {
      this.#log.warn("could not index a recording gap", { err });
    }
    this.#log.warn("recording gap", {
      fromMs: last,
      toMs: startMs,
      seconds: (startMs - last) / 1000,
    });
  }

  #event(kind: string, detail: Record<string, unknown>): void {
    try {
      this.#ctx.index().addEvent({ camera: this.camera.id, tsMs: this.#ctx.now(), kind, detail });
    } catch { /* the index is unavailable; the log has it */ }
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
