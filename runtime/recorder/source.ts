/**
 * Sources by URL scheme: each turns a camera into the head of a GStreamer pipeline that ends in a
 * parsed elementary video stream. A scheme nobody registered is an UnsupportedSourceError for that
 * camera alone.
 */
import type { CameraConfig } from "../config/types.ts";
import { quote } from "./launch_syntax.ts";

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

type SourceBuilder = (camera: CameraConfig, url: URL) => string;

const DEPAY: Record<CameraConfig["codec"], string> = {
  h265: "rtph265depay ! h265parse",
  h264: "rtph264depay ! h264parse",
};

function rtspSource(camera: CameraConfig, url: URL): string {
  const user = camera.username ?? decodeURIComponent(url.username);
  const password = camera.password ?? decodeURIComponent(url.password);
  const location = new URL(url.href);
  location.username = "";
  location.password = "";
  const props = [
    `location=${quote(location.href)}`,
    `protocols=${camera.transport}`,
    "latency=200",
    "tcp-timeout=5000000",
    "timeout=5000000",
  ];
  if (user) props.push(`user-id=${quote(user)}`);
  if (password) props.push(`user-pw=${quote(password)}`);
  return `rtspsrc name=src ${props.join(" ")} ! ${DEPAY[camera.codec]}`;
}

const SOURCES: Record<string, SourceBuilder> = {
  "rtsp:": rtspSource,
  "rtsps:": rtspSource,
};

export const SUPPORTED_SCHEMES: readonly string[] = Object.keys(SOURCES);

/** Pipeline head for the camera; throws UnsupportedSourceError. */
export function sourceDescription(camera: CameraConfig): string {
  const url = new URL(camera.url);
  const build = SOURCES[url.protocol];
  if (!build) throw new UnsupportedSourceError(camera.id, url.protocol);
  return build(camera, url);
}

/** The URL with any password replaced, for logs and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.href;
  } catch {
    return url;
  }
}
