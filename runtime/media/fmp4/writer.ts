/**
 * Fragmented MP4 (ISO BMFF) writer for remuxing camera streams without GStreamer: an init segment
 * (ftyp + moov, parameter sets in avcC/hvcC) and media fragments (moof + mdat), the layout
 * MediaMTX writes and browsers, ffmpeg and GStreamer's qtdemux read. Video is track 1, AAC audio
 * track 2. A fragment is built in one buffer allocated at its exact size: NAL units are copied
 * once, straight into place behind their 4-byte length prefix.
 *
 * Samples hold no parameter sets or access unit delimiters (avc1/hvc1 keep parameter sets in the
 * sample entry): callers drop them, see parameterSetKind and isAccessUnitDelimiter in h26x.ts.
 * Samples are in decode order; a sample presented at another time than it is decoded (B-frames)
 * carries a signed composition offset (trun version 1, as CMAF writes it); a run without any
 * leaves the field out.
 * A change of parameter sets needs a new file with a new init segment.
 */

import type { VideoCodec } from "../codec/types.ts";
import { nalType, parseSps, type SpsInfo } from "../codec/h26x.ts";
import { concat } from "../../std/bytes/concat.ts";
import { TFHD, TRUN } from "./boxes.ts";

export interface VideoTrackConfig {
  readonly codec: VideoCodec;
  /** H.265 only, required there. */
  readonly vps?: Uint8Array;
  readonly sps: Uint8Array;
  readonly pps: Uint8Array;
  /** Ticks per second of sample durations and base times, normally 90000 (the RTP clock). */
  readonly timescale: number;
}

/** The audio track: AAC as the camera sent it, or Opus (from G.711, encoded by the recorder). */
export type AudioTrackConfig = AacTrackConfig | OpusTrackConfig;

export interface OpusTrackConfig {
  readonly codec: "opus";
  readonly channels: number;
  /** The rate the encoder was fed (dOps InputSampleRate; informative). */
  readonly inputSampleRate: number;
  /** Samples at 48 kHz the decoder drops at the start (dOps PreSkip). */
  readonly preSkip: number;
  /** Ticks per second: 48000, as the Opus-in-ISOBMFF spec recommends. */
  readonly timescale: number;
}

export interface AacTrackConfig {
  readonly codec: "aac";
  /** AudioSpecificConfig (ISO/IEC 14496-3), e.g. 2 bytes for AAC-LC. */
  readonly config: Uint8Array;
  readonly sampleRate: number;
  readonly channels: number;
  /** Ticks per second, normally the sample rate. */
  readonly timescale: number;
}

export interface VideoSample {
  /** The picture's NAL units without start codes or length prefixes. */
  readonly nals: readonly Uint8Array[];
  /** Ticks until the next picture. */
  readonly duration: number;
  readonly keyframe: boolean;
  /** Presentation time minus decode time, in ticks (may be negative); default 0. */
  readonly compositionOffset?: number;
}

export interface AudioSample {
  /** One raw AAC frame (no ADTS header) or one Opus packet. */
  readonly data: Uint8Array;
  readonly duration: number;
}

export interface VideoRun {
  /** Decode time of the first sample, in the video timescale (may exceed 2^32). */
  readonly baseTime: number;
  readonly samples: readonly VideoSample[];
}

export interface AudioRun {
  readonly baseTime: number;
  readonly samples: readonly AudioSample[];
}

export const VIDEO_TRACK_ID = 1;
export const AUDIO_TRACK_ID = 2;

/** Bad arguments to the writer (a programming error or a stream that cannot go into MP4). */
export class Fmp4WriteError extends Error {
  constructor(what: string) {
    super(`Cannot write fragmented MP4: ${what}.`);
    this.name = "Fmp4WriteError";
  }
}

// trun sample flags (ISO/IEC 14496-12 8.8.3.1): sample_depends_on = 2 (an I picture) for sync
// samples; sample_depends_on = 1 and sample_is_non_sync_sample for the others.
const SYNC_SAMPLE_FLAGS = 0x02000000;
const NON_SYNC_SAMPLE_FLAGS = 0x01010000;

// ---------------------------------------------------------------------------------------------
// Init segment: small and written once per file, so it is built from nested byte arrays.

const textEncoder = new TextEncoder();

function fourcc(type: string): Uint8Array {
  return textEncoder.encode(type);
}

function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const body = concat(payload);
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setUint32(0, out.length);
  out.set(fourcc(type), 4);
  out.set(body, 8);
  return out;
}

function fullBox(type: string, version: number, flags: number, ...payload: Uint8Array[]) {
  return box(type, u8(version), u24(flags), ...payload);
}

function u8(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function u16(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(i * 2, v));
  return out;
}

function u24(value: number): Uint8Array {
  return u8((value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
}

function u32(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0));
  return out;
}

function zeros(n: number): Uint8Array {
  return new Uint8Array(n);
}

const UNITY_MATRIX = u32(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000);
/** "und" as ISO 639-2/T packed into 15 bits. */
const LANGUAGE_UND = 0x55c4;

function checkTimescale(what: string, timescale: number): void {
  if (!Number.isInteger(timescale) || timescale < 1 || timescale > 0xffffffff) {
    throw new Fmp4WriteError(`${what} timescale ${timescale} is not an integer in 1..2^32-1`);
  }
}

/** ftyp + moov for a video track and an optional AAC track. Throws SpsParseError for a bad SPS. */
export function initSegment(video: VideoTrackConfig, audio?: AudioTrackConfig | null): Uint8Array {
  checkTimescale("video", video.timescale);
  if (audio) checkTimescale("audio", audio.timescale);
  const sps = parseSps(video.codec, video.sps);
  const ftyp = box(
    "ftyp",
    fourcc("iso5"),
    u32(512),
    fourcc("iso5"),
    fourcc("iso6"),
    fourcc("isom"),
    fourcc("mp41"),
    fourcc(video.codec === "h264" ? "avc1" : "hvc1"),
  );
  const traks = [videoTrak(video, sps)];
  const trexes = [trex(VIDEO_TRACK_ID)];
  if (audio) {
    traks.push(audioTrak(audio));
    trexes.push(trex(AUDIO_TRACK_ID));
  }
  const mvhd = fullBox(
    "mvhd",
    0,
    0,
    u32(0, 0, 1000, 0), // creation, modification, timescale, duration (unknown: fragmented)
    u32(0x00010000), // rate 1.0
    u16(0x0100), // volume 1.0
    zeros(10),
    UNITY_MATRIX,
    zeros(24), // pre_defined
    u32((audio ? AUDIO_TRACK_ID : VIDEO_TRACK_ID) + 1), // next_track_ID
  );
  const moov = box("moov", mvhd, ...traks, box("mvex", ...trexes));
  return concat([ftyp, moov]);
}

function trex(trackId: number): Uint8Array {
  // default sample description 1; durations, sizes and flags are always given in the trun/tfhd.
  return fullBox("trex", 0, 0, u32(trackId, 1, 0, 0, 0));
}

function tkhd(trackId: number, volume: number, width: number, height: number): Uint8Array {
  return fullBox(
    "tkhd",
    0,
    0x000003, // enabled, in movie
    u32(0, 0, trackId, 0, 0), // creation, modification, track_ID, reserved, duration
    zeros(8),
    u16(0, 0, volume, 0), // layer, alternate_group, volume, reserved
    UNITY_MATRIX,
    u32(width * 0x10000, height * 0x10000),
  );
}

function mdia(
  timescale: number,
  handler: string,
  name: string,
  header: Uint8Array,
  stsd: Uint8Array,
) {
  const mdhd = fullBox("mdhd", 0, 0, u32(0, 0, timescale, 0), u16(LANGUAGE_UND, 0));
  const hdlr = fullBox(
    "hdlr",
    0,
    0,
    u32(0),
    fourcc(handler),
    zeros(12),
    textEncoder.encode(name + "\0"),
  );
  const dinf = box("dinf", fullBox("dref", 0, 0, u32(1), fullBox("url ", 0, 1)));
  const stbl = box(
    "stbl",
    stsd,
    fullBox("stts", 0, 0, u32(0)),
    fullBox("stsc", 0, 0, u32(0)),
    fullBox("stsz", 0, 0, u32(0, 0)),
    fullBox("stco", 0, 0, u32(0)),
  );
  return box("mdia", mdhd, hdlr, box("minf", header, dinf, stbl));
}

function videoTrak(video: VideoTrackConfig, sps: SpsInfo): Uint8Array {
  const config = video.codec === "h264" ? avcC(video, sps) : hvcC(video, sps);
  const entry = box(
    video.codec === "h264" ? "avc1" : "hvc1",
    zeros(6),
    u16(1), // data_reference_index
    zeros(16), // pre_defined, reserved, pre_defined[3]
    u16(sps.width, sps.height),
    u32(0x00480000, 0x00480000, 0), // 72 dpi, 72 dpi, reserved
    u16(1), // frame_count
    zeros(32), // compressorname
    u16(0x0018, 0xffff), // depth, pre_defined = -1
    config,
  );
  const stsd = fullBox("stsd", 0, 0, u32(1), entry);
  const vmhd = fullBox("vmhd", 0, 1, zeros(8));
  return box(
    "trak",
    tkhd(VIDEO_TRACK_ID, 0, sps.width, sps.height),
    mdia(video.timescale, "vide", "VideoHandler", vmhd, stsd),
  );
}

function checkParameterSet(codec: VideoCodec, name: string, nal: Uint8Array, type: number) {
  if (nal.length < 2 || nal.length > 0xffff || nalType(codec, nal) !== type) {
    throw new Fmp4WriteError(
      `the ${name} (${nal.length} bytes, NAL type ${nalType(codec, nal)}) is not a ${codec} ` +
        `${name} of 2..65535 bytes`,
    );
  }
}

function avcC(video: VideoTrackConfig, sps: SpsInfo): Uint8Array {
  checkParameterSet("h264", "PPS", video.pps, 8);
  const parts = [
    u8(1, sps.profileIdc, sps.profileCompatibilityFlags, sps.levelIdc, 0xff, 0xe1),
    u16(video.sps.length),
    video.sps,
    u8(1),
    u16(video.pps.length),
    video.pps,
  ];
  if ([100, 110, 122, 144].includes(sps.profileIdc)) {
    parts.push(
      u8(
        0xfc | sps.chromaFormatIdc,
        0xf8 | (sps.bitDepthLuma - 8),
        0xf8 | (sps.bitDepthChroma - 8),
        0, // numOfSequenceParameterSetExt
      ),
    );
  }
  return box("avcC", ...parts);
}

function hvcC(video: VideoTrackConfig, sps: SpsInfo): Uint8Array {
  if (!video.vps) throw new Fmp4WriteError("an H.265 track needs its VPS");
  checkParameterSet("h265", "VPS", video.vps, 32);
  checkParameterSet("h265", "PPS", video.pps, 34);
  const array = (type: number, nal: Uint8Array) =>
    concat([u8(0x80 | type), u16(1, nal.length), nal]);
  return box(
    "hvcC",
    u8(1, (sps.profileSpace << 6) | (sps.tierFlag << 5) | sps.profileIdc),
    u32(sps.profileCompatibilityFlags),
    sps.constraintIndicatorFlags,
    u8(sps.levelIdc),
    u16(0xf000 | sps.minSpatialSegmentation),
    u8(
      0xfc | sps.parallelismType,
      0xfc | sps.chromaFormatIdc,
      0xf8 | (sps.bitDepthLuma - 8),
      0xf8 | (sps.bitDepthChroma - 8),
    ),
    u16(0), // avgFrameRate: unspecified
    // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3
    u8((sps.maxSubLayers << 3) | (sps.temporalIdNesting ? 0x04 : 0) | 0x03),
    u8(3), // numOfArrays
    array(32, video.vps),
    array(33, video.sps),
    array(34, video.pps),
  );
}

function audioTrak(audio: AudioTrackConfig): Uint8Array {
  if (!Number.isInteger(audio.channels) || audio.channels < 1 || audio.channels > 8) {
    throw new Fmp4WriteError(`${audio.channels} audio channels is not in 1..8`);
  }
  const entry = audio.codec === "opus" ? opusEntry(audio) : mp4aEntry(audio);
  const stsd = fullBox("stsd", 0, 0, u32(1), entry);
  const smhd = fullBox("smhd", 0, 0, u16(0, 0));
  return box(
    "trak",
    tkhd(AUDIO_TRACK_ID, 0x0100, 0, 0),
    mdia(audio.timescale, "soun", "SoundHandler", smhd, stsd),
  );
}

/**
 * The 'Opus' sample entry with its dOps box ("Encapsulation of Opus in ISO Base Media File
 * Format", 4.3): version 0, channel mapping family 0 (mono or stereo), output gain 0.
 */
function opusEntry(audio: OpusTrackConfig): Uint8Array {
  if (audio.channels > 2) throw new Fmp4WriteError(`Opus with ${audio.channels} channels`);
  const dOps = box(
    "dOps",
    u8(0, audio.channels),
    u16(audio.preSkip),
    u32(audio.inputSampleRate),
    u16(0), // OutputGain
    u8(0), // ChannelMappingFamily
  );
  return box(
    "Opus",
    zeros(6),
    u16(1), // data_reference_index
    zeros(8),
    u16(audio.channels, 16, 0, 0), // channelcount, samplesize, pre_defined, reserved
    u32(48000 * 0x10000), // samplerate: 48 kHz, whatever the input rate
    dOps,
  );
}

function mp4aEntry(audio: AacTrackConfig): Uint8Array {
  if (audio.config.length < 2 || audio.config.length > 64) {
    throw new Fmp4WriteError(
      `an AudioSpecificConfig of ${audio.config.length} bytes is not in 2..64`,
    );
  }
  const esds = fullBox(
    "esds",
    0,
    0,
    descriptor(
      0x03, // ES_Descriptor
      u16(AUDIO_TRACK_ID),
      u8(0), // no stream dependence, URL or OCR stream
      descriptor(
        0x04, // DecoderConfigDescriptor
        u8(0x40, 0x15), // MPEG-4 Audio; AudioStream, upStream 0, reserved 1
        u24(0), // bufferSizeDB
        u32(0, 0), // maxBitrate, avgBitrate: unknown
        descriptor(0x05, audio.config), // DecoderSpecificInfo
      ),
      descriptor(0x06, u8(0x02)), // SLConfigDescriptor: predefined MP4
    ),
  );
  return box(
    "mp4a",
    zeros(6),
    u16(1), // data_reference_index
    zeros(8),
    u16(audio.channels, 16, 0, 0), // channelcount, samplesize, pre_defined, reserved
    // samplerate is 16.16 fixed point; rates above 65535 do not fit and are left to the esds.
    u32(audio.sampleRate <= 0xffff ? audio.sampleRate * 0x10000 : 0),
    esds,
  );
}

/** An MPEG-4 descriptor with its size in the 4-byte expandable form, as ffmpeg writes it. */
function descriptor(tag: number, ...payload: Uint8Array[]): Uint8Array {
  const body = concat(payload);
  const n = body.length;
  return concat([
    u8(
      tag,
      0x80 | ((n >> 21) & 0x7f),
      0x80 | ((n >> 14) & 0x7f),
      0x80 | ((n >> 7) & 0x7f),
      n & 0x7f,
    ),
    body,
  ]);
}

// ---------------------------------------------------------------------------------------------
// Media fragments: written on every fragment, so sizes are computed first and everything goes
// into one buffer through one DataView.

const MFHD_SIZE = 16;
const TFHD_SIZE = 16; // + 4 with default-sample-flags
const TFDT_SIZE = 20; // version 1
const TRUN_HEADER_SIZE = 20; // box header, version/flags, sample_count, data_offset
const VIDEO_TRUN_ENTRY = 12; // duration, size, flags
const CTO_ENTRY = 4; // + sample_composition_time_offset
const AUDIO_TRUN_ENTRY = 8; // duration, size
const MAX_U32 = 0xffffffff;

function checkRun(what: string, baseTime: number, count: number): void {
  if (!Number.isSafeInteger(baseTime) || baseTime < 0) {
    throw new Fmp4WriteError(`the ${what} base time ${baseTime} is not a non-negative integer`);
  }
  if (count > 0x100000) throw new Fmp4WriteError(`${count} ${what} samples in one fragment`);
}

function checkDuration(what: string, duration: number): void {
  if (!(Number.isInteger(duration) && duration >= 0 && duration <= MAX_U32)) {
    throw new Fmp4WriteError(
      `the ${what} sample duration ${duration} is not an integer in 0..2^32-1`,
    );
  }
}

function videoSampleSize(sample: VideoSample): number {
  let size = 0;
  const nals = sample.nals;
  for (let i = 0; i < nals.length; i++) size += 4 + nals[i]!.length;
  return size;
}

/**
 * One moof + mdat: `sequence` is the fragment's number (1, 2, … within a file), base times are
 * decode times of each run's first sample in its track's timescale. A run may be empty (a
 * fragment of audio only), not both. The result is a single buffer of exactly its size: a new one,
 * or the front of what `buffer(size)` gives when that is passed (a recorder reuses its buffers).
 */
export function mediaFragment(
  sequence: number,
  video: VideoRun,
  audio?: AudioRun | null,
  buffer?: (size: number) => Uint8Array,
): Uint8Array {
  if (!Number.isInteger(sequence) || sequence < 0 || sequence > MAX_U32) {
    throw new Fmp4WriteError(`the fragment sequence number ${sequence} is not in 0..2^32-1`);
  }
  const vSamples = video.samples;
  const aSamples = audio?.samples ?? [];
  const vCount = vSamples.length;
  const aCount = aSamples.length;
  checkRun("video", video.baseTime, vCount);
  if (audio) checkRun("audio", audio.baseTime, aCount);
  if (vCount === 0 && aCount === 0) {
    throw new Fmp4WriteError("a fragment needs at least one sample");
  }

  // Pass 1: sizes.
  let videoBytes = 0;
  let withOffsets = false;
  for (let i = 0; i < vCount; i++) {
    const s = vSamples[i]!;
    checkDuration("video", s.duration);
    videoBytes += videoSampleSize(s);
    const cto = s.compositionOffset ?? 0;
    if (cto !== 0) {
      if (!Number.isInteger(cto) || cto < -0x80000000 || cto > 0x7fffffff) {
        throw new Fmp4WriteError(`the composition offset ${cto} is not a 32-bit signed integer`);
      }
      withOffsets = true;
    }
  }
  const videoEntry = VIDEO_TRUN_ENTRY + (withOffsets ? CTO_ENTRY : 0);
  let audioBytes = 0;
  for (let i = 0; i < aCount; i++) {
    const s = aSamples[i]!;
    checkDuration("audio", s.duration);
    audioBytes += s.data.length;
  }
  const videoTraf = vCount === 0
    ? 0
    : 8 + TFHD_SIZE + TFDT_SIZE + TRUN_HEADER_SIZE + videoEntry * vCount;
  const audioTraf = aCount === 0
    ? 0
    : 8 + TFHD_SIZE + 4 + TFDT_SIZE + TRUN_HEADER_SIZE + AUDIO_TRUN_ENTRY * aCount;
  const moofSize = 8 + MFHD_SIZE + videoTraf + audioTraf;
  const mdatSize = 8 + videoBytes + audioBytes;
  if (mdatSize > MAX_U32) throw new Fmp4WriteError(`a fragment of ${mdatSize} bytes is too big`);

  // Pass 2: write.
  const total = moofSize + mdatSize;
  const given = buffer?.(total);
  const out = given && given.length >= total ? given.subarray(0, total) : new Uint8Array(total);
  const view = new DataView(out.buffer, out.byteOffset, total);
  let p = 0;
  const header = (size: number, a: number, b: number, c: number, d: number) => {
    view.setUint32(p, size);
    out[p + 4] = a;
    out[p + 5] = b;
    out[p + 6] = c;
    out[p + 7] = d;
    p += 8;
  };
  const tfdt = (baseTime: number) => {
    header(TFDT_SIZE, 0x74, 0x66, 0x64, 0x74);
    view.setUint32(p, 0x01000000); // version 1: 64-bit baseMediaDecodeTime
    view.setUint32(p + 4, Math.floor(baseTime / 0x100000000));
    view.setUint32(p + 8, baseTime >>> 0);
    p += 12;
  };
  // 'moof' 'mfhd' 'traf' 'tfhd' 'tfdt' 'trun' 'mdat'
  header(moofSize, 0x6d, 0x6f, 0x6f, 0x66);
  header(MFHD_SIZE, 0x6d, 0x66, 0x68, 0x64);
  view.setUint32(p, 0);
  view.setUint32(p + 4, sequence);
  p += 8;

  let mdatAt = moofSize + 8; // where the next sample's bytes go
  if (vCount > 0) {
    header(videoTraf, 0x74, 0x72, 0x61, 0x66);
    header(TFHD_SIZE, 0x74, 0x66, 0x68, 0x64);
    view.setUint32(p, TFHD.DEFAULT_BASE_IS_MOOF);
    view.setUint32(p + 4, VIDEO_TRACK_ID);
    p += 8;
    tfdt(video.baseTime);
    header(TRUN_HEADER_SIZE + videoEntry * vCount, 0x74, 0x72, 0x75, 0x6e);
    const trFlags = TRUN.DATA_OFFSET | TRUN.DURATION | TRUN.SIZE | TRUN.FLAGS;
    // Version 1: signed offsets (a B-frame decoded after the picture it is shown before).
    view.setUint32(p, withOffsets ? 0x01000000 | TRUN.COMPOSITION_OFFSET | trFlags : trFlags);
    view.setUint32(p + 4, vCount);
    view.setUint32(p + 8, mdatAt);
    p += 12;
    for (let i = 0; i < vCount; i++) {
      const s = vSamples[i]!;
      const nals = s.nals;
      const start = mdatAt;
      for (let j = 0; j < nals.length; j++) {
        const nal = nals[j]!;
        view.setUint32(mdatAt, nal.length);
        out.set(nal, mdatAt + 4);
        mdatAt += 4 + nal.length;
      }
      view.setUint32(p, s.duration);
      view.setUint32(p + 4, mdatAt - start);
      view.setUint32(p + 8, s.keyframe ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS);
      if (withOffsets) view.setInt32(p + 12, s.compositionOffset ?? 0);
      p += videoEntry;
    }
  }
  if (aCount > 0 && audio) {
    header(audioTraf, 0x74, 0x72, 0x61, 0x66);
    header(TFHD_SIZE + 4, 0x74, 0x66, 0x68, 0x64);
    view.setUint32(p, TFHD.DEFAULT_BASE_IS_MOOF | TFHD.DEFAULT_FLAGS);
    view.setUint32(p + 4, AUDIO_TRACK_ID);
    view.setUint32(p + 8, SYNC_SAMPLE_FLAGS);
    p += 12;
    tfdt(audio.baseTime);
    header(TRUN_HEADER_SIZE + AUDIO_TRUN_ENTRY * aCount, 0x74, 0x72, 0x75, 0x6e);
    view.setUint32(p, TRUN.DATA_OFFSET | TRUN.DURATION | TRUN.SIZE);
    view.setUint32(p + 4, aCount);
    view.setUint32(p + 8, mdatAt);
    p += 12;
    for (let i = 0; i < aCount; i++) {
      const s = aSamples[i]!;
      out.set(s.data, mdatAt);
      mdatAt += s.data.length;
      view.setUint32(p, s.duration);
      view.setUint32(p + 4, s.data.length);
      p += 8;
    }
  }
  header(mdatSize, 0x6d, 0x64, 0x61, 0x74);
  return out;
}
