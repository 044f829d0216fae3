/**
 * The H.265 → H.264 transcode for browsers without H.265 (live and recorded ranges): decode with
 * the board's H.265 decoder, scale to at most 640 px wide, encode with the board's H.264 encoder
 * where it has a hardware one (board profile, hardware first), x264enc ultrafast zerolatency
 * otherwise. Pure: the profile and the element registry are passed in.
 *
 * In: H.265 byte-stream access units on appsrc "in" with their own times; out: H.264
 * byte-stream access units (parameter sets before every IDR) on appsink "out".
 */
import type { BoardProfile, DecoderSpec, EncoderSpec } from "./profile.ts";
import { fillTemplate } from "./profile.ts";
import { type ElementRegistry, fragmentElements } from "./registry.ts";

/** Widest picture sent: enough for a grid tile or a phone, cheap to encode (docs/benchmarks.md). */
export const TRANSCODE_MAX_WIDTH = 640;
/** Bit rate of the H.264 rendition: 640×360 at 15 fps looks clean at this rate. */
export const TRANSCODE_KBPS = 800;
/** Keyframe every 2 s at 15 fps: a new viewer of a running transcode waits at most that long. */
export const TRANSCODE_GOP = 30;

export class TranscodePlanError extends Error {
  constructor(board: string, detail: string) {
    super(`Board ${board} cannot transcode H.265 to H.264 for browsers without H.265: ${detail}`);
    this.name = "TranscodePlanError";
  }
}

export interface TranscodePlan {
  /** The live transcoder's pipeline: appsrc "in" → appsink "out". */
  readonly launch: string;
  /**
   * The elements between an H.265 source and an H.264 sink (a recorded file's demuxer and a
   * muxer, range_transcode.ts): H.265 in, byte-stream H.264 access units out.
   */
  readonly chain: string;
  readonly decoder: string;
  readonly encoder: string;
  readonly hardware: boolean;
}

export function planTranscode(profile: BoardProfile, registry: ElementRegistry): TranscodePlan {
  const usable = (parts: string[]) =>
    parts.every((p) => fragmentElements(p).every((n) => registry.has(n)));
  const dec = profile.decoders.h265.find((d: DecoderSpec) =>
    usable([d.element, d.before, d.download])
  );
  if (!dec) {
    const pkgs = profile.decoders.h265.flatMap((d) => d.package ?? []);
    throw new TranscodePlanError(
      profile.id,
      `no H.265 decoder (${profile.decoders.h265.map((d) => d.element).join(", ")}); install ` +
        (pkgs.join(" or ") || "gstreamer1.0-libav"),
    );
  }
  // Hardware first, in the profile's order; each takes system-memory I420 through its `convert`.
  const enc = profile.encoders.h264.find((e: EncoderSpec) => usable([e.element, e.convert]));
  if (!enc) {
    const pkgs = profile.encoders.h264.flatMap((e) => e.package ?? []);
    throw new TranscodePlanError(
      profile.id,
      `no H.264 encoder (${profile.encoders.h264.map((e) => e.element).join(", ")}); install ` +
        (pkgs.join(" or ") || "gstreamer1.0-plugins-ugly"),
    );
  }
  const props = fillTemplate(enc.props, { kbps: TRANSCODE_KBPS, gop: TRANSCODE_GOP });
  // x264enc would pick High 4:4:4 from some inputs, which no browser decodes: I420 in, and the
  // encoder's own caps (a level for hardware ones) or at most Main out (ultrafast uses no Main
  // tool, so x264 writes Constrained Baseline, avc1.42c0xx: every browser plays it).
  const outCaps = enc.caps !== "" ? enc.caps : "video/x-h264,profile=(string)main";
  const chain = [
    "h265parse",
    dec.before,
    `${dec.element} ${dec.props}`.trim(),
    dec.download,
    "videoscale",
    "videoconvert",
    `video/x-raw,format=I420,width=[16,${TRANSCODE_MAX_WIDTH}],pixel-aspect-ratio=1/1`,
    enc.convert === "videoconvert" ? "" : enc.convert,
    `${enc.element} ${props}`.trim(),
    outCaps,
    "h264parse config-interval=-1",
    "video/x-h264,stream-format=byte-stream,alignment=au",
  ].filter((p) => p !== "").join(" ! ");
  const launch = "appsrc name=in is-live=true format=time do-timestamp=false " +
    `max-bytes=16000000 caps=video/x-h265,stream-format=byte-stream,alignment=au ! ${chain} ! ` +
    "appsink name=out sync=false max-buffers=60 drop=false";
  return { launch, chain, decoder: dec.element, encoder: enc.element, hardware: enc.hardware };
}

/** The box's transcode cap as the board gives it, and where it comes from (shown in health). */
export interface TranscodeCap {
  readonly maxSessions: number;
  /** e.g. `board profile "rockchip" (hardware encoder mpph264enc)`. */
  readonly source: string;
  /** Why that number: measured (where, when) or the vendor's document. */
  readonly basis: string;
}

/**
 * The board's cap for `plan` (null: the board cannot transcode): its own number only when the
 * plan encodes on one of its hardware encoders, else the software transcode's measured number, so
 * a board image without its vendor plugin is not given a hardware board's cap for x264enc.
 */
export function transcodeCapacity(
  profile: BoardProfile,
  plan: TranscodePlan | null,
): TranscodeCap {
  const own = profile.transcode.hardware;
  if (plan?.hardware && own) {
    return {
      maxSessions: own.maxSessions,
      source: `board profile "${profile.id}" (hardware encoder ${plan.encoder})`,
      basis: own.basis,
    };
  }
  const soft = profile.transcode.software;
  const what = plan ? `software encoder ${plan.encoder}` : "no transcode plan";
  return {
    maxSessions: soft.maxSessions,
    source: `board profile "${profile.id}" (${what}; profiles/common.json)`,
    basis: soft.basis,
  };
}
