/**
 * Turns a camera's access units into segment files, without GStreamer: pure logic, no I/O.
 *
 * Segments start on a keyframe and are cut at the first keyframe at or after the segment length,
 * so each segment begins decodable and the next one starts exactly where the previous ended (the
 * cut keyframe's timestamp is both). Inside a segment, a fragment (moof+mdat) is written about
 * once a second whatever the GOP length, so a crash or power cut loses about a second.
 *
 * Timing comes from the RTP timestamps, which are presentation times. Pictures arrive in decode
 * order; with B-frames that is not presentation order. Decode times are the presentation times
 * sorted (the n-th picture decoded gets the n-th smallest timestamp), taken from a small window
 * of pictures not yet written (one picture, four once a B-frame was seen: how far cameras
 * reorder); a sample lasts until the next decode time, and its presentation time is written as a
 * signed composition offset (trun version 1, the CMAF layout: a segment's first keyframe has
 * decode time = presentation time = the segment's start). MediaMTX derives decode times from the
 * slice headers' picture order counts instead; sorting needs no slice parsing and gives the same
 * times for every stream whose reordering fits the window. Parameter sets (from the SDP or in-band) go to the
 * init segment, not the samples; new ones (a resolution change inside the session) start a new
 * segment at once. Pictures sent in several pieces with one timestamp are joined. A damaged
 * picture (lost packet) and every picture after it up to the next keyframe are dropped and
 * counted: they would decode as garbage. A timestamp that jumps ahead more than MAX_STEP_S, or
 * back more than MAX_REORDER_S, ends the segment; the next starts at the next keyframe.
 */
import {
  type AudioSample,
  initSegment,
  mediaFragment,
  type VideoSample,
  type VideoTrackConfig,
} from "./writer.ts";
import { isAccessUnitDelimiter, isSliceNal, parameterSetKind, parseSps } from "../codec/h26x.ts";
import type { AudioAccessUnit, VideoAccessUnit, VideoCodec } from "../codec/types.ts";
import type { ByteArena } from "../rtp/byte_arena.ts";

/** A forward step between pictures longer than this is a discontinuity, not a long frame. */
const MAX_STEP_S = 5;
/** A timestamp further back than this is a new timeline, not a B-frame. */
const MAX_REORDER_S = 1;
/** Pictures held back to sort presentation times into decode times once B-frames were seen. */
const REORDER_DEPTH = 4;
/** A cut keyframe up to this much early still ends the segment (timestamp rounding). */
const CUT_SLACK_S = 0.05;
/** Length of an AAC frame in samples. */
const AAC_FRAME = 1024;
/** Opus frames from the recorder's encoder: 20 ms, in the 48 kHz timescale. */
const OPUS_FRAME = 960;
/**
 * Most bytes of a GOP kept for snapshots: 8 MiB is 16 s at 4 Mbit/s; a longer GOP shows its last
 * picture within that.
 */
const GOP_LIMIT = 8 * 1024 * 1024;
const START_CODE = new Uint8Array([0, 0, 0, 1]);

/** AAC as the camera sends it, or Opus frames of 20 ms (G.711 encoded by the recorder). */
export type SegmenterAudio =
  | {
    readonly codec?: "aac";
    readonly config: Uint8Array;
    readonly sampleRate: number;
    readonly channels: number;
  }
  | {
    readonly codec: "opus";
    readonly channels: number;
    /** The rate the encoder was fed. */
    readonly inputSampleRate: number;
    /** dOps PreSkip: samples at 48 kHz. */
    readonly preSkip: number;
  };

export interface SegmenterOptions {
  readonly codec: VideoCodec;
  /** Video RTP clock, 90 000 Hz for H.264/H.265. */
  readonly clockRate: number;
  readonly segmentSeconds: number;
  /** Target fragment length; default 1 s. */
  readonly fragmentSeconds?: number;
  /** Parameter sets known before the first picture (the SDP's sprop-*), in any order. */
  readonly parameterSets?: readonly Uint8Array[];
  /** Audio recorded with the video, or null. */
  readonly audio?: SegmenterAudio | null;
  /** Where the pictures' NAL units live: released here once they are in a fragment. */
  readonly arena?: ByteArena;
  /** Gives a buffer of at least `size` bytes for the next fragment (reuse); default: new ones. */
  readonly fragmentBuffer?: (size: number) => Uint8Array;
}

/** What the caller must do, in order. Timestamps are the video's extended RTP timestamps. */
export type SegmenterOutput =
  | {
    readonly type: "open";
    readonly init: Uint8Array;
    readonly startTs: number;
    readonly width: number;
    readonly height: number;
  }
  | { readonly type: "fragment"; readonly bytes: Uint8Array; readonly frames: number }
  | { readonly type: "close"; readonly endTs: number; readonly frames: number };

export interface SegmenterCounters {
  /** Pictures received. */
  framesIn: number;
  keyframes: number;
  /** Pictures dropped: damaged, depending on a damaged one, or with a bad timestamp. */
  dropped: number;
  /** Pictures before the first usable keyframe of this run (not decodable alone; not kept). */
  skipped: number;
  /**
   * Pictures whose timestamp is a little before an earlier one's: sent in decode order with
   * presentation timestamps, i.e. B-frames (written with composition offsets).
   */
  reordered: number;
}

interface ParameterSets {
  vps: Uint8Array | null;
  sps: Uint8Array | null;
  pps: Uint8Array | null;
}

/** A picture received and not yet written: its decode time is not known yet. */
interface Picture {
  readonly nals: Uint8Array[];
  /** Presentation time (the RTP timestamp). */
  readonly pts: number;
  keyframe: boolean;
  /** The parameter sets in force when it arrived. */
  readonly params: ParameterSets;
}

interface OpenSegment {
  readonly startTs: number;
  readonly params: ParameterSets;
  sequence: number;
  frames: number;
  fragmentStartTs: number;
  samples: VideoSample[];
  /** Decode time of the next audio sample, in the audio clock, from the segment's start. */
  audioNextTime: number | null;
}

export class Fmp4Segmenter {
  readonly counters: SegmenterCounters = {
    framesIn: 0,
    keyframes: 0,
    dropped: 0,
    skipped: 0,
    reordered: 0,
  };
  readonly #options: SegmenterOptions;
  readonly #segmentTicks: number;
  readonly #fragmentTicks: number;
  /** Replaced, never changed, when a new parameter set arrives (pictures keep theirs). */
  #params: ParameterSets = { vps: null, sps: null, pps: null };
  #segment: OpenSegment | null = null;
  /** Pictures received, in decode order, not yet written; the last may still get slices. */
  readonly #window: Picture[] = [];
  /** The window's presentation times, ascending: the next decode times. */
  readonly #pool: number[] = [];
  /** Pictures kept in the window: 1, REORDER_DEPTH once pictures came out of order. */
  #depth = 1;
  /** The latest presentation time of this timeline, -Infinity before the first picture. */
  #maxPts = -Infinity;
  /** Decode time of the next sample of the open segment (where the last one ended). */
  #nextDts = 0;
  #lastDuration: number;
  #waitForKeyframe = false;
  #everOpened = false;
  /** NAL units that came without a slice, waiting for the picture they precede. */
  readonly #prefix: Uint8Array[] = [];
  /** Audio frames waiting for their fragment, with their place on the video timeline. */
  #audio: { data: Uint8Array; videoTs: number }[] = [];
  /**
   * The pictures written since the latest keyframe, as Annex B with its parameter sets (a reused
   * buffer): what a snapshot decodes to show the latest picture, not a keyframe seconds old.
   */
  #gop = new Uint8Array(0);
  #gopBytes = 0;
  /** The GOP outgrew GOP_LIMIT: pictures are no longer added until the next keyframe. */
  #gopFull = false;
  #flushed = false;
  #size: { width: number; height: number } | null = null;

  constructor(options: SegmenterOptions) {
    this.#options = options;
    this.#segmentTicks = options.segmentSeconds * options.clockRate;
    this.#fragmentTicks = (options.fragmentSeconds ?? 1) * options.clockRate;
    this.#lastDuration = Math.round(options.clockRate / 15);
    for (const nal of options.parameterSets ?? []) this.#takeParameterSet(nal);
  }

  /** Width and height of the open segment's video (from its SPS), null before the first. */
  get size(): { width: number; height: number } | null {
    return this.#size;
  }

  /** True while a segment is open. */
  get recording(): boolean {
    return this.#segment !== null;
  }

  /**
   * The latest keyframe and every picture written after it (up to GOP_LIMIT bytes), as an
   * Annex B byte stream with its parameter sets (a copy), or null before the first keyframe.
   * Decoded to the end it gives the latest picture.
   */
  latestPictures(): Uint8Array | null {
    return this.#gopBytes === 0 ? null : this.#gop.slice(0, this.#gopBytes);
  }

  /** True once a keyframe was written (latestPictures() gives something). */
  get hasKeyframe(): boolean {
    return this.#gopBytes > 0;
  }

  /** Takes one picture; appends what to write to `out`. */
  pushVideo(au: VideoAccessUnit, out: SegmenterOutput[]): void {
    const counters = this.counters;
    const nals: Uint8Array[] = [];
    for (const nal of au.nals) {
      if (nal.length === 0 || isAccessUnitDelimiter(this.#options.codec, nal)) continue;
      if (parameterSetKind(this.#options.codec, nal) !== null) {
        this.#takeParameterSet(nal);
        continue;
      }
      nals.push(nal);
    }
    if (nals.length === 0) return; // parameter sets alone: not a picture
    if (!nals.some((n) => isSliceNal(this.#options.codec, n))) {
      // SEI and the like without a slice: they belong to the next picture.
      this.#prefix.push(...nals);
      if (this.#prefix.length > 64) this.#prefix.splice(0, this.#prefix.length - 64);
      return;
    }
    if (this.#prefix.length > 0) nals.unshift(...this.#prefix.splice(0));
    const last = this.#window.at(-1);
    if (last && au.timestamp === last.pts && !this.#waitForKeyframe) {
      // The same picture's next slices, sent after a marker bit (some cameras mark every slice).
      if (au.damaged) {
        this.#window.pop();
        this.#pool.splice(this.#pool.lastIndexOf(last.pts), 1);
        this.#waitForKeyframe = true;
        counters.dropped++;
        return;
      }
      last.nals.push(...nals);
      last.keyframe ||= au.keyframe;
      return;
    }
    counters.framesIn++;
    if (au.keyframe) counters.keyframes++;
    if (au.damaged) this.#waitForKeyframe = true;
    else if (au.keyframe) this.#waitForKeyframe = false;
    if (this.#waitForKeyframe) {
      if (this.#everOpened) counters.dropped++;
      else counters.skipped++;
      return;
    }
    const pts = au.timestamp;
    const clock = this.#options.clockRate;
    if (this.#maxPts !== -Infinity) {
      if (pts - this.#maxPts > MAX_STEP_S * clock || this.#maxPts - pts > MAX_REORDER_S * clock) {
        // Timestamps jumped or went back: end here, start again at a keyframe.
        this.#drainWindow(out);
        if (!au.keyframe) {
          this.#waitForKeyframe = true;
          counters.dropped++;
          return;
        }
      } else if (pts < this.#maxPts) {
        counters.reordered++;
        this.#depth = REORDER_DEPTH;
      }
    }
    if (this.#segment && pts < this.#nextDts) this.#retimeLast(this.#segment, pts);
    this.#maxPts = Math.max(this.#maxPts, pts);
    this.#window.push({ nals, pts, keyframe: au.keyframe, params: this.#params });
    insertSorted(this.#pool, pts);
    while (this.#window.length > this.#depth) this.#place(this.#window.shift()!, out);
    this.#release();
  }

  /**
   * Writes the oldest picture of the window: its decode time is the smallest presentation time
   * left (within a segment, where the previous sample ended), it lasts until the next one.
   */
  #place(picture: Picture, out: SegmenterOutput[]): void {
    const sorted = this.#pool.shift()!;
    let segment = this.#segment;
    if (
      segment && picture.keyframe &&
      (!sameParams(segment.params, picture.params) ||
        sorted - segment.startTs >=
          this.#segmentTicks - CUT_SLACK_S * this.#options.clockRate)
    ) {
      this.#close(segment, this.#nextDts, out);
      segment = null;
    }
    if (!segment) {
      if (!picture.keyframe || !haveParams(this.#options.codec, picture.params)) {
        if (this.#everOpened) this.counters.dropped++;
        else this.counters.skipped++;
        return;
      }
      segment = this.#open(sorted, picture.params, out);
      this.#nextDts = sorted;
    }
    const dts = this.#nextDts;
    const next = this.#pool[0];
    const duration = next === undefined ? this.#lastDuration : Math.max(1, next - dts);
    this.#lastDuration = duration;
    this.#keepPicture(segment.params, picture.nals, picture.keyframe);
    segment.samples.push({
      nals: picture.nals,
      duration,
      keyframe: picture.keyframe,
      compositionOffset: picture.pts - dts,
    });
    this.#nextDts = dts + duration;
    if (this.#nextDts - segment.fragmentStartTs >= this.#fragmentTicks) {
      this.#flush(segment, this.#nextDts, out);
    }
  }

  /**
   * A picture shown before the next decode time (the first B-frame, while the window held one
   * picture): the last sample written, when still in memory, ends at `pts` instead.
   */
  #retimeLast(segment: OpenSegment, pts: number): void {
    const last = segment.samples.at(-1);
    if (!last) return;
    const dts = this.#nextDts - last.duration;
    const end = Math.max(dts + 1, pts);
    segment.samples[segment.samples.length - 1] = { ...last, duration: end - dts };
    this.#nextDts = end;
  }

  /** Writes every picture of the window and ends the open segment (a new timeline follows). */
  #drainWindow(out: SegmenterOutput[]): void {
    while (this.#window.length > 0) this.#place(this.#window.shift()!, out);
    const segment = this.#segment;
    if (segment) this.#close(segment, this.#nextDts, out);
    this.#pool.length = 0;
    this.#maxPts = -Infinity;
  }

  /** After a fragment took pictures: their arena chunks go back (the held picture stays). */
  #release(): void {
    if (!this.#flushed) return;
    this.#flushed = false;
    this.#options.arena?.releaseBefore(this.#window[0]?.nals[0] ?? null);
  }

  /**
   * Takes one audio frame placed on the video timeline at `videoTs` (the caller maps the audio
   * clock to the video clock). Frames before the open segment are dropped.
   */
  pushAudio(au: AudioAccessUnit, videoTs: number): void {
    if (!this.#options.audio) return;
    this.#audio.push({ data: au.data, videoTs });
    if (this.#audio.length > 2_000) this.#audio.shift(); // audio with no video: keep it bounded
  }

  /** Ends the open segment (the last picture lasts as long as the one before). */
  finish(out: SegmenterOutput[]): void {
    this.#drainWindow(out);
    this.#release();
  }

  #flush(segment: OpenSegment, endTs: number, out: SegmenterOutput[]): void {
    if (segment.samples.length === 0) return;
    const audio = this.#audioFor(segment, endTs);
    const bytes = mediaFragment(
      segment.sequence++,
      { baseTime: segment.fragmentStartTs - segment.startTs, samples: segment.samples },
      audio,
      this.#options.fragmentBuffer,
    );
    this.#flushed = true;
    const frames = segment.samples.length;
    segment.frames += frames;
    segment.samples = [];
    segment.fragmentStartTs = endTs;
    out.push({ type: "fragment", bytes, frames });
  }

  /** The audio frames that belong before `endTs`, as one run of samples. */
  #audioFor(
    segment: OpenSegment,
    endTs: number,
  ): { baseTime: number; samples: AudioSample[] } | null {
    const audio = this.#options.audio;
    if (!audio) return null;
    const opus = audio.codec === "opus";
    const timescale = opus ? 48000 : audio.sampleRate;
    const frameTicks = opus ? OPUS_FRAME : AAC_FRAME;
    const samples: AudioSample[] = [];
    let baseTime = segment.audioNextTime;
    let taken = 0;
    for (const frame of this.#audio) {
      if (frame.videoTs >= endTs) break;
      taken++;
      if (frame.videoTs < segment.startTs) continue;
      if (baseTime === null) {
        baseTime = Math.round(
          (frame.videoTs - segment.startTs) * timescale / this.#options.clockRate,
        );
      }
      samples.push({ data: frame.data, duration: frameTicks });
    }
    this.#audio.splice(0, taken);
    if (samples.length === 0 || baseTime === null) return null;
    segment.audioNextTime = baseTime + samples.length * frameTicks;
    return { baseTime, samples };
  }

  #open(startTs: number, params: ParameterSets, out: SegmenterOutput[]): OpenSegment {
    const sps = params.sps as Uint8Array;
    const { width, height } = parseSps(this.#options.codec, sps);
    const video: VideoTrackConfig = {
      codec: this.#options.codec,
      ...(params.vps ? { vps: params.vps } : {}),
      sps,
      pps: params.pps as Uint8Array,
      timescale: this.#options.clockRate,
    };
    const audio = this.#options.audio;
    const init = initSegment(
      video,
      !audio
        ? null
        : audio.codec === "opus"
        ? { ...audio, timescale: 48000 }
        : { ...audio, codec: "aac", timescale: audio.sampleRate },
    );
    const segment: OpenSegment = {
      startTs,
      params,
      sequence: 1,
      frames: 0,
      fragmentStartTs: startTs,
      samples: [],
      audioNextTime: null,
    };
    this.#segment = segment;
    this.#size = { width, height };
    this.#everOpened = true;
    out.push({ type: "open", init, startTs, width, height });
    return segment;
  }

  #close(segment: OpenSegment, endTs: number, out: SegmenterOutput[]): void {
    this.#flush(segment, endTs, out);
    this.#segment = null;
    out.push({ type: "close", endTs, frames: segment.frames });
  }

  /**
   * Copies a picture out of the arena for snapshots: a keyframe starts the buffer again (with the
   * parameter sets), later pictures are appended. The buffer is reused from GOP to GOP.
   */
  #keepPicture(params: ParameterSets, nals: readonly Uint8Array[], keyframe: boolean): void {
    if (!keyframe && (this.#gopBytes === 0 || this.#gopFull)) return;
    const parts = keyframe ? [params.vps, params.sps, params.pps, ...nals] : nals;
    let size = 0;
    for (const part of parts) if (part) size += 4 + part.length;
    const at0 = keyframe ? 0 : this.#gopBytes;
    const need = at0 + size;
    if (!keyframe && need > GOP_LIMIT) {
      this.#gopFull = true;
      return;
    }
    if (this.#gop.length < need) {
      const grown = new Uint8Array(Math.max(need, Math.min(GOP_LIMIT, need * 2)));
      grown.set(this.#gop.subarray(0, at0));
      this.#gop = grown;
    }
    let at = at0;
    for (const part of parts) {
      if (!part) continue;
      this.#gop.set(START_CODE, at);
      this.#gop.set(part, at + 4);
      at += 4 + part.length;
    }
    this.#gopBytes = at;
    if (keyframe) this.#gopFull = false;
  }

  /** Keeps a parameter set (a copy: the arena's bytes are reused). */
  #takeParameterSet(nal: Uint8Array): void {
    const kind = parameterSetKind(this.#options.codec, nal);
    if (kind === null) return;
    const before = this.#params[kind];
    if (!before || !equalBytes(before, nal)) {
      this.#params = { ...this.#params, [kind]: nal.slice() };
    }
  }
}

/** A complete set whose SPS parses: a segment can be opened with it. */
function haveParams(codec: VideoCodec, p: ParameterSets): boolean {
  if (!p.sps || !p.pps || (codec === "h265" && !p.vps)) return false;
  try {
    parseSps(codec, p.sps);
    return true;
  } catch {
    return false;
  }
}

/** Inserts into an ascending array (a few elements: a linear scan from the end). */
function insertSorted(values: number[], value: number): void {
  let i = values.length;
  while (i > 0 && values[i - 1]! > value) i--;
  values.splice(i, 0, value);
}

function sameParams(a: ParameterSets, b: ParameterSets): boolean {
  return equalOrNull(a.vps, b.vps) && equalOrNull(a.sps, b.sps) && equalOrNull(a.pps, b.pps);
}

function equalOrNull(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === b || (a !== null && b !== null && equalBytes(a, b));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
