/**
 * The recording pipeline of one camera:
 *
 *   source head ! [video plan: decode/encode] ! tee name=t
 *     t. ! queue ! splitmuxsink name=mux        segments (fragmented MP4, cut on keyframes)
 *     t. ! queue leaky ! fakesink name=frames   counts frames in (fps, stall watchdog)
 *     t. ! queue leaky ! identity (keyframes only) ! appsink name=keyframes
 *                                               last keyframe: snapshots and keyframe age
 *
 * The measuring branches are leaky, so they can never hold back the recording branch.
 */
import type { CameraConfig } from "../config/types.ts";
import type { VideoPlan } from "../board/mod.ts";
import { quote } from "./launch_syntax.ts";
import { sourceDescription } from "./source.ts";

export const MUX_NAME = "mux";
export const TEE_NAME = "t";
export const FRAMES_SINK = "frames";
export const KEYFRAMES_SINK = "keyframes";
const NS_PER_S = 1_000_000_000;
const SLACK_NS = 250_000_000;
/** GstBufferFlags DELTA_UNIT: identity drops these, so only keyframes reach the appsink. */
const DELTA_UNIT = 8192;

export interface RecordingPipelineOptions {
  /** splitmuxsink location pattern with one %05d. */
  readonly location: string;
  readonly segmentSeconds: number;
  readonly plan: VideoPlan;
}

export function recordingPipeline(camera: CameraConfig, options: RecordingPipelineOptions): string {
  const mux = [
    `splitmuxsink name=${MUX_NAME}`,
    `location=${quote(options.location)}`,
    // A little slack: live timestamps jitter, and without it a segment of exactly N one-second
    // GOPs is judged "over" and cut one GOP early (seen here: 1 s files for a 2 s setting).
    `max-size-time=${options.segmentSeconds * NS_PER_S + SLACK_NS}`,
    // Fragmented MP4 written straight through: a crash or power cut loses only the fragment and
    // the GOP in flight (about 2 s measured with a 1 s GOP), and browsers play it as it is.
    // muxer-/sink-properties apply only in async-finalize mode.
    "async-finalize=true",
    "muxer-factory=mp4mux",
    `muxer-properties=${quote("properties,fragment-duration=(uint)1000,streamable=(boolean)true")}`,
    "sink-factory=filesink",
    `sink-properties=${quote("properties,buffer-mode=(int)2")}`,
  ].join(" ");
  const leaky = "queue leaky=downstream max-size-buffers=5 max-size-bytes=0 max-size-time=0";
  const head = [sourceDescription(camera), options.plan.launch].filter((s) => s !== "").join(" ! ");
  return [
    `${head} ! tee name=${TEE_NAME}`,
    `${TEE_NAME}. ! queue max-size-time=3000000000 max-size-buffers=0 max-size-bytes=0 ! ${mux}`,
    `${TEE_NAME}. ! ${leaky} ! fakesink name=${FRAMES_SINK} sync=false async=false ` +
    "enable-last-sample=false",
    `${TEE_NAME}. ! ${leaky} ! identity drop-buffer-flags=${DELTA_UNIT} ! ` +
    `appsink name=${KEYFRAMES_SINK} sync=false async=false max-buffers=1 drop=true`,
  ].join(" ");
}
