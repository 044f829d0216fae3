/**
 * Test helper: real H.264/H.265 byte streams from GStreamer's x264/x265 encoders and real AAC from
 * ffmpeg, cut into access units and raw AAC frames the way the RTSP client hands them over.
 */

import { runCommand } from "./ffmpeg.ts";
import {
  isAccessUnitDelimiter,
  isFirstSliceOfPicture,
  isKeyframeNal,
  isSliceNal,
  nalType,
  splitAnnexB,
} from "../media/codec/h26x.ts";
import type { VideoCodec } from "../media/codec/types.ts";
import { AAC_SAMPLE_RATES } from "../media/rtp/rtp_aac.ts";

export interface EncodeOptions {
  readonly width: number;
  readonly height: number;
  readonly frames: number;
  /** Frames per second and keyframe interval; 15 by default. */
  readonly fps?: number;
  /** videotestsrc's pattern ("ball" moves: every picture differs); its default by default. */
  readonly pattern?: string;
}

/** Encodes a test pattern into an Annex B byte stream (one keyframe every `fps` frames). */
export async function encodeTestStream(
  dir: string,
  codec: VideoCodec,
  options: EncodeOptions,
): Promise<Uint8Array> {
  const fps = options.fps ?? 15;
  const pattern = options.pattern ? ` pattern=${options.pattern}` : "";
  const out = `${dir}/${codec}_${options.width}x${options.height}_${options.frames}` +
    `${options.pattern ?? ""}.${codec}`;
  const encoder = codec === "h264"
    ? `x264enc key-int-max=${fps} tune=zerolatency speed-preset=ultrafast ! video/x-h264,stream-format=byte-stream`
    : `x265enc key-int-max=${fps} tune=zerolatency speed-preset=ultrafast ! video/x-h265,stream-format=byte-stream`;
  const description =
    `videotestsrc num-buffers=${options.frames}${pattern} ! video/x-raw,format=I420,width=${options.width},height=${options.height},framerate=${fps}/1 ! ${encoder} ! filesink location=${out}`;
  const result = await runCommand("gst-launch-1.0", ["-q", ...description.split(" ")], 30_000);
  if (result.code !== 0) throw new Error(`gst-launch-1.0 ${description}: ${result.stderr}`);
  return await Deno.readFile(out);
}

export interface AccessUnit {
  readonly nals: Uint8Array[];
  readonly keyframe: boolean;
}

/** NAL types that open a new access unit when they follow a picture's slices. */
function startsAccessUnit(codec: VideoCodec, nal: Uint8Array): boolean {
  const t = nalType(codec, nal);
  if (codec === "h264") return t === 6 || t === 7 || t === 8 || t === 9 || (t >= 14 && t <= 18);
  return (t >= 32 && t <= 35) || t === 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55);
}

/** Groups an Annex B stream's NAL units into access units (ITU-T H.264 7.4.1.2.3, H.265 7.4.2.4.4). */
export function accessUnits(codec: VideoCodec, stream: Uint8Array): AccessUnit[] {
  const units: AccessUnit[] = [];
  let nals: Uint8Array[] = [];
  let sawSlice = false;
  const flush = () => {
    if (nals.length > 0) {
      units.push({ nals, keyframe: nals.some((n) => isKeyframeNal(codec, n)) });
    }
    nals = [];
    sawSlice = false;
  };
  for (const nal of splitAnnexB(stream)) {
    if (
      isAccessUnitDelimiter(codec, nal) ||
      (sawSlice && (startsAccessUnit(codec, nal) || isFirstSliceOfPicture(codec, nal)))
    ) {
      flush();
    }
    nals.push(nal);
    if (isSliceNal(codec, nal)) sawSlice = true;
  }
  flush();
  return units;
}

export interface AacStream {
  /** AudioSpecificConfig built from the ADTS header. */
  readonly config: Uint8Array;
  readonly sampleRate: number;
  readonly channels: number;
  /** Raw AAC frames, ADTS headers stripped (1024 samples each). */
  readonly frames: Uint8Array[];
}

/** A sine tone encoded by ffmpeg's AAC encoder as ADTS, split into raw frames. */
export async function encodeAac(
  dir: string,
  seconds: number,
  sampleRate: number,
): Promise<AacStream> {
  const out = `${dir}/sine_${sampleRate}.aac`;
  const result = await runCommand("ffmpeg", [
    "-v",
    "error",
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=440:sample_rate=${sampleRate}`,
    "-t",
    String(seconds),
    "-c:a",
    "aac",
    "-f",
    "adts",
    "-y",
    out,
  ], 30_000);
  if (result.code !== 0) throw new Error(`ffmpeg AAC encode: ${result.stderr}`);
  return parseAdts(await Deno.readFile(out));
}

/** Splits ADTS into raw frames and derives the AudioSpecificConfig from the first header. */
export function parseAdts(bytes: Uint8Array): AacStream {
  const frames: Uint8Array[] = [];
  let config: Uint8Array | null = null;
  let sampleRate = 0;
  let channels = 0;
  for (let at = 0; at + 7 <= bytes.length;) {
    if (bytes[at] !== 0xff || (bytes[at + 1]! & 0xf6) !== 0xf0) {
      throw new Error(`no ADTS sync at ${at}`);
    }
    const protectionAbsent = bytes[at + 1]! & 1;
    const profile = bytes[at + 2]! >> 6; // audio object type − 1
    const rateIndex = (bytes[at + 2]! >> 2) & 0x0f;
    const channelConfig = ((bytes[at + 2]! & 1) << 2) | (bytes[at + 3]! >> 6);
    const length = ((bytes[at + 3]! & 3) << 11) | (bytes[at + 4]! << 3) | (bytes[at + 5]! >> 5);
    const headerSize = protectionAbsent ? 7 : 9;
    if (length < headerSize || at + length > bytes.length) break;
    if (!config) {
      const objectType = profile + 1;
      config = Uint8Array.of(
        (objectType << 3) | (rateIndex >> 1),
        ((rateIndex & 1) << 7) | (channelConfig << 3),
      );
      sampleRate = AAC_SAMPLE_RATES[rateIndex] ?? 0;
      channels = channelConfig;
    }
    frames.push(bytes.subarray(at + headerSize, at + length));
    at += length;
  }
  if (!config) throw new Error("no ADTS frame found");
  return { config, sampleRate, channels, frames };
}
