/**
 * What the RTSP client hands the recorder: whole pictures (access units) and audio frames, each
 * with its RTP timestamp extended so that it never wraps. Plain data, no behaviour.
 */

export type VideoCodec = "h264" | "h265";

/** One picture: every NAL unit that carried it, in order. */
export interface VideoAccessUnit {
  /** NAL units without start codes or length prefixes (parameter sets and SEI as received). */
  readonly nals: Uint8Array[];
  /** RTP timestamp extended past 2^32 (monotonic across wraps), in the track's clock rate. */
  readonly timestamp: number;
  /** Holds an IDR slice (H.264 type 5) or an IRAP slice (H.265 types 16–23). */
  readonly keyframe: boolean;
  /** A packet of this picture, or one just before it, was lost: it may be incomplete. */
  readonly damaged: boolean;
}

/** One AAC frame (raw, no ADTS header). */
export interface AudioAccessUnit {
  readonly data: Uint8Array;
  /** Extended RTP timestamp in the audio clock rate (the sample rate). */
  readonly timestamp: number;
}
