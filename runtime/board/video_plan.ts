/**
 * The per-camera video plan: given what the camera sends and what the board can do, record H.265
 * as it comes, or decode and encode with the best element that is really there. Pure: the board
 * profile and the element registry are passed in.
 *
 * Keyframes: segments are cut on keyframes only, so every encoder here is given one keyframe a
 * second (KEYFRAME_SECONDS); with no fps hint we assume ASSUMED_FPS, so any camera at 15 fps or
 * more gets a keyframe at least every second.
 */
import {
  type BoardProfile,
  type DecodedCodec,
  type DecoderSpec,
  type EncodedCodec,
  type EncoderSpec,
  fillTemplate,
} from "./profile.ts";
import { type ElementRegistry, fragmentElements } from "./registry.ts";

export type SourceCodec = "h265" | "h264" | "raw" | "mjpeg";
/** Config: what to do when the board has no usable H.265 encoder. */
export type EncodeFallback = "x265" | "h264-hw";
export const ENCODE_FALLBACKS: readonly EncodeFallback[] = ["x265", "h264-hw"];
export type PlanMode = "passthrough" | "transcode" | "encode";

export const KEYFRAME_SECONDS = 1;
export const ASSUMED_FPS = 15;

export interface VideoInput {
  /** What the source delivers: an elementary stream (parsed) or frames (raw, or MJPEG to decode). */
  readonly codec: SourceCodec;
  readonly fallback: EncodeFallback;
  readonly fps?: number;
  /** Target bitrate; default from the size and fps (defaultBitrateKbps). */
  readonly bitrateKbps?: number;
  readonly width?: number;
  readonly height?: number;
  /** For error messages. */
  readonly camera?: string;
}

export interface VideoPlan {
  readonly mode: PlanMode;
  readonly codec: EncodedCodec;
  readonly encoder: string | null;
  readonly decoder: string | null;
  /** One human sentence: why this plan. */
  readonly reason: string;
  /**
   * The gst-launch fragment between the source's output and the muxer: "" for passthrough (the
   * source already ends in its parser), else it ends in h265parse or h264parse.
   */
  readonly launch: string;
}

export class VideoPlanError extends Error {
  readonly camera: string | null;
  readonly board: string;
  constructor(camera: string | null, board: string, detail: string) {
    super(`${camera ? `Camera '${camera}' on board` : "Board"} ${board}: ${detail}`);
    this.name = "VideoPlanError";
    this.camera = camera;
    this.board = board;
  }
}

const SOURCE_WORDS: Record<SourceCodec, string> = {
  h265: "camera sends H.265",
  h264: "camera sends H.264",
  raw: "camera sends raw frames",
  mjpeg: "camera sends MJPEG",
};
const CODEC_WORDS: Record<EncodedCodec | DecodedCodec, string> = {
  h265: "H.265",
  h264: "H.264",
  mjpeg: "MJPEG",
};

interface Context {
  readonly input: VideoInput;
  readonly profile: BoardProfile;
  readonly registry: ElementRegistry;
  /** Why candidates were passed over, for the reason. */
  readonly skipped: string[];
}

/** Chooses passthrough, transcode or encode for one camera; throws VideoPlanError if nothing can. */
export function planVideo(
  input: VideoInput,
  profile: BoardProfile,
  registry: ElementRegistry,
): VideoPlan {
  if (input.codec === "h265") {
    return passthrough("h265", "camera sends H.265: recorded as it comes, no re-encoding");
  }
  const ctx: Context = { input, profile, registry, skipped: [] };
  const board = `board ${profile.id}`;
  const hwH265 = firstUsable(ctx, profile.encoders.h265.filter((e) => e.hardware));
  if (hwH265) return encodeWith(ctx, hwH265, `${board} encodes H.265 in hardware`);

  const noH265 = lacks(ctx, "h265");
  if (input.fallback === "h264-hw") {
    const fallback = "config fallback h264-hw";
    if (input.codec === "h264") {
      const kept = `${SOURCE_WORDS.h264}; ${noH265}; ${fallback}: recorded as it comes, ` +
        "no re-encoding";
      return passthrough("h264", kept + skippedNote(ctx));
    }
    const hwH264 = firstUsable(ctx, profile.encoders.h264.filter((e) => e.hardware));
    if (hwH264) {
      return encodeWith(ctx, hwH264, `${noH265}; ${fallback}: H.264 encoding in hardware`);
    }
    const sw = firstUsable(ctx, profile.encoders.h264.filter((e) => !e.hardware)) ??
      noEncoder(ctx, "h264");
    const noH264 = lacks(ctx, "h264").replace(`${board} has `, "").replace(`${board} `, "");
    return encodeWith(
      ctx,
      sw,
      `${noH265} and ${noH264}; ${fallback}: software H.264 encoding (lighter than x265)`,
    );
  }
  const sw = firstUsable(ctx, profile.encoders.h265.filter((e) => !e.hardware)) ??
    noEncoder(ctx, "h265");
  return encodeWith(ctx, sw, `${noH265}; config fallback x265: software encoding`);
}

/** Keyframe interval in frames for the given fps (one a second). */
export function keyframeInterval(fps: number | undefined): number {
  return Math.max(1, Math.round((fps ?? ASSUMED_FPS) * KEYFRAME_SECONDS));
}

/**
 * A bitrate for a camera with no hint: 0.05 bit per pixel per frame for H.265, 0.08 for H.264
 * (about 3 and 5 Mbit/s at 1080p30), 1080p30 when the size is unknown, within 300 to 16 000 kbit/s.
 */
export function defaultBitrateKbps(
  codec: EncodedCodec,
  width = 1920,
  height = 1080,
  fps = 30,
): number {
  const bitsPerPixel = codec === "h265" ? 0.05 : 0.08;
  return Math.min(16_000, Math.max(300, Math.round((width * height * fps * bitsPerPixel) / 1000)));
}

/** Joins launch fragments with " ! ", skipping empty ones. */
export function joinLaunch(...parts: readonly string[]): string {
  return parts.map((p) => p.trim()).filter((p) => p !== "").join(" ! ");
}

function passthrough(codec: EncodedCodec, reason: string): VideoPlan {
  return { mode: "passthrough", codec, encoder: null, decoder: null, reason, launch: "" };
}

function encodeWith(ctx: Context, enc: EncoderSpec, why: string): VideoPlan {
  const { input } = ctx;
  const codec: EncodedCodec = enc.element.includes("265") ? "h265" : "h264";
  const source = input.codec;
  const dec = source === "h264" || source === "mjpeg" ? pickDecoder(ctx, source, enc) : null;
  const direct = dec !== null && enc.linksFrom.includes(dec.element);
  const kbps = input.bitrateKbps ?? defaultBitrateKbps(codec, input.width, input.height, input.fps);
  const gop = keyframeInterval(input.fps);
  const launch = joinLaunch(
    dec?.before ?? "",
    dec ? `${dec.element} ${dec.props}` : "",
    dec && !direct ? dec.download : "",
    direct ? "" : enc.convert,
    `${enc.element} ${fillTemplate(enc.props, { kbps, gop })}`,
    enc.caps,
    `${codec}parse`,
  );
  const how = `with ${enc.element}${enc.speed ? ` (${enc.speed})` : ""}`;
  const decoded = dec
    ? `; decoded by ${dec.element} (${dec.hardware ? "hardware" : "software"})`
    : "";
  return {
    mode: dec ? "transcode" : "encode",
    codec,
    encoder: enc.element,
    decoder: dec?.element ?? null,
    reason: `${SOURCE_WORDS[source]}; ${why} ${how}${decoded}, ${kbps} kbit/s, ` +
      `keyframe every ${gop} frames${skippedNote(ctx)}`,
    launch,
  };
}

function firstUsable(ctx: Context, candidates: readonly EncoderSpec[]): EncoderSpec | null {
  for (const enc of candidates) {
    const problem = encoderProblem(ctx, enc);
    if (problem === null) return enc;
    ctx.skipped.push(`${enc.element}: ${problem}`);
  }
  return null;
}

function encoderProblem(ctx: Context, enc: EncoderSpec): string | null {
  const missing = [enc.element, ...fragmentElements(enc.convert)].filter((n) =>
    !ctx.registry.has(n)
  );
  if (missing.length > 0) return notInstalled(enc.element, missing);
  const { width, height, fps } = ctx.input;
  const over = (value: number | undefined, max: number | null) =>
    value !== undefined && max !== null && value > max;
  if (over(width, enc.maxWidth) || over(height, enc.maxHeight) || over(fps, enc.maxFps)) {
    return `handles at most ${enc.maxWidth ?? "any"}x${enc.maxHeight ?? "any"} at ${
      enc.maxFps ?? "any"
    } fps`;
  }
  return null;
}

function pickDecoder(ctx: Context, codec: DecodedCodec, enc: EncoderSpec): DecoderSpec {
  const problems: string[] = [];
  for (const dec of ctx.profile.decoders[codec]) {
    const direct = enc.linksFrom.includes(dec.element);
    const needs = [dec.element, ...fragmentElements(dec.before)];
    if (!direct) needs.push(...fragmentElements(dec.download));
    const missing = needs.filter((n) => !ctx.registry.has(n));
    if (missing.length === 0) return dec;
    problems.push(`${dec.element}: ${notInstalled(dec.element, missing)}`);
  }
  const packages = ctx.profile.decoders[codec].flatMap((d) => d.package ?? []);
  throw new VideoPlanError(
    ctx.input.camera ?? null,
    ctx.profile.id,
    `no ${CODEC_WORDS[codec]} decoder can run here (${problems.join("; ") || "none listed"}); ` +
      `install ${packages.join(" or ") || "a decoder"}`,
  );
}

/** "board rpi5 has no H.265 encoder", or why the ones it has cannot be used. */
function lacks(ctx: Context, codec: EncodedCodec): string {
  const hw = ctx.profile.encoders[codec].filter((e) => e.hardware);
  const board = `board ${ctx.profile.id}`;
  if (hw.length === 0) return `${board} has no ${CODEC_WORDS[codec]} encoder`;
  return `${board} cannot use its ${CODEC_WORDS[codec]} encoder ` +
    `(${hw.map((e) => e.element).join(", ")})`;
}

/** "not installed", or "needs nvvidconv, not installed" when a helper element is what is missing. */
function notInstalled(element: string, missing: readonly string[]): string {
  return missing.includes(element) ? "not installed" : `needs ${missing.join(", ")}, not installed`;
}

function skippedNote(ctx: Context): string {
  return ctx.skipped.length > 0 ? ` (passed over: ${ctx.skipped.join("; ")})` : "";
}

function noEncoder(ctx: Context, codec: EncodedCodec): never {
  const sw = ctx.profile.encoders[codec].filter((e) => !e.hardware);
  const packages = [...new Set(sw.flatMap((e) => e.package ?? []))];
  const other = codec === "h265" ? 'set the fallback to "h264-hw"' : 'set the fallback to "x265"';
  throw new VideoPlanError(
    ctx.input.camera ?? null,
    ctx.profile.id,
    `no ${CODEC_WORDS[codec]} encoder can run here (${ctx.skipped.join("; ")}); ` +
      `install ${packages.join(" or ") || "a software encoder"}, or ${other}`,
  );
}
