/**
 * One life of a camera's recording pipeline: build, play, turn finished splitmuxsink fragments
 * into indexed segments, and stop with EOS so the open segment is finished properly. Retrying is
 * the supervisor's job, not this module's.
 */
import type { CameraConfig } from "../config/types.ts";
import { type BusMessage, Pipeline } from "../gst/mod.ts";
import type { Logger } from "../log.ts";
import {
  ensureWritable,
  incomingDir,
  incomingPattern,
  type SegmentIndex,
  type SegmentRecord,
  segmentRelativePath,
} from "../storage/mod.ts";
import { MUX_NAME, recordingPipeline } from "./recording_pipeline.ts";

/** The pipeline reported an error; `source` is the element that posted it. */
export class CameraPipelineError extends Error {
  readonly camera: string;
  constructor(camera: string, source: string, detail: string) {
    super(`Camera '${camera}': ${source}: ${detail}`);
    this.name = "CameraPipelineError";
    this.camera = camera;
  }
}

export interface RecorderContext {
  readonly dataDir: string;
  readonly segmentSeconds: number;
  readonly index: () => SegmentIndex;
  readonly log: Logger;
  readonly now: () => number;
  /** Called when the stream flows (first stream-start). */
  readonly onRecording?: () => void;
  readonly onSegment?: (segment: SegmentRecord) => void;
}

const BUS_WAIT_MS = 200;
const EOS_GRACE_MS = 5_000;
const NS_PER_MS = 1_000_000n;

/**
 * Records until `signal` aborts (resolves after the open segment is finished) or the stream ends.
 * Throws CameraPipelineError, PipelineParseError, StorageUnavailableError or
 * UnsupportedSourceError.
 */
export async function recordCamera(
  camera: CameraConfig,
  ctx: RecorderContext,
  signal: AbortSignal,
): Promise<void> {
  await ensureWritable(ctx.dataDir);
  await Deno.mkdir(incomingDir(ctx.dataDir, camera.id), { recursive: true });
  const runId = `${ctx.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
  const description = recordingPipeline(camera, {
    location: incomingPattern(ctx.dataDir, camera.id, runId),
    segmentSeconds: ctx.segmentSeconds,
  });
  ctx.log.debug("pipeline", {
    description: description.replace(/user-pw="[^"]*"/, 'user-pw="***"'),
  });
  await using pipeline = Pipeline.parse(description, { name: camera.id });
  pipeline.play();

  const clock = new SegmentClock(ctx.now);
  let eosDeadline: number | null = null;
  let flowing = false;
  for (;;) {
    if (signal.aborted && eosDeadline === null) {
      pipeline.sendEos();
      eosDeadline = ctx.now() + EOS_GRACE_MS;
    }
    if (eosDeadline !== null && ctx.now() > eosDeadline) {
      ctx.log.warn("no EOS within the grace period; the open segment may be incomplete");
      return;
    }
    const msg = await pipeline.next(BUS_WAIT_MS);
    if (msg === null) continue;
    if (!flowing && (msg.type === "stream-start" || isFragment(msg, "opened"))) {
      flowing = true;
      ctx.onRecording?.();
    }
    switch (msg.type) {
      case "error":
        throw new CameraPipelineError(camera.id, msg.source, msg.message);
      case "warning":
        ctx.log.warn("pipeline warning", { source: msg.source, warning: msg.message });
        break;
      case "eos":
        return;
      case "element":
        if (isFragment(msg, "opened") && msg.location) {
          clock.opened(msg.location, msg.runningTime ?? 0n);
        }
        if (isFragment(msg, "closed") && msg.location) {
          const span = clock.closed(msg.location, msg.runningTime ?? 0n);
          await finishSegment(camera, ctx, msg.location, span);
        }
        break;
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
 * Wall-clock times of fragments: the first fragment's opening is anchored to the wall clock and
 * every later boundary follows the pipeline's running time, so consecutive segments join exactly.
 * splitmuxsink announces the next fragment before it closes the previous one, so opening times
 * are kept per file.
 */
class SegmentClock {
  #anchor: { wallMs: number; runningNs: bigint } | null = null;
  readonly #opened = new Map<string, bigint>();
  readonly #now: () => number;
  constructor(now: () => number) {
    this.#now = now;
  }
  opened(location: string, runningNs: bigint): void {
    this.#anchor ??= { wallMs: this.#now(), runningNs };
    this.#opened.set(location, runningNs);
  }
  closed(location: string, runningNs: bigint): { startMs: number; endMs: number } {
    const anchor = this.#anchor ?? { wallMs: this.#now(), runningNs };
    const openNs = this.#opened.get(location) ?? anchor.runningNs;
    this.#opened.delete(location);
    const wall = (ns: bigint) => anchor.wallMs + Number((ns - anchor.runningNs) / NS_PER_MS);
    return { startMs: wall(openNs), endMs: wall(runningNs) };
  }
}

async function finishSegment(
  camera: CameraConfig,
  ctx: RecorderContext,
  location: string,
  span: { startMs: number; endMs: number },
): Promise<void> {
  const { size } = await Deno.stat(location);
  if (size === 0) {
    await Deno.remove(location);
    ctx.log.warn("empty segment dropped", { location });
    return;
  }
  const path = segmentRelativePath(camera.id, span.startMs);
  const target = `${ctx.dataDir}/${path}`;
  await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
  await Deno.rename(location, target);
  const segment: SegmentRecord = {
    camera: camera.id,
    startMs: span.startMs,
    endMs: span.endMs,
    bytes: size,
    codec: camera.codec,
    path,
  };
  ctx.index().add(segment);
  ctx.log.info("segment", { path, bytes: size, seconds: (span.endMs - span.startMs) / 1000 });
  ctx.onSegment?.(segment);
}
