/**
 * USB (V4L2) cameras: find them under /sys, read what they offer (`v4l2-ctl --list-formats-ext`),
 * pick the capture caps, and build the pipeline head. The video plan owns every decoder (the MJPEG
 * one too, since it must know which memory its frames land in), so the source fragment here ends
 * at the capture caps and usbCameraLaunch joins the two.
 */
import type { BoardProfile } from "./profile.ts";
import type { ElementRegistry } from "./registry.ts";
import { type EncodeFallback, joinLaunch, planVideo, type VideoPlan } from "./video_plan.ts";

/** One capture mode the camera advertises. */
export interface V4l2Mode {
  /** V4L2 fourcc, e.g. "MJPG", "YUYV". */
  readonly fourcc: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
}

export interface CaptureChoice extends V4l2Mode {
  readonly kind: "mjpeg" | "raw";
  /** GStreamer caps for the capsfilter after v4l2src. */
  readonly caps: string;
}

export interface CaptureLimits {
  /** Largest frame taken; default 1920x1080 (what every board's encoder here can take). */
  readonly maxWidth?: number;
  readonly maxHeight?: number;
  /** Default 30. */
  readonly maxFps?: number;
  /** Modes slower than this are used only when nothing else is offered; default 15. */
  readonly minFps?: number;
}

export interface V4l2Device {
  /** "/dev/video0" */
  readonly device: string;
  /** "video0" */
  readonly node: string;
  /** What the driver calls it, e.g. "HD Pro Webcam C920". */
  readonly name: string;
  /** On USB (modalias "usb:…"), as opposed to the SoC's codec/ISP nodes. */
  readonly usb: boolean;
}

export class V4l2FormatError extends Error {
  readonly device: string;
  constructor(device: string, detail: string) {
    super(`USB camera ${device}: ${detail}`);
    this.name = "V4l2FormatError";
    this.device = device;
  }
}

/** V4L2 raw fourcc → GStreamer video/x-raw format. */
const RAW_FORMATS: Readonly<Record<string, string>> = {
  YUYV: "YUY2",
  UYVY: "UYVY",
  NV12: "NV12",
  YU12: "I420",
};
const JPEG_FOURCCS = ["MJPG", "JPEG"];
/** At and above this many pixels MJPEG wins: raw 720p30 YUYV (55 MB/s) does not fit USB 2. */
const MJPEG_FROM_PIXELS = 1280 * 720;

/** Parses `v4l2-ctl --list-formats-ext` (discrete sizes and intervals; others are skipped). */
export function parseV4l2Formats(text: string): V4l2Mode[] {
  const modes: V4l2Mode[] = [];
  let fourcc: string | null = null;
  let size: { width: number; height: number } | null = null;
  for (const line of text.split("\n")) {
    const format = line.match(/^\s*\[\d+\]:\s*'([^']+)'/);
    if (format) {
      fourcc = format[1]?.trim() ?? null;
      size = null;
      continue;
    }
    const sz = line.match(/^\s*Size:\s*Discrete\s+(\d+)x(\d+)/);
    if (sz) {
      size = { width: Number(sz[1]), height: Number(sz[2]) };
      continue;
    }
    const interval = line.match(/^\s*Interval:\s*Discrete\s+[\d.]+s\s+\(([\d.]+)\s+fps\)/);
    if (interval && fourcc && size) modes.push({ fourcc, ...size, fps: Number(interval[1]) });
  }
  return modes;
}

/**
 * The capture mode: the largest frame within the limits, then the highest fps; at 720p and above
 * MJPEG before raw (USB 2 bandwidth), below it raw before MJPEG (no decoding).
 */
export function chooseCapture(
  device: string,
  modes: readonly V4l2Mode[],
  limits: CaptureLimits = {},
): CaptureChoice {
  const { maxWidth = 1920, maxHeight = 1080, maxFps = 30, minFps = 15 } = limits;
  const usable = modes.filter((m) =>
    (JPEG_FOURCCS.includes(m.fourcc) || m.fourcc in RAW_FORMATS) &&
    m.width <= maxWidth && m.height <= maxHeight && m.fps <= maxFps + 0.01
  );
  const fast = usable.filter((m) => m.fps >= minFps - 0.01);
  const pool = fast.length > 0 ? fast : usable;
  const rank = (m: V4l2Mode): number => {
    const jpeg = JPEG_FOURCCS.includes(m.fourcc);
    return m.width * m.height >= MJPEG_FROM_PIXELS ? (jpeg ? 0 : 1) : (jpeg ? 1 : 0);
  };
  const best =
    [...pool].sort((a, b) =>
      b.width * b.height - a.width * a.height || b.fps - a.fps || rank(a) - rank(b)
    )[0];
  if (!best) {
    const offered = [...new Set(modes.map((m) => m.fourcc))].join(", ") || "nothing";
    throw new V4l2FormatError(
      device,
      `no MJPEG or raw (${Object.keys(RAW_FORMATS).join(", ")}) mode up to ` +
        `${maxWidth}x${maxHeight} at ${maxFps} fps; it offers ${offered}`,
    );
  }
  const kind = JPEG_FOURCCS.includes(best.fourcc) ? "mjpeg" : "raw";
  const dims = `width=${best.width},height=${best.height},framerate=${fpsFraction(best.fps)}`;
  const caps = kind === "mjpeg"
    ? `image/jpeg,${dims}`
    : `video/x-raw,format=${RAW_FORMATS[best.fourcc]},${dims}`;
  return { ...best, kind, caps };
}

/** "v4l2src device=/dev/video0 ! image/jpeg,width=1920,height=1080,framerate=30/1" */
export function v4l2SourceLaunch(device: string, capture: CaptureChoice): string {
  const plain = /^[A-Za-z0-9/_.-]+$/.test(device);
  const value = plain ? device : `"${device.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  return `v4l2src device=${value} ! ${capture.caps}`;
}

export interface UsbCameraOptions {
  readonly fallback: EncodeFallback;
  readonly bitrateKbps?: number;
  readonly camera?: string;
  readonly limits?: CaptureLimits;
}

/** Capture choice, video plan and the whole head: v4l2src ! caps ! [decoder !] encoder ! parse. */
export function usbCameraLaunch(
  device: string,
  modes: readonly V4l2Mode[],
  profile: BoardProfile,
  registry: ElementRegistry,
  options: UsbCameraOptions,
): { capture: CaptureChoice; plan: VideoPlan; launch: string } {
  const capture = chooseCapture(device, modes, options.limits);
  const plan = planVideo(
    {
      codec: capture.kind,
      fallback: options.fallback,
      fps: capture.fps,
      width: capture.width,
      height: capture.height,
      ...(options.bitrateKbps !== undefined ? { bitrateKbps: options.bitrateKbps } : {}),
      ...(options.camera !== undefined ? { camera: options.camera } : {}),
    },
    profile,
    registry,
  );
  return { capture, plan, launch: joinLaunch(v4l2SourceLaunch(device, capture), plan.launch) };
}

/**
 * Capture nodes under `<sysRoot>/class/video4linux`: index 0 only (a UVC camera's index 1 is its
 * metadata node), sorted by number. `usb` tells cameras from the SoC's own codec and ISP nodes.
 */
export async function discoverV4l2Devices(sysRoot = "/sys"): Promise<V4l2Device[]> {
  const dir = `${sysRoot}/class/video4linux`;
  const nodes: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (/^video\d+$/.test(entry.name)) nodes.push(entry.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  nodes.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  const devices: V4l2Device[] = [];
  for (const node of nodes) {
    const read = (name: string) => Deno.readTextFile(`${dir}/${node}/${name}`).catch(() => "");
    const [index, name, modalias] = await Promise.all([
      read("index"),
      read("name"),
      read("device/modalias"),
    ]);
    if (index.trim() !== "0") continue;
    devices.push({
      device: `/dev/${node}`,
      node,
      name: name.trim(),
      usb: modalias.startsWith("usb:"),
    });
  }
  return devices;
}

/** Runs `v4l2-ctl --list-formats-ext` (package v4l-utils) on a device. */
export async function readV4l2Formats(device: string): Promise<V4l2Mode[]> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("v4l2-ctl", {
      args: ["--list-formats-ext", "-d", device],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new V4l2FormatError(device, "v4l2-ctl not found; install v4l-utils");
    }
    throw err;
  }
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (!out.success) throw new V4l2FormatError(device, `v4l2-ctl failed: ${stderr}`);
  return parseV4l2Formats(new TextDecoder().decode(out.stdout));
}

/** 30 → "30/1", 7.5 → "15/2", 29.97 → "30000/1001". */
export function fpsFraction(fps: number): string {
  for (const den of [1, 2, 4]) {
    const num = fps * den;
    if (Math.abs(num - Math.round(num)) < 0.001) return `${Math.round(num)}/${den}`;
  }
  const ntsc = Math.round(fps * 1.001);
  if (Math.abs((ntsc * 1000) / 1001 - fps) < 0.01) return `${ntsc * 1000}/1001`;
  return `${Math.round(fps * 1000)}/1000`;
}
