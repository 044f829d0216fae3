/**
 * Sources by URL scheme: each turns a camera into the head of a GStreamer pipeline that ends where
 * the video plan takes over (a parsed elementary stream for RTSP, the capture caps for USB
 * cameras). The head's source element is named SOURCE_NAME, so errors read "src: …" and the audio
 * branch can link to it. A scheme nobody registered is an UnsupportedSourceError for that camera
 * alone.
 *
 *   rtsp://, rtsps://   rtspsrc ! depay ! parse               (cameras[].codec says which)
 *   v4l2:///dev/video0  v4l2src ! capture caps                (USB; the plan decodes and encodes)
 */
import type { CameraConfig } from "../config/types.ts";
import {
  type BoardProfile,
  type CaptureChoice,
  type CaptureLimits,
  type ElementRegistry,
  type EncodeFallback,
  planVideo,
  readV4l2Formats,
  usbCameraLaunch,
  type V4l2Mode,
  v4l2SourceLaunch,
  type VideoPlan,
} from "../board/mod.ts";
import { quote } from "./gstreamer/launch_syntax.ts";
/** Name of the source element in every head. */
export const SOURCE_NAME = "src";

export class UnsupportedSourceError extends Error {
  readonly camera: string;
  constructor(camera: string, scheme: string) {
    super(
      `Camera '${camera}': URL scheme '${scheme}' is not supported; use one of ` +
        `${SUPPORTED_SCHEMES.join(", ")} (fix cameras[].url in the config)`,
    );
    this.name = "UnsupportedSourceError";
    this.camera = camera;
  }
}

/** A USB camera's head was asked for without the capture mode its plan was made for. */
export class SourcePlanError extends Error {
  readonly camera: string;
  constructor(camera: string, detail: string) {
    super(`Camera '${camera}': ${detail}`);
    this.name = "SourcePlanError";
    this.camera = camera;
  }
}

/**
 * The camera's video plan; for a USB camera also the capture mode it was made for (the head's
 * caps). Plain data, so it crosses to recorder worker processes with the plan.
 */
export interface SourcePlan extends VideoPlan {
  readonly capture?: CaptureChoice;
  /**
   * RTSP passthrough: the element that gives pictures decode times after the parser
   * (h265timestamper, h264timestamper; GStreamer 1.22 codectimestamper). RTP carries presentation
   * times only; without decode times mp4mux mis-stores a camera's B-frames (seen here: pictures
   * flagged discard, a third of them lost). Absent when the board's GStreamer lacks it.
   */
  readonly timestamper?: string;
}

/** What planSource needs of the board. */
export interface BoardContext {
  readonly profile: BoardProfile;
  readonly registry: ElementRegistry;
  readonly fallback: EncodeFallback;
}

type SourceBuilder = (camera: CameraConfig, url: URL, plan: SourcePlan | undefined) => string;

const DEPAY: Record<CameraConfig["codec"], string> = {
  h265: "rtph265depay ! h265parse",
  h264: "rtph264depay ! h264parse",
};

function rtspSource(camera: CameraConfig, url: URL, plan: SourcePlan | undefined): string {
  const user = camera.username ?? decodeURIComponent(url.username);
  const password = camera.password ?? decodeURIComponent(url.password);
  const location = new URL(url.href);
  location.username = "";
  location.password = "";
  const props = [
    `location=${quote(location.href)}`,
    `protocols=${camera.transport}`,
    "latency=200",
    // Pictures keep the camera's RTP timestamps (the jitter buffer only waits for missing
    // packets). The default, slave mode, fits arrival times to them: with B-frames, which arrive
    // out of presentation order, that gave pictures up to 40 ms off and two 3 ms apart here.
    // SegmentClock ties the RTP clock to the wall clock and follows drift.
    "buffer-mode=none",
    "tcp-timeout=5000000",
    "timeout=5000000",
  ];
  if (user) props.push(`user-id=${quote(user)}`);
  if (password) props.push(`user-pw=${quote(password)}`);
  const timestamper = plan?.timestamper ? ` ! ${plan.timestamper}` : "";
  return `rtspsrc name=${SOURCE_NAME} ${props.join(" ")} ! ${DEPAY[camera.codec]}${timestamper}`;
}

function v4l2Source(camera: CameraConfig, url: URL, plan: SourcePlan | undefined): string {
  if (!plan?.capture) {
    throw new SourcePlanError(
      camera.id,
      `USB camera ${v4l2DevicePath(url)} has no capture mode in its plan; plan it with ` +
        "planSource() and the formats from readSourceFormats()",
    );
  }
  return v4l2SourceLaunch(v4l2DevicePath(url), plan.capture).replace(
    /^v4l2src /,
    `v4l2src name=${SOURCE_NAME} `,
  );
}

const SOURCES: Record<string, SourceBuilder> = {
  "rtsp:": rtspSource,
  "rtsps:": rtspSource,
  "v4l2:": v4l2Source,
};

export const SUPPORTED_SCHEMES: readonly string[] = Object.keys(SOURCES);

/**
 * Pipeline head for the camera; a USB camera needs the plan from planSource (for its capture
 * caps). Throws UnsupportedSourceError or SourcePlanError.
 */
export function sourceDescription(camera: CameraConfig, plan?: SourcePlan): string {
  const url = new URL(camera.url);
  const build = SOURCES[url.protocol];
  if (!build) throw new UnsupportedSourceError(camera.id, url.protocol);
  return build(camera, url, plan);
}

/** "v4l2:///dev/video0" → "/dev/video0" (percent-escapes decoded). */
export function v4l2DevicePath(url: URL | string): string {
  return decodeURIComponent(new URL(url).pathname);
}

/** The capture limits a USB camera's config asks for (cameras[].width, height, fps). */
export function captureLimits(camera: CameraConfig): CaptureLimits {
  return {
    ...(camera.width !== undefined ? { maxWidth: camera.width } : {}),
    ...(camera.height !== undefined ? { maxHeight: camera.height } : {}),
    ...(camera.fps !== undefined ? { maxFps: camera.fps } : {}),
  };
}

/**
 * What the source offers, read once when the daemon plans its cameras: a USB camera's modes
 * (`v4l2-ctl --list-formats-ext`), null for network cameras. Throws V4l2FormatError.
 */
export async function readSourceFormats(
  camera: CameraConfig,
  read: (device: string) => Promise<V4l2Mode[]> = readV4l2Formats,
): Promise<V4l2Mode[] | null> {
  const url = new URL(camera.url);
  return url.protocol === "v4l2:" ? await read(v4l2DevicePath(url)) : null;
}

/**
 * The camera's plan on this board. RTSP: from cameras[].codec. USB: the capture mode from the
 * device's formats (within cameras[].width/height/fps), then decode (MJPEG) and encode with the
 * board's elements. Throws VideoPlanError, V4l2FormatError, or SourcePlanError when a USB camera
 * comes without its formats.
 */
export function planSource(
  camera: CameraConfig,
  formats: readonly V4l2Mode[] | null,
  board: BoardContext,
): SourcePlan {
  const url = new URL(camera.url);
  if (url.protocol !== "v4l2:") {
    const plan = planVideo(
      { codec: camera.codec, fallback: board.fallback, camera: camera.id },
      board.profile,
      board.registry,
    );
    const timestamper = `${camera.codec}timestamper`;
    return plan.mode === "passthrough" && board.registry.has(timestamper)
      ? { ...plan, timestamper }
      : plan;
  }
  if (formats === null) {
    throw new SourcePlanError(camera.id, "a USB camera is planned from its formats; none given");
  }
  const { capture, plan } = usbCameraLaunch(
    v4l2DevicePath(url),
    formats,
    board.profile,
    board.registry,
    { fallback: board.fallback, camera: camera.id, limits: captureLimits(camera) },
  );
  return { ...plan, capture };
}
