/**
 * The recording pipeline of one camera:
 *
 *   source head ! [video plan: decode/encode] ! tee name=t
 *     t. ! queue ! splitmuxsink name=mux        segments (fragmented MP4, cut on keyframes)
 *     t. ! queue leaky ! fakesink name=frames   counts frames in (fps, stall watchdog)
 *     t. ! queue leaky ! identity (keyframes only) ! appsink name=keyframes
 *                                               last keyframe: snapshots and keyframe age
 *   src. ! audio caps ! depay ! [decode ! AAC encode] ! aacparse ! tee name=at
 *     at. ! queue ! mux.audio_0                  only when the camera has audio (probeAudio)
 *     at. ! queue leaky ! fakesink name=audioframes     counts audio frames in
 *
 * The measuring branches are leaky, so they can never hold back the recording branch. The audio
 * branch links to rtspsrc's pad for that one RTP encoding; other pads stay unlinked, which
 * rtspsrc tolerates (checked with GStreamer 1.22, TCP and UDP).
 */
import type { CameraConfig } from "../../config/types.ts";
import type { AudioPlan } from "./audio.ts";
import { quote } from "./launch_syntax.ts";
import { SOURCE_NAME, sourceDescription, type SourcePlan } from "../source.ts";

export const MUX_NAME = "mux";
export const TEE_NAME = "t";
export const FRAMES_SINK = "frames";
export const KEYFRAMES_SINK = "keyframes";
/** The queue in front of splitmuxsink's audio pad (its sink caps show the audio recorded). */
export const AUDIO_QUEUE = "audioq";
/**
 * Counts AAC frames in (stats "rendered"), like FRAMES_SINK for video. splitmuxsink waits for
 * audio before it finishes a segment, so audio that stops while video goes on stops recording:
 * when this count stands still while video frames come in, restart without audio.
 */
export const AUDIO_FRAMES_SINK = "audioframes";
const AUDIO_TEE = "at";
const NS_PER_S = 1_000_000_000;
const SLACK_NS = 250_000_000;
/** GstBufferFlags DELTA_UNIT: identity drops these, so only keyframes reach the appsink. */
const DELTA_UNIT = 8192;

export interface RecordingPipelineOptions {
  /** splitmuxsink location pattern with one %05d. */
  readonly location: string;
  readonly segmentSeconds: number;
  /** The video plan; a USB camera's carries its capture mode (planSource). */
  readonly plan: SourcePlan;
  /** The camera's audio to record with the video (probeAudio); absent or null: video only. */
  readonly audio?: AudioPlan | null;
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
  const head = [sourceDescription(camera, options.plan), options.plan.launch].filter((s) =>
    s !== ""
  ).join(" ! ");
  const queue = "queue max-size-time=3000000000 max-size-buffers=0 max-size-bytes=0";
  const audio = options.audio && new URL(camera.url).protocol.startsWith("rtsp")
    ? [
      `${SOURCE_NAME}. ! ${audioCaps(options.audio)} ! ${options.audio.launch} ! ` +
      `tee name=${AUDIO_TEE}`,
      `${AUDIO_TEE}. ! ${queue} name=${AUDIO_QUEUE} ! ${MUX_NAME}.audio_0`,
      `${AUDIO_TEE}. ! ${leaky} ! fakesink name=${AUDIO_FRAMES_SINK} sync=false async=false ` +
      "enable-last-sample=false",
    ]
    : [];
  return [
    `${head} ! tee name=${TEE_NAME}`,
    `${TEE_NAME}. ! ${queue} ! ${mux}`,
    `${TEE_NAME}. ! ${leaky} ! fakesink name=${FRAMES_SINK} sync=false async=false ` +
    "enable-last-sample=false",
    `${TEE_NAME}. ! ${leaky} ! identity drop-buffer-flags=${DELTA_UNIT} ! ` +
    `appsink name=${KEYFRAMES_SINK} sync=false async=false max-buffers=1 drop=true wait-on-eos=false`,
    ...audio,
  ].join(" ");
}

/** Caps that pick rtspsrc's pad of this audio stream and no other. */
function audioCaps(audio: AudioPlan): string {
  return `application/x-rtp,media=audio,encoding-name=${quote(audio.encoding)}`;
}
