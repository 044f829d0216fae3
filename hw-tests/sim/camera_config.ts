/**
 * Configuration of one virtual IP camera: command-line parsing (both ways) and
 * the GStreamer launch strings for its streams and snapshots. Pure functions.
 */

import { cropFor, SCENE_FACTOR } from "./ptz_state.ts";

export type VideoCodec = "h264" | "h265";
/** Audio on `/main` (a second RTP stream, pay1): AAC, G.711 A-law or µ-law, or none. */
export type AudioCodec = "aac" | "pcma" | "pcmu" | "none";
export const AUDIO_CODECS: readonly AudioCodec[] = ["aac", "pcma", "pcmu", "none"];

export interface CameraConfig {
  readonly rtspPort: number;
  readonly onvifPort: number;
  /** Main stream codec; the sub stream is always H.264. */
  readonly codec: VideoCodec;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Main stream bitrate in kbit/s. */
  readonly bitrateKbps: number;
  readonly serial: string;
  readonly model: string;
  readonly manufacturer: string;
  readonly firmware: string;
  /** Shown in the video overlay and by ONVIF GetHostname. */
  readonly name: string;
  /** When both are set, RTSP, ONVIF and the snapshot require them. */
  readonly user?: string;
  readonly password?: string;
  /** Exit when stdin reaches EOF (the parent died). Set by virtual_camera.ts. */
  readonly exitOnStdinEof: boolean;
  /**
   * Serve `/main` from this pre-encoded H.265 Annex B file in a loop, in real time, without
   * encoding (see loop_clip.ts). width/height/fps must describe the file; bitrate is only what
   * ONVIF reports.
   */
  readonly loopFile?: string;
  /** Audio on `/main` next to the video; absent or "none": video only. */
  readonly audio?: AudioCodec;
  /**
   * B-frames between reference pictures on `/main` (absent or 0: none). Like a real camera's
   * "high profile" setting: pictures arrive in decode order, so presentation times go back.
   */
  readonly bframes?: number;
  /** Answer WS-Discovery probes (239.255.255.250:3702): only inside a test's own netns. */
  readonly discovery?: boolean;
  /** No ONVIF events service (a camera that has none); absent or false: PullPoint events. */
  readonly noEvents?: boolean;
  /** Raise motion every this many ms (on, then off); absent: motion only on demand. */
  readonly motionEveryMs?: number;
  /**
   * A pan/tilt/zoom head (ONVIF PTZ service): the streams and snapshots show a window of a scene
   * twice the picture size, moved and zoomed by PTZ commands (see sceneLaunch).
   */
  readonly ptz?: boolean;
  /**
   * How far the camera's own clock is off, in ms (positive: ahead): what ONVIF
   * GetSystemDateAndTime answers and what WS-Security's Created is checked against.
   */
  readonly clockOffsetMs?: number;
}

export const SUB_WIDTH = 640;
export const SUB_HEIGHT = 360;
export const SUB_BITRATE_KBPS = 300;

export const CAMERA_USAGE = `usage: deno run -A hw-tests/sim/virtual_camera_main.ts \\
  --rtsp-port 8554 --onvif-port 8081 [--codec h265|h264] [--width 1280] [--height 720] \\
  [--fps 15] [--bitrate 1000 (kbit/s)] [--serial SIM-0001] [--model SimCam-1] \\
  [--manufacturer "NVR Sim"] [--firmware 1.0.0] [--name cam1] [--user U --password P] \\
  [--loop-file /abs/clip.h265 (serve /main from a pre-encoded H.265 file in a loop)] \\
  [--audio aac|pcma|pcmu|none (an audio stream on /main, a tick a second)] \\
  [--bframes 0..4 (B-frames on /main: pictures out of presentation order)] \\
  [--discovery (answer WS-Discovery probes; only inside a network namespace of its own)] \\
  [--no-events (no ONVIF events service)] [--motion-every-ms N (raise motion every N ms)] \\
  [--ptz (an ONVIF PTZ head whose moves pan and zoom the picture)] \\
  [--clock-offset-ms N (the camera's clock is N ms ahead, negative: behind)] \\
  [--exit-on-stdin-eof]`;

const DEFAULTS = {
  codec: "h265" as VideoCodec,
  width: 1280,
  height: 720,
  fps: 15,
  bitrateKbps: 1000,
  serial: "SIM-0001",
  model: "SimCam-1",
  manufacturer: "NVR Sim",
  firmware: "1.0.0",
  name: "cam1",
};

const VALUE_FLAGS = [
  "rtsp-port",
  "onvif-port",
  "codec",
  "width",
  "height",
  "fps",
  "bitrate",
  "serial",
  "model",
  "manufacturer",
  "firmware",
  "name",
  "user",
  "password",
  "loop-file",
  "audio",
  "bframes",
  "motion-every-ms",
  "clock-offset-ms",
] as const;
type ValueFlag = typeof VALUE_FLAGS[number];
const BOOL_FLAGS = ["exit-on-stdin-eof", "discovery", "no-events", "ptz"] as const;

/** Characters allowed in strings that end up inside a GStreamer launch string. */
const SAFE_TEXT = /^[A-Za-z0-9 _.:@+-]{1,64}$/;

function usageError(msg: string): Error {
  return new Error(`${msg}\n${CAMERA_USAGE}`);
}

function int(
  flags: Map<string, string>,
  name: ValueFlag,
  def: number,
  min: number,
  max: number,
): number {
  const raw = flags.get(name);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw usageError(`--${name} must be an integer in ${min}..${max}, got "${raw}"`);
  }
  return n;
}

function text(flags: Map<string, string>, name: ValueFlag, def: string): string {
  const v = flags.get(name) ?? def;
  if (!SAFE_TEXT.test(v)) {
    throw usageError(
      `--${name} must be 1-64 characters of letters, digits, space and _.:@+-, got "${v}"`,
    );
  }
  return v;
}

/** Parses `--flag value` / `--flag=value` arguments. Throws an Error that includes the usage. */
export function parseCameraArgs(args: readonly string[]): CameraConfig {
  const flags = new Map<string, string>();
  const bools = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (!a.startsWith("--")) throw usageError(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if ((BOOL_FLAGS as readonly string[]).includes(name)) {
      bools.add(name);
      continue;
    }
    if (!(VALUE_FLAGS as readonly string[]).includes(name)) {
      throw usageError(`unknown option --${name}`);
    }
    const value = eq >= 0 ? a.slice(eq + 1) : args[++i];
    if (value === undefined) throw usageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  if (!flags.has("rtsp-port") || !flags.has("onvif-port")) {
    throw usageError("--rtsp-port and --onvif-port are required");
  }
  const codec = flags.get("codec") ?? DEFAULTS.codec;
  if (codec !== "h264" && codec !== "h265") {
    throw usageError(`--codec must be h264 or h265, got "${codec}"`);
  }
  const width = int(flags, "width", DEFAULTS.width, 16, 4096);
  const height = int(flags, "height", DEFAULTS.height, 16, 4096);
  if (width % 2 !== 0 || height % 2 !== 0) {
    throw usageError(`--width and --height must be even, got ${width}x${height}`);
  }
  const user = flags.get("user");
  const password = flags.get("password");
  if ((user === undefined) !== (password === undefined)) {
    throw usageError("give both --user and --password, or neither");
  }
  const cfg: CameraConfig = {
    rtspPort: int(flags, "rtsp-port", 0, 1, 65535),
    onvifPort: int(flags, "onvif-port", 0, 1, 65535),
    codec,
    width,
    height,
    fps: int(flags, "fps", DEFAULTS.fps, 1, 120),
    bitrateKbps: int(flags, "bitrate", DEFAULTS.bitrateKbps, 16, 200_000),
    serial: text(flags, "serial", DEFAULTS.serial),
    model: text(flags, "model", DEFAULTS.model),
    manufacturer: text(flags, "manufacturer", DEFAULTS.manufacturer),
    firmware: text(flags, "firmware", DEFAULTS.firmware),
    name: text(flags, "name", DEFAULTS.name),
    exitOnStdinEof: bools.has("exit-on-stdin-eof"),
    ...(bools.has("discovery") ? { discovery: true } : {}),
    ...(bools.has("no-events") ? { noEvents: true } : {}),
    ...(flags.has("motion-every-ms")
      ? { motionEveryMs: int(flags, "motion-every-ms", 0, 100, 3_600_000) }
      : {}),
    ...(bools.has("ptz") ? { ptz: true } : {}),
  };
  if (cfg.rtspPort === cfg.onvifPort) throw usageError("--rtsp-port and --onvif-port must differ");
  const loopFile = flags.get("loop-file");
  if (cfg.ptz && loopFile !== undefined) {
    throw usageError("--ptz needs the encoded test picture: drop --loop-file or --ptz");
  }
  if (loopFile !== undefined) {
    if (!loopFile.startsWith("/") || /["\\]/.test(loopFile)) {
      throw usageError(
        `--loop-file must be an absolute path without quotes or backslashes, got "${loopFile}"`,
      );
    }
    if (codec !== "h265") {
      throw usageError(`--loop-file serves H.265 only: drop --codec ${codec} or the loop file`);
    }
  }
  const audio = flags.get("audio") ?? "none";
  if (!(AUDIO_CODECS as readonly string[]).includes(audio)) {
    throw usageError(`--audio must be one of ${AUDIO_CODECS.join(", ")}, got "${audio}"`);
  }
  const withAudio: CameraConfig = audio === "none" ? cfg : { ...cfg, audio: audio as AudioCodec };
  const bframes = int(flags, "bframes", 0, 0, 4);
  if (bframes > 0 && loopFile !== undefined) {
    throw usageError("--bframes needs an encoder: drop --loop-file or --bframes");
  }
  const withB: CameraConfig = bframes > 0 ? { ...withAudio, bframes } : withAudio;
  const offsetRaw = flags.get("clock-offset-ms");
  if (offsetRaw !== undefined && !/^-?\d{1,12}$/.test(offsetRaw)) {
    throw usageError(`--clock-offset-ms must be an integer (ms), got "${offsetRaw}"`);
  }
  const withClock: CameraConfig = offsetRaw !== undefined && Number(offsetRaw) !== 0
    ? { ...withB, clockOffsetMs: Number(offsetRaw) }
    : withB;
  const withLoop: CameraConfig = loopFile !== undefined ? { ...withClock, loopFile } : withClock;
  if (user !== undefined && password !== undefined) {
    if (user.length === 0 || user.includes(":")) {
      throw usageError("--user must be non-empty and contain no ':'");
    }
    return { ...withLoop, user, password };
  }
  return withLoop;
}

/** The inverse of {@link parseCameraArgs}. */
export function cameraArgs(cfg: CameraConfig): string[] {
  const out = [
    "--rtsp-port",
    String(cfg.rtspPort),
    "--onvif-port",
    String(cfg.onvifPort),
    "--codec",
    cfg.codec,
    "--width",
    String(cfg.width),
    "--height",
    String(cfg.height),
    "--fps",
    String(cfg.fps),
    "--bitrate",
    String(cfg.bitrateKbps),
    "--serial",
    cfg.serial,
    "--model",
    cfg.model,
    "--manufacturer",
    cfg.manufacturer,
    "--firmware",
    cfg.firmware,
    "--name",
    cfg.name,
  ];
  if (cfg.user !== undefined && cfg.password !== undefined) {
    out.push("--user", cfg.user, "--password", cfg.password);
  }
  if (cfg.loopFile !== undefined) out.push("--loop-file", cfg.loopFile);
  if (cfg.audio !== undefined && cfg.audio !== "none") out.push("--audio", cfg.audio);
  if (cfg.bframes) out.push("--bframes", String(cfg.bframes));
  if (cfg.discovery) out.push("--discovery");
  if (cfg.noEvents) out.push("--no-events");
  if (cfg.motionEveryMs !== undefined) out.push("--motion-every-ms", String(cfg.motionEveryMs));
  if (cfg.ptz) out.push("--ptz");
  if (cfg.clockOffsetMs) out.push("--clock-offset-ms", String(cfg.clockOffsetMs));
  if (cfg.exitOnStdinEof) out.push("--exit-on-stdin-eof");
  return out;
}

/** The intervideo channel between the PTZ scene pipeline and the streams (one camera a process). */
export const PTZ_CHANNEL = "ptz-view";
/** Name of the scene's videocrop element, whose properties a PTZ move changes. */
export const PTZ_CROP = "ptzcrop";

/**
 * The PTZ camera's view: a still test scene SCENE_FACTOR (2) times the picture size, cut by
 * `videocrop` (its left/right/top/bottom are set at run time from the head's position), scaled to
 * the picture size, with the clock burnt in, into an intervideo channel that /main, /sub and the
 * snapshots read. The scene is still, so any change below the clock is the head moving: concentric
 * rings (`circular`), which change under any pan, tilt or zoom; not `smpte`, whose lower right
 * corner is random noise that changes every frame.
 */
export function sceneLaunch(cfg: CameraConfig): string {
  const c = cropFor({ pan: 0, tilt: 0, zoom: 0 }, cfg.width, cfg.height);
  return `videotestsrc is-live=true pattern=circular ! video/x-raw,format=I420,` +
    `width=${cfg.width * SCENE_FACTOR},height=${cfg.height * SCENE_FACTOR},` +
    `framerate=${cfg.fps}/1 ! videocrop name=${PTZ_CROP} ` +
    `left=${c.left} right=${c.right} top=${c.top} bottom=${c.bottom} ` +
    `! videoscale ! video/x-raw,width=${cfg.width},height=${cfg.height} ` +
    `! clockoverlay text="${cfg.name}" time-format="%Y-%m-%d %H:%M:%S" shaded-background=true ` +
    `! intervideosink channel=${PTZ_CHANNEL}`;
}

/** Moving test picture with the wall clock burnt in, so a frame shows when it was made. */
function source(cfg: CameraConfig, width: number, height: number, live: boolean): string {
  if (cfg.ptz) {
    // The PTZ view (sceneLaunch), scaled to this stream's size.
    return `intervideosrc channel=${PTZ_CHANNEL}${live ? "" : " num-buffers=1"} ! videoconvert ` +
      `! videoscale ! video/x-raw,format=I420,width=${width},height=${height}${
        live ? `,framerate=${cfg.fps}/1` : ""
      }`;
  }
  return `videotestsrc ${
    live ? "is-live=true " : "num-buffers=1 "
  }pattern=ball animation-mode=wall-time ` +
    `! video/x-raw,format=I420,width=${width},height=${height}${
      live ? `,framerate=${cfg.fps}/1` : ""
    } ` +
    `! clockoverlay text="${cfg.name}" time-format="%Y-%m-%d %H:%M:%S" shaded-background=true`;
}

/**
 * `/main` from a pre-encoded clip, looped: multifilesrc re-reads the file at its end and h265parse
 * cuts it into access units with decode times from the frame rate, which run on across loops.
 * h265parse leaves presentation times unset (rtph265pay would then send every frame with the same
 * RTP timestamp), so mpegtsmux (which takes DTS for PTS, right here: the clip has no B-frames) and
 * tsdemux give every frame a PTS; clocksync paces them in real time. No encoder: one such mount
 * costs a few percent of a core however many clients share it.
 */
export function loopLaunch(cfg: CameraConfig, loopFile: string): string {
  return `multifilesrc location="${loopFile}" loop=true ` +
    `caps="video/x-h265,stream-format=byte-stream,framerate=${cfg.fps}/1" ` +
    "! h265parse ! mpegtsmux ! tsdemux ! h265parse ! clocksync " +
    "! rtph265pay name=pay0 config-interval=-1 pt=96";
}

/**
 * `/main`: H.265 or H.264 at the configured size, a keyframe every second (or the loop file).
 * Low-latency encoding has no B-frames; with `bframes` the encoder reorders (not zero-latency).
 */
export function mainLaunch(cfg: CameraConfig): string {
  if (cfg.loopFile !== undefined) return loopLaunch(cfg, cfg.loopFile) + audioLaunch(cfg);
  const b = cfg.bframes ?? 0;
  const enc = cfg.codec === "h265"
    ? `x265enc speed-preset=ultrafast ${
      b > 0
        ? `option-string="bframes=${b}:b-adapt=0:rc-lookahead=${b + 1}:open-gop=0"`
        : "tune=zerolatency"
    } key-int-max=${cfg.fps} bitrate=${cfg.bitrateKbps} ` +
      `log-level=error ! h265parse ! rtph265pay name=pay0 config-interval=-1 pt=96`
    : `x264enc speed-preset=ultrafast ${
      b > 0 ? `bframes=${b} b-adapt=false rc-lookahead=${b + 1}` : "tune=zerolatency"
    } key-int-max=${cfg.fps} bitrate=${cfg.bitrateKbps} ` +
      // Baseline (what the payloader's caps would otherwise pick) has no B-frames.
      `${b > 0 ? "! video/x-h264,profile=main " : ""}` +
      `! h264parse ! rtph264pay name=pay0 config-interval=-1 pt=96`;
  return `${source(cfg, cfg.width, cfg.height, true)} ! ${enc}${audioLaunch(cfg)}`;
}

/**
 * The audio stream of `/main` (" audiotestsrc … ! pay1", or "" for none): a tick a second, in
 * 20 ms packets for G.711 (8 kHz, payload types 0 and 8) and AAC-LC at 16 kHz (MPEG4-GENERIC).
 */
export function audioLaunch(cfg: CameraConfig): string {
  const tone = (rate: number) =>
    `audiotestsrc is-live=true wave=ticks samplesperbuffer=${rate / 50} ` +
    `! audio/x-raw,rate=${rate},channels=1`;
  switch (cfg.audio) {
    case "aac":
      return ` ${tone(16000)} ! voaacenc bitrate=32000 ! aacparse ! rtpmp4gpay name=pay1 pt=97`;
    case "pcma":
      return ` ${tone(8000)} ! alawenc ! rtppcmapay name=pay1`;
    case "pcmu":
      return ` ${tone(8000)} ! mulawenc ! rtppcmupay name=pay1`;
    default:
      return "";
  }
}

/** `/sub`: always H.264 constrained-baseline 640x360 (browser friendly), low bitrate. */
export function subLaunch(cfg: CameraConfig): string {
  return `${
    source(cfg, SUB_WIDTH, SUB_HEIGHT, true)
  } ! x264enc speed-preset=ultrafast tune=zerolatency ` +
    `key-int-max=${cfg.fps} bitrate=${SUB_BITRATE_KBPS} ! video/x-h264,profile=constrained-baseline ` +
    `! h264parse ! rtph264pay name=pay0 config-interval=-1 pt=96`;
}

/** One JPEG at the main resolution, written to `path`. */
export function snapshotLaunch(cfg: CameraConfig, path: string): string {
  if (/["\\]/.test(path)) {
    throw new Error(`snapshot path must not contain quotes or backslashes: ${path}`);
  }
  return `${
    source(cfg, cfg.width, cfg.height, false)
  } ! jpegenc quality=85 ! filesink location="${path}"`;
}
