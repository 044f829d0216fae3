/**
 * One life of a camera recorded as it comes, without GStreamer: the daemon's own RTSP client
 * (interleaved TCP) hands whole pictures to the Fmp4Segmenter, whose files are written here and
 * indexed like the GStreamer recorder's. The same contract as recordCamera: resolves when `signal`
 * aborts (after the open segment is finished), throws when the camera fails, stalls or the disk
 * fails; retrying is the supervisor's job.
 *
 * Measured reason it exists: rtspsrc alone costs more CPU than ffmpeg's whole segmenter
 * (docs/benchmarks.md); reading the socket in large chunks and writing one buffer per fragment
 * does not. It also starts every segment on a keyframe and counts dropped frames, which the
 * GStreamer passthrough path cannot.
 */
import type { CameraConfig } from "../../config/types.ts";
import { incomingFile, newRunId } from "../../storage/mod.ts";
import { RtspError, RtspSession } from "../../media/rtsp/session.ts";
import type { AudioAccessUnit, VideoAccessUnit } from "../../media/codec/types.ts";
import { StatsMeter } from "../supervisor/camera_stats.ts";
import { CameraStallError, type RecorderContext } from "../engine.ts";
import { Fmp4Segmenter, type SegmenterOutput } from "../../media/fmp4/segmenter.ts";
import { finishSegment, prepareIncoming } from "../supervisor/segment_files.ts";
import type { KeyframeTap } from "../snapshot.ts";
import { writeAll } from "../../std/io/write_all.ts";
import { RtpWallClock } from "./rtp_wall_clock.ts";
import { AccessUnitFeed, SourceClock } from "../../media/restream/feed.ts";
import { G711ToOpus } from "./g711_opus.ts";
import { EventRecording } from "./event_recording.ts";
import type { HeldUnit } from "./pre_roll.ts";
import { readUdpReceiveBuffer, udpBufferWarning } from "./udp_buffer.ts";

/** The built-in remuxer cannot record this camera (e.g. no libopus for its G.711 audio). */
export class RemuxUnsuitableError extends Error {
  constructor(camera: string, why: string) {
    super(`Camera '${camera}': ${why}; recording it with GStreamer instead`);
    this.name = "RemuxUnsuitableError";
  }
}

/** What the camera or the connection did wrong, named for the camera (RTSP errors, timeouts). */
export class CameraStreamError extends Error {
  readonly camera: string;
  /** RTSP status when the camera answered with one (401: credentials). */
  readonly status: number | null;
  constructor(camera: string, detail: string, status: number | null, options?: ErrorOptions) {
    super(`Camera '${camera}': ${detail}`, options);
    this.name = "CameraStreamError";
    this.camera = camera;
    this.status = status;
  }
}

/** Writing fell this far behind the camera: the disk is too slow or hung. */
export class DiskTooSlowError extends Error {
  constructor(camera: string, mib: number) {
    super(
      `Camera '${camera}': ${mib} MiB waiting to be written; the storage is too slow or hung ` +
        "(check the SSD and its cable)",
    );
    this.name = "DiskTooSlowError";
  }
}

const STATS_EVERY_MS = 1_000;
const RTSP_TIMEOUT_MS = 5_000;
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/**
 * Fragment buffers kept for reuse: one is enough when the disk keeps up (one fragment is being
 * written while the next is built); more would stay allocated (about 0.75 MiB each at 4 Mbit/s)
 * for good after one slow moment of the disk.
 */
const MAX_SPARE_BUFFERS = 1;

/** UDP cameras already told about a small kernel receive buffer (once per process). */
const udpWarned = new Set<string>();
/** Lost RTP packets are logged at most this often per camera, with the count since the last. */
const LOSS_LOG_EVERY_MS = 60_000;

export async function recordCameraRemux(
  camera: CameraConfig,
  ctx: RecorderContext,
  signal: AbortSignal,
): Promise<void> {
  await prepareIncoming(camera, ctx);
  const wantAudio = !ctx.audioOff?.();
  const caCerts = camera.caFile === undefined ? [] : [await readCaFile(camera, camera.caFile)];
  await using session = await RtspSession.open({
    url: camera.url,
    user: camera.username ?? null,
    password: camera.password ?? null,
    audio: wantAudio,
    transport: camera.transport,
    caCerts,
    timeoutMs: RTSP_TIMEOUT_MS,
    signal,
  }).catch((err) => {
    throw streamError(camera, err);
  });
  if (session.video.codec !== camera.codec) {
    throw new CameraStreamError(
      camera.id,
      `the camera sends ${session.video.codec.toUpperCase()} but cameras[].codec says ` +
        `'${camera.codec}'; set it to '${session.video.codec}'`,
      null,
    );
  }
  let transcoder: G711ToOpus | null = null;
  const audio = session.audio;
  if (audio && audio.codec !== "aac") {
    try {
      transcoder = new G711ToOpus(audio.codec);
    } catch (err) {
      throw new RemuxUnsuitableError(
        camera.id,
        `its ${audio.codec.toUpperCase()} audio needs Opus: ${(err as Error).message}`,
      );
    }
  }
  using _transcoder = transcoder;
  if (camera.transport === "udp" && !udpWarned.has(camera.id)) {
    const warning = udpBufferWarning(readUdpReceiveBuffer());
    if (warning !== null) ctx.log.warn(`camera ${camera.id}: ${warning}`, { camera: camera.id });
    udpWarned.add(camera.id);
  }
  const run = new RemuxRun(camera, ctx, session, transcoder);
  ctx.onKeyframes?.(run.keyframes);
  try {
    await run.play(signal);
  } catch (err) {
    throw streamError(camera, err);
  } finally {
    ctx.onKeyframes?.(null);
  }
}

/** cameras[].caFile's PEM text; an error that names the key and the file when it is unusable. */
async function readCaFile(camera: CameraConfig, path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new CameraStreamError(
      camera.id,
      `cannot read cameras[].caFile ${path}: ${(err as Error).message}; check the path and that ` +
        "the NVR may read it",
      null,
      { cause: err },
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new CameraStreamError(
      camera.id,
      `cameras[].caFile ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----); put the ` +
        "CA certificate there in PEM form",
      null,
    );
  }
  return text;
}

/** RTSP failures named for the camera; the recorder's own errors pass as they are. */
function streamError(camera: CameraConfig, err: unknown): unknown {
  if (!(err instanceof RtspError)) return err;
  return new CameraStreamError(camera.id, err.message, err.status, { cause: err });
}

class RemuxRun {
  readonly #camera: CameraConfig;
  readonly #ctx: RecorderContext;
  readonly #session: RtspSession;
  readonly #segmenter: Fmp4Segmenter;
  readonly #clock: RtpWallClock;
  readonly #meter: StatsMeter;
  readonly #stop = new AbortController();
  readonly #runId: string;
  readonly #pending: SegmenterOutput[] = [];
  #writing: Promise<void> = Promise.resolve();
  #failure: unknown = null;
  /** Writing failed: nothing more is written in this run (the file is salvaged at next start). */
  #writeFailed = false;
  #queuedBytes = 0;
  #files = 0;
  #file: {
    handle: Deno.FsFile;
    location: string;
    startMs: number;
    width: number;
    height: number;
  } | null = null;
  #bytesWritten = 0;
  #framesOut = 0;
  #started = false;
  /** The latest picture's timestamp and arrival (ms), to place audio; NaN before the first. */
  #lastVideoTs = NaN;
  #lastVideoAtMs = NaN;
  /** Audio timestamp (scaled to the video clock) → video timeline offset, fixed at the first. */
  #audioOffset: number | null = null;
  #keyframeWaiters: (() => void)[] = [];
  /** RtspSession.counters.foreign when it was last logged. */
  #foreignLogged = 0;
  #lossLogged = { count: 0, atMs: -Infinity };
  /** Fragment buffers back from the disk, reused (no allocation per fragment). */
  readonly #spareBuffers: Uint8Array[] = [];
  /** Live viewers' copy of every picture (ctx.live), with the camera's capture clock. */
  readonly #live: { feed: AccessUnitFeed; clock: SourceClock } | null;
  /** G.711 → Opus, or null (AAC or no audio). */
  readonly #transcoder: G711ToOpus | null;
  readonly #opusFrames: AudioAccessUnit[] = [];
  /** cameras[].record.mode "events": the gate before the segmenter; null: continuous. */
  readonly #events: EventRecording | null;

  constructor(
    camera: CameraConfig,
    ctx: RecorderContext,
    session: RtspSession,
    transcoder: G711ToOpus | null,
  ) {
    this.#camera = camera;
    this.#ctx = ctx;
    this.#session = session;
    this.#transcoder = transcoder;
    const audio = session.audio;
    this.#segmenter = new Fmp4Segmenter({
      codec: session.video.codec,
      clockRate: session.video.clockRate,
      segmentSeconds: ctx.segmentSeconds,
      parameterSets: session.video.parameterSets,
      audio: !audio
        ? null
        : audio.codec === "aac"
        ? { config: audio.config, sampleRate: audio.clockRate, channels: audio.channels }
        : {
          codec: "opus",
          channels: 1,
          inputSampleRate: audio.clockRate,
          preSkip: transcoder?.preSkip ?? 0,
        },
      // Events mode copies every picture (pre-roll) and releases the arena itself.
      ...(this.#eventsMode(camera, ctx) ? {} : { arena: session.arena }),
      fragmentBuffer: (size) => this.#fragmentBuffer(size),
    });
    this.#clock = new RtpWallClock(session.video.clockRate);
    if (ctx.live) {
      const clock = new SourceClock(session.video.clockRate, () => session.senderClock);
      const feed = new AccessUnitFeed(
        ctx.live,
        session.video.codec,
        session.video.clockRate,
        session.video.parameterSets,
        (ts) => clock.wallOf(ts),
      );
      this.#live = { feed, clock };
    } else this.#live = null;
    this.#meter = new StatsMeter(ctx.now());
    this.#runId = newRunId(ctx.now());
    const events = ctx.events;
    this.#events = camera.record && this.#eventsMode(camera, ctx) && events
      ? new EventRecording(camera.record, session.video.clockRate, events, {
        feed: (unit) => this.#feed(unit),
        finish: () => {
          this.#segmenter.finish(this.#pending);
          this.#drain();
        },
        changed: (recording) => {
          ctx.log.info(recording ? "event: recording" : "event over: waiting for the next", {
            camera: camera.id,
          });
          ctx.onEventRecording?.(recording);
        },
      })
      : null;
  }

  #eventsMode(camera: CameraConfig, ctx: RecorderContext): boolean {
    return camera.record?.mode === "events" && ctx.events !== undefined;
  }

  /** A unit from the events gate (copied, its own buffers) into the segmenter. */
  #feed(unit: HeldUnit): void {
    if (unit.kind === "audio") return this.#segmenter.pushAudio(unit.au, unit.videoTs);
    this.#segmenter.pushVideo(unit.au, this.#pending);
    if (this.#pending.length > 0) this.#drain();
  }

  /** What a snapshot decodes: the segmenter's latest GOP, or the pre-roll's while none is written. */
  #latestPictures(): Uint8Array | null {
    if (this.#events && !this.#events.recording) {
      return this.#events.pre.latestPictures(this.#session.video.parameterSets);
    }
    return this.#segmenter.latestPictures();
  }

  #hasPictures(): boolean {
    if (this.#events && !this.#events.recording) return this.#events.pre.ready;
    return this.#segmenter.hasKeyframe;
  }

  readonly keyframes: KeyframeTap = async (timeoutMs) => {
    if (!this.#hasPictures()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#keyframeWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const data = this.#latestPictures();
    if (!data) return null;
    const codec = this.#session.video.codec;
    // Several pictures in one buffer: no alignment, the parser splits them.
    return { data, caps: `video/x-${codec},stream-format=byte-stream` };
  };

  async play(signal: AbortSignal): Promise<void> {
    const stats = setInterval(() => this.#sample(), STATS_EVERY_MS);
    let playError: unknown = null;
    try {
      await this.#session.play(
        { onVideo: (au) => this.#onVideo(au), onAudio: (au) => this.#onAudio(au) },
        AbortSignal.any([signal, this.#stop.signal]),
      );
    } catch (err) {
      playError = err;
    } finally {
      clearInterval(stats);
      for (const wake of this.#keyframeWaiters.splice(0)) wake();
    }
    // Whatever ended the run, the pictures already received are written and the segment closed.
    this.#segmenter.finish(this.#pending);
    this.#drain();
    await this.#writing;
    if (this.#file) {
      // Writing failed mid-segment: the file stays in .incoming and is salvaged at next start.
      try {
        this.#file.handle.close();
      } catch { /* already closed */ }
      this.#file = null;
    }
    this.#sample(false);
    if (this.#failure !== null) throw this.#failure;
    if (playError !== null) throw playError;
  }

  #onVideo(au: VideoAccessUnit): void {
    this.#lastVideoTs = au.timestamp;
    this.#lastVideoAtMs = this.#ctx.now();
    if (this.#live) {
      // First, for the viewers' latency; the feed copies what it keeps and never waits.
      this.#live.clock.arrived(au.timestamp, this.#lastVideoAtMs);
      this.#live.feed.push(au);
    }
    if (this.#events) {
      if (!this.#started && au.keyframe) {
        // The stream flows; in events mode that is "recording" for the supervisor.
        this.#started = true;
        this.#ctx.onRecording?.();
      }
      this.#events.video(au, this.#lastVideoAtMs);
      // Every picture is copied (pre-roll or segmenter): nothing holds the session's buffers.
      this.#session.arena.releaseBefore(null);
    } else this.#segmenter.pushVideo(au, this.#pending);
    if (this.#keyframeWaiters.length > 0 && this.#hasPictures()) {
      for (const wake of this.#keyframeWaiters.splice(0)) wake();
    }
    if (this.#pending.length > 0) this.#drain();
  }

  #onAudio(au: AudioAccessUnit): void {
    const audio = this.#session.audio;
    if (!audio || Number.isNaN(this.#lastVideoTs)) return;
    const ratio = this.#session.video.clockRate / audio.clockRate;
    if (this.#audioOffset === null) {
      const videoNow = this.#lastVideoTs +
        (this.#ctx.now() - this.#lastVideoAtMs) * this.#session.video.clockRate / 1000;
      this.#audioOffset = videoNow - au.timestamp * ratio;
    }
    const push = (frame: AudioAccessUnit, videoTs: number) =>
      this.#events ? this.#events.audio(frame, videoTs) : this.#segmenter.pushAudio(frame, videoTs);
    if (this.#transcoder === null) {
      push(au, au.timestamp * ratio + this.#audioOffset);
      return;
    }
    const frames = this.#opusFrames;
    this.#transcoder.push(au, frames);
    for (const frame of frames) push(frame, frame.timestamp * ratio + this.#audioOffset);
    frames.length = 0;
  }

  /** Hands the segmenter's output to the writer, in order; wall times are fixed now. */
  #drain(): void {
    const outputs = this.#pending.splice(0);
    const now = this.#ctx.now();
    const timed = outputs.map((output) => {
      if (output.type === "open") {
        if (!this.#events) return { output, wallMs: this.#clock.start(output.startTs, now) };
        // Events mode opens with pre-roll seconds old: the clock is tied by the newest picture.
        this.#clock.start(this.#lastVideoTs, now);
        return { output, wallMs: this.#clock.wall(output.startTs) };
      }
      if (output.type === "close") return { output, wallMs: this.#clock.wall(output.endTs) };
      this.#queuedBytes += output.bytes.length;
      return { output, wallMs: 0 };
    });
    if (this.#queuedBytes > MAX_QUEUED_BYTES && this.#failure === null) {
      this.#fail(new DiskTooSlowError(this.#camera.id, Math.round(this.#queuedBytes / 2 ** 20)));
    }
    this.#writing = this.#writing.then(async () => {
      for (const { output, wallMs } of timed) {
        if (this.#writeFailed) return;
        try {
          await this.#apply(output, wallMs);
        } catch (err) {
          this.#writeFailed = true;
          this.#fail(err);
        } finally {
          if (output.type === "fragment") this.#queuedBytes -= output.bytes.length;
        }
      }
    });
  }

  async #apply(output: SegmenterOutput, wallMs: number): Promise<void> {
    switch (output.type) {
      case "open": {
        const location = incomingFile(
          this.#ctx.dataDir,
          this.#camera.id,
          this.#runId,
          this.#files++,
        );
        const handle = await Deno.open(location, { write: true, create: true, truncate: true });
        this.#file = {
          handle,
          location,
          startMs: wallMs,
          width: output.width,
          height: output.height,
        };
        await writeAll(handle, output.init);
        this.#bytesWritten += output.init.length;
        if (!this.#started) {
          this.#started = true;
          this.#ctx.onRecording?.();
        }
        return;
      }
      case "fragment": {
        const file = this.#file;
        if (!file) return;
        await writeAll(file.handle, output.bytes);
        if (this.#spareBuffers.length < MAX_SPARE_BUFFERS) {
          this.#spareBuffers.push(new Uint8Array(output.bytes.buffer));
        }
        // On the SSD before the next fragment: a power cut loses about one fragment (1 s).
        await file.handle.syncData();
        this.#bytesWritten += output.bytes.length;
        return;
      }
      case "close": {
        const file = this.#file;
        if (!file) return;
        this.#file = null;
        file.handle.close();
        const done = await finishSegment(
          this.#camera,
          this.#ctx,
          file.location,
          { startMs: file.startMs, endMs: wallMs },
          file,
          output.frames,
        );
        this.#framesOut += done.frames;
        return;
      }
    }
  }

  #fragmentBuffer(size: number): Uint8Array {
    const spare = this.#spareBuffers;
    for (let i = 0; i < spare.length; i++) {
      if (spare[i]!.length >= size) return spare.splice(i, 1)[0]!;
    }
    return new Uint8Array(size + (size >> 1));
  }

  #fail(err: unknown): void {
    this.#failure ??= err;
    this.#stop.abort();
  }

  #sample(watchStall = true): void {
    const now = this.#ctx.now();
    const counters = this.#segmenter.counters;
    const size = this.#segmenter.size;
    // Events mode: the pictures received count (the segmenter sees them only around events).
    const received = this.#events?.pre.counters ?? counters;
    const stats = this.#meter.update({
      atMs: now,
      frames: received.framesIn,
      framesOut: this.#framesOut,
      keyframes: received.keyframes,
      bytes: this.#bytesWritten,
      packetsLost: this.#session.counters.packetsLost,
      droppedFrames: counters.dropped,
      width: size?.width ?? null,
      height: size?.height ?? null,
    });
    this.#ctx.onStats?.(stats);
    const foreign = this.#session.counters.foreign;
    if (foreign > this.#foreignLogged) {
      // Rare (an attack or a misconfigured host): once a second at most, with the running count.
      this.#ctx.log.warn("udp packets from another address than the camera dropped", {
        camera: this.#camera.id,
        dropped: foreign,
      });
      this.#foreignLogged = foreign;
    }
    const lost = this.#session.counters.packetsLost;
    if (lost > this.#lossLogged.count && now - this.#lossLogged.atMs >= LOSS_LOG_EVERY_MS) {
      // A lost packet damages a picture (counted in droppedFrames): over UDP mostly a receive
      // buffer too small for the recorder's busy moments (udp_buffer.ts), or the network.
      this.#ctx.log.warn("rtp packets lost", {
        camera: this.#camera.id,
        transport: this.#camera.transport,
        lost: lost - this.#lossLogged.count,
        total: lost,
      });
      this.#lossLogged = { count: lost, atMs: now };
    }
    if (
      watchStall && !this.#stop.signal.aborted && this.#meter.stalledForMs(now) > this.#ctx.stallMs
    ) {
      this.#fail(new CameraStallError(this.#camera.id, Math.round(this.#ctx.stallMs / 1000)));
    }
  }
}
