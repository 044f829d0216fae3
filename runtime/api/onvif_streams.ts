/**
 * Asks an ONVIF camera for its streams (npm:onvif): the RTSP URI of the main profile and, when
 * there is a second H.264 profile, of the sub-stream for live view. Used to add a camera by its
 * ONVIF address.
 */
import { onvifCam } from "../onvif/cam.ts";

export interface OnvifStreams {
  readonly url: string;
  readonly subUrl: string | null;
  /** "h265" or "h264", from the main profile's encoder. */
  readonly codec: "h265" | "h264";
  /** The device service that answered (kept as the camera's `onvif.url`). */
  readonly deviceUrl?: string;
}

export class OnvifStreamError extends Error {
  constructor(address: string, detail: string) {
    super(`ONVIF camera at ${address}: ${detail}`);
    this.name = "OnvifStreamError";
  }
}

interface Profile {
  $: { token: string };
  videoEncoderConfiguration?: { encoding?: string };
}
interface OnvifCam {
  connect(cb: (err: Error | null) => void): void;
  getProfiles(cb: (err: Error | null, profiles: Profile[]) => void): void;
  getStreamUri(
    opts: { protocol: string; profileToken: string },
    cb: (err: Error | null, r: { uri: string }) => void,
  ): void;
}

function call<T>(fn: (cb: (err: Error | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => err ? reject(err) : resolve(value)));
}

/** `address` is host[:port] or a device-service URL. */
export async function onvifStreams(
  address: string,
  credentials: { username: string | null; password: string | null },
  timeoutMs = 5_000,
): Promise<OnvifStreams> {
  let url: URL;
  try {
    url = new URL(address.includes("://") ? address : `http://${address}/onvif/device_service`);
  } catch {
    throw new OnvifStreamError(address, "not a host:port or URL");
  }
  const cam = onvifCam<OnvifCam>(url, { ...credentials, timeoutMs });
  try {
    await call<void>((cb) => cam.connect((e) => cb(e, undefined)));
    const profiles = await call<Profile[]>((cb) => cam.getProfiles(cb));
    const [main, second] = profiles;
    if (!main) throw new Error("it has no media profile");
    const uri = async (p: Profile) =>
      (await call<{ uri: string }>((cb) =>
        cam.getStreamUri({ protocol: "RTSP", profileToken: p.$.token }, cb)
      )).uri;
    const mainEncoding = String(main.videoEncoderConfiguration?.encoding ?? "").toUpperCase();
    const subIsH264 = second &&
      String(second.videoEncoderConfiguration?.encoding ?? "").toUpperCase() === "H264";
    return {
      deviceUrl: url.href,
      url: await uri(main),
      subUrl: subIsH264 ? await uri(second) : null,
      codec: mainEncoding.startsWith("H265") || mainEncoding === "HEVC" ? "h265" : "h264",
    };
  } catch (err) {
    if (err instanceof OnvifStreamError) throw err;
    throw new OnvifStreamError(address, (err as Error).message);
  }
}
