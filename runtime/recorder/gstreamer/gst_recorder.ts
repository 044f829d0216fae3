/**
 * One life of a camera's recording pipeline: build, play, turn finished splitmuxsink fragments
 * into indexed segments, measure the stream once a second, give up when frames stop (stall
 * watchdog), and stop with EOS so the open segment is finished properly. Retrying is the
 * supervisor's job, not this module's.
 */
import type { CameraConfig } from "../../config/types.ts";
import { type BusMessage, noSpaceLeft, Pipeline } from "../../gst/mod.ts";
import {
  incomingPattern,
  newRunId,
  type TrimResult,
  trimToFirstKeyframe,
} from "../../storage/mod.ts";
import { finishSegment, prepareIncoming } from "../supervisor/segment_files.ts";
import { StatsMeter } from "../supervisor/camera_stats.ts";
import {
  AUDIO_FRAMES_SINK,
  FRAMES_SINK,
  KEYFRAMES_SINK,
  MUX_NAME,
  recordingPipeline,
  TEE_NAME,
} from "./recording_pipeline.ts";
import { probeAudio } from "./audio.ts";
import { pipelineKeyframes } from "../snapshot.ts";
import { CameraStallError, type RecorderContext } from "../engine.ts";

export { CameraStallError, type RecorderContext };

/** The pipeline reported an error; `source` is the element that posted it. */
export class CameraPipelineError extends Error {
  readonly camera: string;
  /** GStreamer's debug text (e.g. the OS error behind "Could not write to resource"). */
  readonly debug: string | null;
  /** "disk-full" when the pipeline could not write because the disk is full. */
  readonly kind: "disk-full" | null;
  constructor(
    camera: string,
    source: string,
    detail: string,
    debug: string | null = null,
    kind: "disk-full" | null = null,
  ) {
    super(`Camera '${camera}': ${source}: ${detail}`);
    this.name = "CameraPipelineError";
    this.camera = camera;
    this.debug = debug;
    this.kind = kind;
  }
}

/** Audio stopped while video went on: splitmuxsink would wait for it forever. */
export class CameraAudioStallError extends Error {
  constructor(camera: string, seconds: number) {
    super(
      `Camera '${camera}': audio stopped for ${seconds} s while video went on; recording ` +
        "again without audio for a while",
    );
    this.name = "CameraAudioStallError";
  }
}

const BUS_WAIT_MS = 200;
const STATS_EVERY_MS = 1_000;
const EOS_GRACE_MS = 5_000;
const NS_PER_MS = 1_000_000n;
/** A fragment opening further than this from the wall-clock tie re-ties it (SegmentClock). */
const RETIE_MS = 2_000;

/**
 * Records until `signal` aborts (resolves after the open segment is finished) or the stream ends.
 * Throws CameraPipelineError, CameraStallError, PipelineParseError, StorageUnavailableError or
 * UnsupportedSourceError.
 */
export async function recordCamera(
  camera: CameraConfig,
  ctx: RecorderContext,
  signal: AbortSignal,
): Promise<void> {
  await prepareIncoming(camera, ctx);
  // Audio is recorded only when the camera's SDP says it has some (one DESCRIBE per start):
  // splitmuxsink would otherwise wait forever for an audio pad that never gets data.
  const sound = ctx.audioOff?.() ? null : await probeAudio(camera, { signal });
  if (sound) ctx.log.debug("audio", { reason: sound.reason });
  const runId = newRunId(ctx.now());
  const description = recordingPipeline(camera, {
    location: incomingPattern(ctx.dataDir, camera.id, runId),
    segmentSeconds: ctx.segmentSeconds,
    plan: ctx.plan,
    audio: sound?.audio ?? null,
  });
  ctx.log.debug("pipeline", {
    description: description.replace(/user-pw="[^"]*"/, 'user-pw="***"'),
  });
  await using pipeline = Pipeline.parse(description, { name: camera.id });
  pipeline.play();
  ctx.onKeyframes?.(pipelineKeyframes(camera.id, pipeline));
  try {
    await drive(camera, ctx, pipeline, signal, sound?.audio != null);
  } finally {
    ctx.onKeyframes?.(null);
  }
}

async function drive(
  camera: CameraConfig,
  ctx: RecorderContext,
  pipeline: Pipeline,
  signal: AbortSignal,
  withAudio: boolean,
): Promise<void> {
  const clock = new SegmentClock(ctx.now, () => pipeline.runningTime());
  const audio = { frames: 0, changedAt: ctx.now() };
  const jitterBuffers: string[] = [];
  const meter = new StatsMeter(ctx.now());
  const files = new ByteCounter();
  let nextStatsAt = ctx.now() + STATS_EVERY_MS;
  let eosDeadline: number | null = null;
  let flowing = false;
  for (;;) {
    const now = ctx.now();
    if (signal.aborted && eosDeadline === null) {
      // EOS into the tee, not the source: the open segment is finished even when the camera is
      // gone or rtspsrc is stuck talking to it.
      if (!pipeline.element(TEE_NAME)?.sendEosToPad("sink")) pipeline.sendEos();
      eosDeadline = now + EOS_GRACE_MS;
    }
    if (eosDeadline !== null && now > eosDeadline) {
      ctx.log.warn("no EOS within the grace period; the open segment is repaired at next start");
      return;
    }
    if (now >= nextStatsAt) {
      nextStatsAt = now + STATS_EVERY_MS;
      const counters = await sample(pipeline, files, now, jitterBuffers);
      ctx.onStats?.(meter.update(counters));
      if (eosDeadline === null && meter.stalledForMs(now) > ctx.stallMs) {
        throw new CameraStallError(camera.id, Math.round(ctx.stallMs / 1000));
      }
      if (counters.audioFrames !== audio.frames) {
        audio.frames = counters.audioFrames;
        audio.changedAt = now;
      }
      if (
        withAudio && eosDeadline === null && counters.frames > 0 &&
        now - audio.changedAt > ctx.stallMs
      ) {
        throw new CameraAudioStallError(camera.id, Math.round(ctx.stallMs / 1000));
      }
    }
    const msg = await pipeline.next(BUS_WAIT_MS);
    if (msg === null) continue;
    if (!flowing && (msg.type === "stream-start" || isFragment(msg, "opened"))) {
      flowing = true;
      ctx.onRecording?.();
    }
    switch (msg.type) {
      case "error":
        if (eosDeadline !== null) {
          // Stopping: the source may complain about the EOS pushed past it; the muxer finishes.
          ctx.log.debug("error while stopping", { source: msg.source, error: msg.message });
          break;
        }
        throw new CameraPipelineError(
          camera.id,
          msg.source,
          msg.message,
          msg.debug,
          noSpaceLeft(msg) ? "disk-full" : null,
        );
      case "warning":
        ctx.log.warn("pipeline warning", { source: msg.source, warning: msg.message });
        break;
      case "eos":
        return;
      case "element":
        if (isFragment(msg, "opened") && msg.location) {
          clock.opened(msg.location, msg.runningTime ?? 0n);
          files.opened(msg.location);
        }
        if (isFragment(msg, "closed") && msg.location) {
          const span = await startOnKeyframe(
            camera,
            ctx,
            msg.location,
            clock.closed(msg.location, msg.runningTime ?? 0n),
          );
          const done = await finishSegment(camera, ctx, msg.location, span, meter.stats);
          files.closed(msg.location, done.bytes, done.frames);
        }
        break;
    }
  }
}

/**
 * A run that joined the camera's stream between keyframes begins with pictures that cannot be
 * decoded; they come out of the file and the segment starts at its first keyframe (fmp4_trim.ts).
 */
async function startOnKeyframe(
  camera: CameraConfig,
  ctx: RecorderContext,
  location: string,
  span: { startMs: number; endMs: number },
): Promise<{ startMs: number; endMs: number }> {
  let trim: TrimResult;
  try {
    trim = await trimToFirstKeyframe(location);
  } catch (err) {
    // Most likely a full disk (the trimmed copy needs room): the file is whole, keep it so.
    ctx.log.warn("could not remove undecodable pictures from a segment; kept as it is", {
      camera: camera.id,
      location,
      err,
    });
    return span;
  }
  if (trim.leftAsIs !== null) {
    ctx.log.warn("segment does not start on a keyframe; kept as it is", {
      camera: camera.id,
      location,
      why: trim.leftAsIs,
    });
  }
  if (trim.droppedFrames === 0) return span;
  ctx.log.info("segment started between keyframes: pictures that cannot be decoded removed", {
    camera: camera.id,
    frames: trim.droppedFrames,
    seconds: trim.droppedSeconds,
  });
  const startMs = Math.min(span.endMs, span.startMs + Math.round(trim.droppedSeconds * 1000));
  return { startMs, endMs: span.endMs };
}

/** RTP packets lost or late, summed over rtspsrc's jitter buffers (they appear once data flows). */
function packetsLost(pipeline: Pipeline, jitterBuffers: string[]): number | null {
  if (jitterBuffers.length === 0) jitterBuffers.push(...pipeline.elementNames("rtpjitterbuffer"));
  if (jitterBuffers.length === 0) return null;
  let lost = 0;
  for (const name of jitterBuffers) {
    const stats = pipeline.element(name)?.getStructure("stats") ?? {};
    lost += Number(stats["num-lost"] ?? 0) + Number(stats["num-late"] ?? 0);
  }
  return lost;
}

async function sample(
  pipeline: Pipeline,
  files: ByteCounter,
  atMs: number,
  jitterBuffers: string[],
) {
  const rendered = (sink: string) => {
    const value = pipeline.element(sink)?.getStructure("stats").rendered;
    return value === undefined ? 0 : Number(value);
  };
  const caps = pipeline.element(TEE_NAME)?.padCaps("sink") ?? null;
  return {
    atMs,
    frames: rendered(FRAMES_SINK),
    audioFrames: rendered(AUDIO_FRAMES_SINK),
    framesOut: files.frames,
    keyframes: rendered(KEYFRAMES_SINK),
    bytes: await files.total(),
    packetsLost: packetsLost(pipeline, jitterBuffers),
    width: caps?.width ?? null,
    height: caps?.height ?? null,
  };
}

/** Bytes written by this pipeline (finished segments plus the open file) and frames finished. */
class ByteCounter {
  #closedBytes = 0;
  #frames = 0;
  #open: string | null = null;
  opened(location: string): void {
    this.#open = location;
  }
  closed(location: string, bytes: number, frames: number): void {
    this.#closedBytes += bytes;
    this.#frames += frames;
    if (this.#open === location) this.#open = null;
  }
  get frames(): number {
    return this.#frames;
  }
  async total(): Promise<number> {
    if (!this.#open) return this.#closedBytes;
    try {
      return this.#closedBytes + (await Deno.stat(this.#open)).size;
    } catch {
      return this.#closedBytes;
    }
  }
}

function isFragment(msg: BusMessage, what: "opened" | "closed"): msg is BusMessage & {
  type: "element";
} {
  return msg.type === "element" && msg.source === MUX_NAME &&
    msg.name === `splitmuxsink-fragment-${what}`;
}

/**
 * Wall-clock times of fragments. The pipeline's running time is tied to the wall clock at the
 * first fragment, by reading both at the same moment; every boundary then follows the buffers'
 * running time (the camera's RTP clock), so consecutive segments join exactly and message delays
 * do not shift them. A fragment that opens more than 2 s away from where that tie puts it (the
 * camera's clock drifted over a long run, or the board's clock was set, e.g. by NTP after boot)
 * ties them again, like the built-in remuxer. splitmuxsink announces the next fragment before it
 * closes the previous one, so opening times are kept per file.
 */
export class SegmentClock {
  #wallAtZeroMs: number | null = null;
  /** How far the buffers' running time was behind the pipeline clock at the tie (queues). */
  #lagMs = 0;
  /** Per open file: its first running time and the tie it was opened under. */
  readonly #opened = new Map<string, { runningNs: bigint; wallAtZeroMs: number }>();
  readonly #now: () => number;
  readonly #runningTime: () => bigint | null;
  constructor(now: () => number, runningTime: () => bigint | null) {
    this.#now = now;
    this.#runningTime = runningTime;
  }
  opened(location: string, runningNs: bigint): void {
    const now = this.#now();
    const bufferMs = Number(runningNs / NS_PER_MS);
    if (this.#wallAtZeroMs === null) {
      const clockMs = Number((this.#runningTime() ?? runningNs) / NS_PER_MS);
      this.#wallAtZeroMs = now - clockMs;
      this.#lagMs = clockMs - bufferMs;
    } else {
      const fresh = now - this.#lagMs - bufferMs;
      if (Math.abs(fresh - this.#wallAtZeroMs) > RETIE_MS) this.#wallAtZeroMs = fresh;
    }
    this.#opened.set(location, { runningNs, wallAtZeroMs: this.#wallAtZeroMs });
  }
  closed(location: string, runningNs: bigint): { startMs: number; endMs: number } {
    const open = this.#opened.get(location);
    this.#opened.delete(location);
    const base = open?.wallAtZeroMs ?? this.#wallAtZeroMs ??
      this.#now() - Number(runningNs / NS_PER_MS);
    const wall = (ns: bigint) => base + Number(ns / NS_PER_MS);
    return { startMs: wall(open?.runningNs ?? runningNs), endMs: wall(runningNs) };
  }
}
