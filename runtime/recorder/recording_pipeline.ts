/** The recording pipeline of one camera: source head, then splitmuxsink cutting on keyframes. */
import type { CameraConfig } from "../config/types.ts";
import { quote } from "./launch_syntax.ts";
import { sourceDescription } from "./source.ts";

export const MUX_NAME = "mux";
const NS_PER_S = 1_000_000_000;
const SLACK_NS = 250_000_000;

export interface RecordingPipelineOptions {
  /** splitmuxsink location pattern with one %05d. */
  readonly location: string;
  readonly segmentSeconds: number;
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
  return `${sourceDescription(camera)} ! queue max-size-time=3000000000 max-size-buffers=0 ` +
    `max-size-bytes=0 ! ${mux}`;
}
