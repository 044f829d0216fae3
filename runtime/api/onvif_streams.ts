/**
 * Asks an ONVIF camera for its media profiles and their RTSP URIs (npm:onvif). Adding a camera
 * by its ONVIF address takes the profile chosen as the main stream (recorded) and the one chosen
 * as the sub-stream (live view), or by default the first profile and a second H.264 one.
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

/** One media profile as the page offers it (main stream to record, sub-stream to view). */
export interface OnvifProfileInfo {
  readonly token: string;
  readonly name: string;
  /** The encoder's name for it: "H264", "H265", "JPEG", … ("" when it did not say). */
  readonly encoding: string;
  readonly width: number | null;
  readonly height: number | null;
  readonly fps: number | null;
}

export interface OnvifProfiles {
  readonly deviceUrl: string;
  readonly profiles: readonly OnvifProfileInfo[];
}

/** Which profiles to use, by token; absent: the defaults (first, and a second H.264 one). */
export interface ProfileChoice {
  readonly main?: string;
  /** null: no sub-stream. */
  readonly sub?: string | null;
}

export class OnvifStreamError extends Error {
  /** "credentials": the camera refused the user name or password; else "failed". */
  readonly kind: "credentials" | "failed";
  constructor(address: string, detail: string, kind: "credentials" | "failed" = "failed") {
    super(`ONVIF camera at ${address}: ${detail}`);
    this.name = "OnvifStreamError";
    this.kind = kind;
  }
}

interface Profile {
  $: { token: string };
  name?: unknown;
  videoEncoderConfiguration?: {
    encoding?: string;
    resolution?: { width?: unknown; height?: unknown };
    rateControl?: { frameRateLimit?: unknown };
  };
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

/** At most this many profiles are offered (real cameras have 2–4). */
const MAX_PROFILES = 16;

function deviceUrlOf(address: string): URL {
  try {
    return new URL(address.includes("://") ? address : `http://${address}/onvif/device_service`);
  } catch {
    throw new OnvifStreamError(address, "not a host:port or URL");
  }
}

/** A refusal of the user name or password, as cameras say it (ONVIF fault or HTTP 401). */
function isAuthRefusal(err: Error): boolean {
  return /NotAuthorized|not authori[sz]ed|\b401\b|Unauthorized|password/i.test(err.message);
}

const num = (v: unknown): number | null => {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : null;
};

function info(p: Profile): OnvifProfileInfo {
  const enc = p.videoEncoderConfiguration;
  return {
    token: String(p.$.token).slice(0, 64),
    name: String(p.name ?? p.$.token).slice(0, 64),
    encoding: String(enc?.encoding ?? "").toUpperCase().slice(0, 16),
    width: num(enc?.resolution?.width),
    height: num(enc?.resolution?.height),
    fps: num(enc?.rateControl?.frameRateLimit),
  };
}

async function connected(address: string, credentials: Credentials, timeoutMs: number) {
  const url = deviceUrlOf(address);
  const cam = onvifCam<OnvifCam>(url, { ...credentials, timeoutMs });
  try {
    await call<void>((cb) => cam.connect((e) => cb(e, undefined)));
    const profiles = (await call<Profile[]>((cb) => cam.getProfiles(cb)))
      .filter((p) => typeof p?.$?.token === "string").slice(0, MAX_PROFILES);
    if (profiles.length === 0) throw new Error("it has no media profile");
    return { url, cam, profiles };
  } catch (err) {
    const e = err as Error;
    if (isAuthRefusal(e)) {
      throw new OnvifStreamError(
        address,
        `the user name or password does not work (${e.message.slice(0, 200)})`,
        "credentials",
      );
    }
    throw new OnvifStreamError(address, e.message);
  }
}

interface Credentials {
  readonly username: string | null;
  readonly password: string | null;
}

/** The camera's profiles; throws OnvifStreamError (kind "credentials" when they are refused). */
export async function onvifProfiles(
  address: string,
  credentials: Credentials,
  timeoutMs = 5_000,
): Promise<OnvifProfiles> {
  const { url, profiles } = await connected(address, credentials, timeoutMs);
  return { deviceUrl: url.href, profiles: profiles.map(info) };
}

/** `address` is host[:port] or a device-service URL. */
export async function onvifStreams(
  address: string,
  credentials: Credentials,
  timeoutMs = 5_000,
  choice: ProfileChoice = {},
): Promise<OnvifStreams> {
  const { url, cam, profiles } = await connected(address, credentials, timeoutMs);
  const byToken = (token: string, role: string) => {
    const p = profiles.find((x) => x.$.token === token);
    if (!p) {
      throw new OnvifStreamError(
        address,
        `${role}: no profile "${token.slice(0, 64)}"; it has ${
          profiles.map((x) => x.$.token).join(", ")
        }`,
      );
    }
    return p;
  };
  const main = choice.main !== undefined ? byToken(choice.main, "mainProfile") : profiles[0]!;
  const encodingOf = (p: Profile) =>
    String(p.videoEncoderConfiguration?.encoding ?? "")
      .toUpperCase();
  let sub: Profile | undefined;
  if (choice.sub === null) sub = undefined;
  else if (choice.sub !== undefined) {
    sub = byToken(choice.sub, "subProfile");
    if (encodingOf(sub) !== "H264") {
      throw new OnvifStreamError(
        address,
        `subProfile: "${choice.sub}" is ${encodingOf(sub) || "of unknown encoding"}; ` +
          "browsers play only an H.264 sub-stream: pick an H.264 profile or none",
      );
    }
  } else {
    const second = profiles.find((p) => p !== main);
    sub = second && encodingOf(second) === "H264" ? second : undefined;
  }
  try {
    const uri = async (p: Profile) =>
      (await call<{ uri: string }>((cb) =>
        cam.getStreamUri({ protocol: "RTSP", profileToken: p.$.token }, cb)
      )).uri;
    const mainEncoding = encodingOf(main);
    return {
      deviceUrl: url.href,
      url: await uri(main),
      subUrl: sub ? await uri(sub) : null,
      codec: mainEncoding.startsWith("H265") || mainEncoding === "HEVC" ? "h265" : "h264",
    };
  } catch (err) {
    throw new OnvifStreamError(address, (err as Error).message);
  }
}
