/**
 * A JPEG of a camera's latest picture, taken from what is recording it, so a snapshot never opens
 * a second connection to the camera. The built-in remuxer keeps the pictures since the latest
 * keyframe; they are decoded to the end and the last one is encoded (a camera with 4-second GOPs
 * would otherwise show a picture up to 4 s old). A GStreamer pipeline's tap gives its latest
 * keyframe only. Decoding and encoding run in short pipelines of their own.
 */
import { Pipeline } from "../gst/mod.ts";
import { quote } from "./gstreamer/launch_syntax.ts";
import { KEYFRAMES_SINK } from "./gstreamer/recording_pipeline.ts";

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

/**
 * A keyframe, and the pictures after it where the recorder keeps them, with what decodes them:
 * GStreamer caps and the bytes (byte-stream with parameter sets).
 */
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
  const deadline = Date.now() + timeoutMs;
  const raw = await lastPicture(camera, sample, decoder, deadline);
  await using encode = Pipeline.parse(
    `appsrc name=in format=time caps=${quote(raw.caps)} ! jpegenc quality=85 ! ` +
      "appsink name=out sync=false",
    { name: `${camera}-snapshot-jpeg` },
  );
  encode.play();
  encode.element("in")?.pushBuffer(raw.data);
  encode.element("in")?.endOfStream();
  const jpeg = await encode.element("out")?.pullSample(Math.max(0, deadline - Date.now()));
  if (!jpeg || jpeg.data.length === 0) {
    const error = encode.poll();
    throw new SnapshotUnavailableError(
      camera,
      `JPEG encoding: ${error?.type === "error" ? error.message : "gave nothing"}`,
    );
  }
  return jpeg.data;
}

/** Decodes every picture given and returns the last one, raw, with its caps. */
async function lastPicture(
  camera: string,
  sample: Keyframe,
  decoder: string,
  deadline: number,
): Promise<{ data: Uint8Array<ArrayBuffer>; caps: string }> {
  // The sink keeps the newest decoded picture as its last sample; nothing else is copied out.
  // (An appsink posts EOS only once its queue is pulled empty, so it does not fit here.)
  await using decode = Pipeline.parse(
    `appsrc name=in format=time caps=${quote(sample.caps)} ! ${decoder} ! videoconvert ! ` +
      "fakesink name=out sync=false enable-last-sample=true",
    { name: `${camera}-snapshot` },
  );
  decode.play();
  decode.element("in")?.pushBuffer(new Uint8Array(sample.data));
  decode.element("in")?.endOfStream();
  for (;;) {
    const left = deadline - Date.now();
    const msg = left > 0 ? await decode.next(left) : null;
    if (msg === null) {
      throw new SnapshotUnavailableError(camera, "decoding took too long");
    }
    if (msg.type === "error") {
      throw new SnapshotUnavailableError(camera, `decoding failed: ${msg.message}`);
    }
    if (msg.type === "eos") break;
  }
  const raw = decode.element("out")?.lastSample();
  if (!raw?.caps || raw.data.length === 0) {
    throw new SnapshotUnavailableError(camera, "decoding gave no picture");
  }
  return { data: new Uint8Array(raw.data), caps: raw.caps };
}
