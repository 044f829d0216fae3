/**
 * A JPEG of a camera's latest keyframe, taken from what is recording it (the GStreamer pipeline's
 * keyframe appsink, or the built-in remuxer's last keyframe), so a snapshot never opens a second
 * connection to the camera. The keyframe is decoded by a short pipeline of its own.
 */
import { Pipeline } from "../gst/mod.ts";
import { quote } from "./launch_syntax.ts";
import { KEYFRAMES_SINK } from "./recording_pipeline.ts";

export class SnapshotUnavailableError extends Error {
  constructor(camera: string, why: string) {
    super(`No snapshot of camera '${camera}': ${why}`);
    this.name = "SnapshotUnavailableError";
  }
}

const DECODERS: Record<string, string> = {
  h265: "h265parse ! avdec_h265",
  h264: "h264parse ! avdec_h264",
};

/** A keyframe with what decodes it: GStreamer caps and the bytes (byte-stream with parameter sets). */
export interface Keyframe {
  readonly data: Uint8Array;
  readonly caps: string;
}

/** Gives the latest keyframe, waiting up to `timeoutMs` for one; null when none came. */
export type KeyframeTap = (timeoutMs: number) => Promise<Keyframe | null>;

/** The keyframe appsink of a running recording pipeline, as a tap. */
export function pipelineKeyframes(camera: string, pipeline: Pipeline): KeyframeTap {
  return async (timeoutMs) => {
    if (pipeline.closed) throw new SnapshotUnavailableError(camera, "it is not recording now");
    const keyframes = pipeline.element(KEYFRAMES_SINK);
    if (!keyframes) throw new SnapshotUnavailableError(camera, "its pipeline has no keyframe tap");
    const sample = await keyframes.pullSample(timeoutMs);
    return sample?.caps ? { data: new Uint8Array(sample.data), caps: sample.caps } : null;
  };
}

export async function snapshotJpeg(
  camera: string,
  keyframes: KeyframeTap | null,
  codec: string,
  timeoutMs = 3_000,
): Promise<Uint8Array> {
  if (!keyframes) throw new SnapshotUnavailableError(camera, "it is not recording now");
  const sample = await keyframes(timeoutMs);
  if (!sample) throw new SnapshotUnavailableError(camera, `no keyframe within ${timeoutMs} ms`);
  const decoder = DECODERS[codec];
  if (!decoder) throw new SnapshotUnavailableError(camera, `no decoder for codec '${codec}'`);
  await using decode = Pipeline.parse(
    `appsrc name=in format=time caps=${quote(sample.caps)} ! ${decoder} ! videoconvert ! ` +
      "jpegenc quality=85 ! appsink name=out sync=false",
    { name: `${camera}-snapshot` },
  );
  decode.play();
  decode.element("in")?.pushBuffer(new Uint8Array(sample.data));
  decode.element("in")?.endOfStream();
  const jpeg = await decode.element("out")?.pullSample(timeoutMs);
  if (!jpeg || jpeg.data.length === 0) {
    const error = decode.poll();
    throw new SnapshotUnavailableError(
      camera,
      error?.type === "error" ? `decoding failed: ${error.message}` : "decoding gave no picture",
    );
  }
  return jpeg.data;
}
