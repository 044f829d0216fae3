/**
 * A pre-encoded H.265 clip that a virtual camera serves in a loop without encoding
 * (`--loop-file`), so that many 1080p streams cost the sim almost nothing.
 *
 * Every frame of the clip carries a marker: a prefix SEI NAL unit (user data unregistered) holding
 * {@link FRAME_MARKER_UUID} and the frame's index in the clip as six ASCII digits. Recorders copy
 * SEI through, so the markers can be read back from the recorded files with
 * {@link findFrameMarkers} to tell exactly which source frames landed on disk: a hole in the
 * sequence is a lost frame, a repeat is a duplicate. The marker bytes hold no zero byte, so they
 * need no emulation prevention and read the same in Annex B and in MP4 (length-prefixed) files.
 *
 *   const clip = await ensureLoopClip("/tmp/nvr-clips", { width: 1920, height: 1080, fps: 15,
 *     bitrateKbps: 4000, seconds: 15 });
 *   // startVirtualCamera({ loopFile: clip.path, width: 1920, height: 1080, fps: 15 })
 */

export interface LoopClipOptions {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Target bit rate (x265 ABR with a VBV cap at the same rate). */
  readonly bitrateKbps: number;
  /** Whole seconds; the clip is `seconds × fps` frames. */
  readonly seconds: number;
  /** Seconds between keyframes (closed GOPs); default 1. Must divide `seconds`. */
  readonly gopSeconds?: number;
  /**
   * Mix in sensor-like noise (videotestsrc's snow at 12 % opacity): a clean test pattern
   * compresses unrealistically well, and a camera's encoder spends its bits on noise. Default
   * false (the tests' small clips).
   */
  readonly noise?: boolean;
}

export interface LoopClip extends LoopClipOptions {
  /** Annex B H.265 file (VPS/SPS/PPS before every IDR), markers stamped. */
  readonly path: string;
  /** Frames in one pass of the clip; markers run 0 … frames − 1. */
  readonly frames: number;
  readonly bytes: number;
  /** What the file really averages: bytes × 8 / seconds / 1000. */
  readonly measuredKbps: number;
}

/** 16 bytes, none zero: "nvr-sim-frame-no". */
export const FRAME_MARKER_UUID: Uint8Array = new TextEncoder().encode("nvr-sim-frame-no");
const MARKER_DIGITS = 6;
const SEI_PREFIX_NUT = 39;
const SEI_USER_DATA_UNREGISTERED = 5;

export class LoopClipError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LoopClipError";
  }
}

/** The cache file name for these options, e.g. `loop-h265-1920x1080-15fps-4000k-15s-v1.h265`. */
export function loopClipFileName(o: LoopClipOptions): string {
  const gop = (o.gopSeconds ?? 1) === 1 ? "" : `-gop${o.gopSeconds}`;
  const noise = o.noise ? "-noise" : "";
  return `loop-h265-${o.width}x${o.height}-${o.fps}fps-${o.bitrateKbps}k-${o.seconds}s${gop}` +
    `${noise}-v1.h265`;
}

function checkOptions(o: LoopClipOptions): void {
  const bad = (key: string, v: number, allowed: string) =>
    new LoopClipError(`loop clip: ${key} must be ${allowed}, got ${v}`);
  const intIn = (key: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw bad(key, v, `an integer ${min}..${max}`);
  };
  intIn("width", o.width, 16, 4096);
  intIn("height", o.height, 16, 4096);
  if (o.width % 2 !== 0 || o.height % 2 !== 0) throw bad("width/height", o.width, "even");
  intIn("fps", o.fps, 1, 120);
  intIn("bitrateKbps", o.bitrateKbps, 16, 200_000);
  intIn("seconds", o.seconds, 1, 600);
  const gop = o.gopSeconds ?? 1;
  intIn("gopSeconds", gop, 1, 10);
  if (o.seconds % gop !== 0) throw bad("seconds", o.seconds, `a multiple of gopSeconds (${gop})`);
  if (o.seconds * o.fps >= 10 ** MARKER_DIGITS) {
    throw bad("seconds × fps", o.seconds * o.fps, `below ${10 ** MARKER_DIGITS}`);
  }
}

/**
 * The gst-launch description that encodes the raw clip (no markers yet): a moving colour-bar
 * picture with the clip's own running time burnt in, x265 ultrafast/zerolatency (no B-frames, so
 * DTS = PTS), closed one-second GOPs starting with an IDR, parameter sets repeated before every
 * IDR so the loop can restart anywhere a keyframe is.
 */
export function loopClipEncodeLaunch(o: LoopClipOptions, path: string): string {
  checkOptions(o);
  if (/["\\]/.test(path)) {
    throw new LoopClipError(`loop clip path must not contain quotes: ${path}`);
  }
  const opts = `open-gop=0:scenecut=0:repeat-headers=1:vbv-maxrate=${o.bitrateKbps}` +
    `:vbv-bufsize=${o.bitrateKbps}`;
  const frames = o.seconds * o.fps;
  const caps = `video/x-raw,format=I420,width=${o.width},height=${o.height},framerate=${o.fps}/1`;
  // Noise: snow mixed over the picture (a new random field every frame, like a sensor's).
  const mix = o.noise ? "! compositor name=mix sink_1::alpha=0.12 ! video/x-raw,format=I420 " : "";
  const snow = o.noise ? ` videotestsrc num-buffers=${frames} pattern=snow ! ${caps} ! mix.` : "";
  return `videotestsrc num-buffers=${frames} pattern=smpte horizontal-speed=4 ` +
    `! ${caps} ! timeoverlay shaded-background=true ${mix}` +
    `! x265enc speed-preset=ultrafast tune=zerolatency key-int-max=${
      o.fps * (o.gopSeconds ?? 1)
    } ` +
    `bitrate=${o.bitrateKbps} option-string="${opts}" log-level=error ` +
    `! h265parse ! video/x-h265,stream-format=byte-stream,alignment=au ` +
    `! filesink location="${path}"${snow}`;
}

/** Start offsets of the NAL units (first byte after each start code) of an Annex B stream. */
function nalStarts(b: Uint8Array): number[] {
  const starts: number[] = [];
  let i = 0;
  while (i + 2 < b.length) {
    const one = b.indexOf(1, i + 2);
    if (one < 0) break;
    if (b[one - 1] === 0 && b[one - 2] === 0) {
      starts.push(one + 1);
      i = one + 1;
    } else {
      i = one - 1;
    }
  }
  return starts;
}

/** The marker NAL unit with its 4-byte start code, for frame `index`. */
export function frameMarkerNal(index: number): Uint8Array {
  const digits = String(index).padStart(MARKER_DIGITS, "0");
  if (!Number.isInteger(index) || index < 0 || digits.length !== MARKER_DIGITS) {
    throw new LoopClipError(`frame marker index out of range: ${index}`);
  }
  const payloadSize = FRAME_MARKER_UUID.length + MARKER_DIGITS;
  return new Uint8Array([
    0,
    0,
    0,
    1,
    SEI_PREFIX_NUT << 1, // forbidden 0, nal_unit_type 39, layer 0 …
    1, // … temporal_id_plus1 1
    SEI_USER_DATA_UNREGISTERED,
    payloadSize,
    ...FRAME_MARKER_UUID,
    ...new TextEncoder().encode(digits),
    0x80, // rbsp_trailing_bits
  ]);
}

/**
 * Inserts a frame marker before the first slice of every picture of an H.265 Annex B stream
 * (after the picture's parameter sets and SEI). Returns the stamped stream and the frame count.
 */
export function stampFrameMarkers(annexB: Uint8Array): { data: Uint8Array; frames: number } {
  const starts = nalStarts(annexB);
  const parts: Uint8Array[] = [];
  let copied = 0;
  let frames = 0;
  for (const s of starts) {
    const type = ((annexB[s] ?? 0) >> 1) & 0x3f;
    const firstSliceOfPicture = type < 32 && ((annexB[s + 2] ?? 0) & 0x80) !== 0;
    if (!firstSliceOfPicture) continue;
    // Back up over the start code (3 or 4 bytes) so the marker goes in front of it.
    let at = s - 3;
    if (at > 0 && annexB[at - 1] === 0) at--;
    parts.push(annexB.subarray(copied, at), frameMarkerNal(frames));
    copied = at;
    frames++;
  }
  parts.push(annexB.subarray(copied));
  const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.length;
  }
  return { data, frames };
}

/** The frame indices of every marker in `bytes` (any container), in file order. */
export function findFrameMarkers(bytes: Uint8Array): number[] {
  const out: number[] = [];
  const u = FRAME_MARKER_UUID;
  const first = u[0] ?? 0;
  const end = bytes.length - u.length - MARKER_DIGITS;
  let i = bytes.indexOf(first);
  while (i >= 0 && i <= end) {
    let match = true;
    for (let k = 1; k < u.length; k++) {
      if (bytes[i + k] !== u[k]) {
        match = false;
        break;
      }
    }
    if (match) {
      let n = 0;
      let ok = true;
      for (let k = 0; k < MARKER_DIGITS; k++) {
        const d = (bytes[i + u.length + k] ?? 0) - 48;
        if (d < 0 || d > 9) ok = false;
        n = n * 10 + d;
      }
      if (ok) out.push(n);
      i = bytes.indexOf(first, i + u.length);
    } else {
      i = bytes.indexOf(first, i + 1);
    }
  }
  return out;
}

/**
 * Returns the clip for `opts` from `dir`, encoding it first if it is not there yet (a 15 s 1080p
 * clip takes about 7 s on 2 cores). The file is written under a temporary name and renamed, so a
 * crash never leaves a half clip behind. Needs gst-launch-1.0 with x265enc (gstreamer1.0-plugins-bad).
 */
export async function ensureLoopClip(dir: string, opts: LoopClipOptions): Promise<LoopClip> {
  checkOptions(opts);
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${loopClipFileName(opts)}`;
  const frames = opts.seconds * opts.fps;
  const info = (bytes: number): LoopClip => ({
    ...opts,
    path,
    frames,
    bytes,
    measuredKbps: Math.round(bytes * 8 / opts.seconds / 1000),
  });
  try {
    return info((await Deno.stat(path)).size);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const raw = `${path}.${crypto.randomUUID().slice(0, 8)}.raw`;
  try {
    const launch = loopClipEncodeLaunch(opts, raw);
    const out = await new Deno.Command("gst-launch-1.0", {
      args: ["-q", ...splitLaunch(launch)],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new LoopClipError(
        `encoding the loop clip failed (gst-launch-1.0 exit ${out.code}): ` +
          `${new TextDecoder().decode(out.stderr).trim()}. Pipeline: ${launch}. ` +
          "Install gstreamer1.0-plugins-bad (x265enc) and gstreamer1.0-plugins-base.",
      );
    }
    const stamped = stampFrameMarkers(await Deno.readFile(raw));
    if (stamped.frames !== frames) {
      throw new LoopClipError(
        `the encoded loop clip has ${stamped.frames} frames, expected ${frames} (${launch})`,
      );
    }
    const tmp = `${raw}.stamped`;
    await Deno.writeFile(tmp, stamped.data);
    await Deno.rename(tmp, path);
    return info(stamped.data.length);
  } finally {
    await Deno.remove(raw).catch(() => {});
    await Deno.remove(`${raw}.stamped`).catch(() => {});
  }
}

/** Splits a launch description into gst-launch-1.0 arguments, keeping "quoted" parts whole. */
function splitLaunch(launch: string): string[] {
  const args: string[] = [];
  for (const m of launch.matchAll(/(?:[^\s"]+|"[^"]*")+/g)) {
    args.push(m[0].replace(/"/g, ""));
  }
  return args;
}
