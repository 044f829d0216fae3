/**
 * A camera's audio, recorded next to its video when it has some: AAC as it comes; G.711 (A-law,
 * µ-law) decoded and encoded to AAC, since MP4 in browsers cannot carry G.711 (about 0.1 % of an
 * x86 core at 8 kHz with voaacenc, measured). Other codecs, and cameras without audio: video only.
 *
 * Which audio there is must be known before the pipeline is built (splitmuxsink waits for every
 * input it has, and an MP4 track that never got data is unplayable), so probeAudio asks the camera
 * with an RTSP DESCRIBE at each pipeline start.
 */
import type { CameraConfig } from "../../config/types.ts";
import { hasElementFactory } from "../../gst/mod.ts";
import { describeRtsp, RtspDescribeError } from "../../media/rtsp/describe.ts";
import type { SdpMedia } from "../../media/rtsp/sdp.ts";

export type AudioCodec = "aac" | "pcma" | "pcmu";

/** The audio stream to record and how. Plain data: it may cross to a worker process. */
export interface AudioPlan {
  /** What the camera sends. */
  readonly codec: AudioCodec;
  /** RTP encoding name, to pick its pad of rtspsrc, e.g. "MPEG4-GENERIC", "PCMA". */
  readonly encoding: string;
  readonly clockRate: number;
  readonly channels: number;
  /** The AAC encoder for G.711; null when AAC is recorded as it comes. */
  readonly encoder: string | null;
  /** gst-launch fragment from rtspsrc's audio pad to parsed AAC: "rtpmp4gdepay ! aacparse". */
  readonly launch: string;
  /** One sentence for logs and status. */
  readonly reason: string;
}

/** What probeAudio found: the plan, or null and why not. */
export interface AudioProbe {
  readonly audio: AudioPlan | null;
  readonly reason: string;
}

/**
 * gst-rtsp-server (the virtual cameras, some RTSP proxies) tears a shared stream down for a few
 * tens of ms after its only client leaves after a DESCRIBE, and answers 503 meanwhile: without a
 * pause, 8 of 30 pipeline starts right after the probe failed so; with 100 ms, none (measured).
 */
export const PROBE_SETTLE_MS = 200;

/** AAC encoders in order of preference (voaacenc: plugins-bad; avenc_aac: gstreamer1.0-libav). */
export const AAC_ENCODERS: readonly string[] = ["voaacenc", "avenc_aac"];
/** Bits per second of AAC made from G.711 (8 kHz mono): near-transparent for telephone audio. */
export const TRANSCODED_AAC_BPS = 32_000;

const DEPAY: Record<string, { codec: AudioCodec; launch: string }> = {
  "MPEG4-GENERIC": { codec: "aac", launch: "rtpmp4gdepay ! aacparse" },
  "MP4A-LATM": { codec: "aac", launch: "rtpmp4adepay ! aacparse" },
  PCMA: { codec: "pcma", launch: "rtppcmadepay ! alawdec" },
  PCMU: { codec: "pcmu", launch: "rtppcmudepay ! mulawdec" },
};
const CODEC_WORDS: Record<AudioCodec, string> = {
  aac: "AAC",
  pcma: "G.711 A-law",
  pcmu: "G.711 µ-law",
};

/**
 * The audio stream to record from the camera's SDP: the first AAC one, else the first G.711 one
 * (back channels, which the camera receives, are skipped). `has` tells which elements exist.
 */
export function planAudio(
  media: readonly SdpMedia[],
  has: (element: string) => boolean = hasElementFactory,
): AudioProbe {
  const audio = media.filter((m) => m.media === "audio" && m.direction !== "recvonly");
  if (audio.length === 0) return { audio: null, reason: "camera sends no audio: video only" };
  const known = audio.filter((m) => m.encoding in DEPAY);
  const chosen = known.find((m) => DEPAY[m.encoding]?.codec === "aac") ?? known[0];
  const depay = chosen && DEPAY[chosen.encoding];
  if (!chosen || !depay) {
    const sent = audio.map((m) => m.encoding || `payload type ${m.payloadType}`).join(", ");
    return {
      audio: null,
      reason: `camera sends ${sent} audio, which is not recorded (AAC and G.711 are): video only`,
    };
  }
  const elements = depay.launch.split(" ! ").map((e) => e.split(" ")[0] ?? "");
  const missing = elements.filter((e) => !has(e));
  const encoder = depay.codec === "aac" ? null : AAC_ENCODERS.find(has) ?? "";
  if (missing.length > 0 || encoder === "") {
    const lacking = [...missing, ...(encoder === "" ? [AAC_ENCODERS.join(" or ")] : [])];
    return {
      audio: null,
      reason: `camera sends ${CODEC_WORDS[depay.codec]} audio, but ${lacking.join(", ")} ` +
        "is not installed (gstreamer1.0-plugins-good, -bad or -libav): video only",
    };
  }
  const clockRate = chosen.clockRate ?? 8000;
  const channels = chosen.channels ?? 1;
  const what = `${CODEC_WORDS[depay.codec]} ${clockRate} Hz ${
    channels === 1 ? "mono" : `${channels} ch`
  }`;
  const reason = encoder === null
    ? `camera sends ${what}: recorded as it comes`
    : `camera sends ${what}: encoded to AAC (${encoder}, ${TRANSCODED_AAC_BPS / 1000} kbit/s)`;
  return {
    audio: {
      codec: depay.codec,
      encoding: chosen.encoding,
      clockRate,
      channels,
      encoder,
      launch: encoder === null ? depay.launch : [
        depay.launch,
        "audioconvert",
        "audioresample",
        `${encoder} bitrate=${TRANSCODED_AAC_BPS}`,
        "aacparse",
      ].join(" ! "),
      reason,
    },
    reason,
  };
}

export interface ProbeAudioOptions {
  /** Default 3000 ms; after it the camera is recorded without audio. */
  readonly timeoutMs?: number;
  /** Pause after the DESCRIBE before the pipeline connects (see PROBE_SETTLE_MS). */
  readonly settleMs?: number;
  readonly signal?: AbortSignal;
  /** Which elements exist; default: the GStreamer registry. */
  readonly has?: (element: string) => boolean;
}

/**
 * Asks an RTSP camera what audio it sends (DESCRIBE). Never throws: a camera that cannot be asked
 * is recorded without audio, and its pipeline reports the real problem (refused, unauthorized).
 */
export async function probeAudio(
  camera: CameraConfig,
  options: ProbeAudioOptions = {},
): Promise<AudioProbe> {
  const scheme = new URL(camera.url).protocol;
  if (scheme !== "rtsp:" && scheme !== "rtsps:") {
    return { audio: null, reason: `${scheme} source: video only` };
  }
  const settleMs = options.settleMs ?? PROBE_SETTLE_MS;
  const describe = () =>
    describeRtsp(camera.url, {
      user: camera.username,
      password: camera.password,
      timeoutMs: options.timeoutMs ?? 3000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  let media: SdpMedia[];
  try {
    media = await describe().catch(async (err) => {
      // The same teardown race, when the previous pipeline has just closed its connection.
      if (!(err instanceof RtspDescribeError) || err.status !== 503) throw err;
      await pause(settleMs, options.signal);
      return await describe();
    });
  } catch (err) {
    return {
      audio: null,
      reason: `audio not known (${(err as Error).message}): video only`,
    };
  }
  await pause(settleMs, options.signal);
  return planAudio(media, options.has);
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
