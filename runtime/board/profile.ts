/**
 * Board profiles: which GStreamer elements encode and decode on a board, in order of preference,
 * with their property templates. Data lives in profiles/<id>.json (imported, so `deno compile`
 * embeds it); profiles/common.json holds the software elements appended after every board's
 * hardware ones, and a profile may `extend` another, replacing the keys it names.
 */
import type { BoardId } from "./detect.ts";
import { BOARD_IDS } from "./detect.ts";
import {
  asList,
  checkShape,
  DECODER_LISTS,
  ENCODER_LISTS,
  isObject,
  str,
} from "./_profile_check.ts";
import common from "./profiles/common.json" with { type: "json" };
import generic from "./profiles/generic.json" with { type: "json" };
import jetson from "./profiles/jetson.json" with { type: "json" };
import jetsonOrinNano from "./profiles/jetson-orin-nano.json" with { type: "json" };
import rockchip from "./profiles/rockchip.json" with { type: "json" };
import rpi4 from "./profiles/rpi4.json" with { type: "json" };
import rpi5 from "./profiles/rpi5.json" with { type: "json" };
import x86 from "./profiles/x86.json" with { type: "json" };

/** The raw profile files by id (tests check that every file in profiles/ is here). */
export const PROFILE_FILES: Readonly<Record<BoardId, unknown>> = {
  rpi4,
  rpi5,
  jetson,
  "jetson-orin-nano": jetsonOrinNano,
  rockchip,
  x86,
  generic,
};
export const COMMON_PROFILE_FILE: unknown = common;

/** An encoder element and how to feed it. Templates take {bps}, {kbps} and {gop}. */
export interface EncoderSpec {
  readonly element: string;
  /** Property template, e.g. "bitrate={kbps} key-int-max={gop}". */
  readonly props: string;
  /** Fragment before the encoder when frames do not come from a decoder in `linksFrom`. */
  readonly convert: string;
  /** Decoders whose output the encoder takes as it is (same memory, e.g. NVMM). */
  readonly linksFrom: readonly string[];
  /** Caps right after the encoder, e.g. "video/x-h264,level=(string)4"; "" for none. */
  readonly caps: string;
  readonly maxWidth: number | null;
  readonly maxHeight: number | null;
  readonly maxFps: number | null;
  /** What to expect from a software encoder, for the plan's reason. */
  readonly speed: string | null;
  /** The Debian package that installs it, for error messages. */
  readonly package: string | null;
  /** True for the board's own elements, false for common.json's software ones. */
  readonly hardware: boolean;
}

export interface DecoderSpec {
  readonly element: string;
  readonly props: string;
  /** Fragment before the decoder, e.g. "jpegparse". */
  readonly before: string;
  /** Fragment after the decoder when the encoder cannot take its memory, e.g. NVMM to system. */
  readonly download: string;
  readonly package: string | null;
  readonly hardware: boolean;
}

/** How many H.265 → H.264 transcodes the box runs at once, and where that number comes from. */
export interface TranscodeCapacity {
  readonly maxSessions: number;
  /** Measured (where, when) or the vendor's document it is argued from. */
  readonly basis: string;
}

export type EncodedCodec = "h265" | "h264";
export type DecodedCodec = "h265" | "h264" | "mjpeg";

export interface BoardProfile {
  readonly id: BoardId;
  readonly name: string;
  /** Hardware first, then software, each in order of preference. */
  readonly encoders: Readonly<Record<EncodedCodec, readonly EncoderSpec[]>>;
  readonly decoders: Readonly<Record<DecodedCodec, readonly DecoderSpec[]>>;
  readonly notes: readonly string[];
  /**
   * The transcode cap: `hardware` (the board's own, null if it has none) applies when the
   * transcode plan encodes with one of the board's encoders; `software` (common.json, measured)
   * otherwise. See transcode_plan.ts `transcodeCapacity`.
   */
  readonly transcode: {
    readonly hardware: TranscodeCapacity | null;
    readonly software: TranscodeCapacity;
  };
}

export class ProfileError extends Error {
  readonly file: string;
  constructor(file: string, problems: readonly string[]) {
    super(
      `Board profile ${file} is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
        "Fix the file (see runtime/board/README.md for the keys).",
    );
    this.name = "ProfileError";
    this.file = file;
  }
}

/** The profile for a board: its own hardware elements, then the common software ones. */
export function loadProfile(id: BoardId): BoardProfile {
  if (!BOARD_IDS.includes(id)) {
    throw new ProfileError(`profiles/${id}.json`, [
      `no profile for board '${id}'; known: ${BOARD_IDS.join(", ")}`,
    ]);
  }
  return buildProfile(id, PROFILE_FILES, COMMON_PROFILE_FILE);
}

/** Resolves `extends`, validates, and appends the common software elements. Exported for tests. */
export function buildProfile(
  id: string,
  files: Readonly<Record<string, unknown>>,
  commonFile: unknown,
): BoardProfile {
  const chain: Record<string, unknown>[] = [];
  for (let at: string | undefined = id; at !== undefined;) {
    const file = `profiles/${at}.json`;
    const raw: unknown = files[at];
    if (!isObject(raw)) throw new ProfileError(file, [`missing, or not a JSON object`]);
    if (chain.includes(raw)) throw new ProfileError(file, [`'extends' makes a loop`]);
    const problems = checkShape(raw, at);
    if (problems.length > 0) throw new ProfileError(file, problems);
    chain.push(raw);
    at = typeof raw.extends === "string" ? raw.extends : undefined;
  }
  const pick = (key: string): unknown => chain.find((p) => key in p)?.[key];
  if (!isObject(commonFile)) throw new ProfileError("profiles/common.json", ["not a JSON object"]);
  const commonProblems = checkShape(commonFile, null);
  if (commonProblems.length > 0) throw new ProfileError("profiles/common.json", commonProblems);

  const encoders = (codec: EncodedCodec): EncoderSpec[] => [
    ...asList(pick(ENCODER_LISTS[codec])).map((e) => encoder(e, true)),
    ...asList(commonFile[ENCODER_LISTS[codec]]).map((e) => encoder(e, false)),
  ];
  const decoders = (codec: DecodedCodec): DecoderSpec[] => [
    ...asList(pick(DECODER_LISTS[codec])).map((d) => decoder(d, true)),
    ...asList(commonFile[DECODER_LISTS[codec]]).map((d) => decoder(d, false)),
  ];
  return {
    id: id as BoardId,
    name: String(pick("name")),
    encoders: { h265: encoders("h265"), h264: encoders("h264") },
    decoders: { h265: decoders("h265"), h264: decoders("h264"), mjpeg: decoders("mjpeg") },
    notes: asList(pick("notes")).map(String),
    transcode: {
      hardware: capacity(pick("transcode")),
      software: capacity(commonFile.transcode)!,
    },
  };
}

/** Fills a property template: {bps}, {kbps}, {gop}. */
export function fillTemplate(template: string, values: { kbps: number; gop: number }): string {
  return template
    .replaceAll("{bps}", String(Math.round(values.kbps * 1000)))
    .replaceAll("{kbps}", String(Math.round(values.kbps)))
    .replaceAll("{gop}", String(Math.round(values.gop)));
}

function capacity(raw: unknown): TranscodeCapacity | null {
  if (!isObject(raw)) return null;
  return { maxSessions: Number(raw.maxSessions), basis: String(raw.basis) };
}

function encoder(raw: unknown, hardware: boolean): EncoderSpec {
  const e = raw as Record<string, unknown>;
  return {
    element: String(e.element),
    props: str(e.props),
    convert: str(e.convert),
    linksFrom: asList(e.linksFrom).map(String),
    caps: str(e.caps),
    maxWidth: typeof e.maxWidth === "number" ? e.maxWidth : null,
    maxHeight: typeof e.maxHeight === "number" ? e.maxHeight : null,
    maxFps: typeof e.maxFps === "number" ? e.maxFps : null,
    speed: typeof e.speed === "string" ? e.speed : null,
    package: typeof e.package === "string" ? e.package : null,
    hardware,
  };
}

function decoder(raw: unknown, hardware: boolean): DecoderSpec {
  const d = raw as Record<string, unknown>;
  return {
    element: String(d.element),
    props: str(d.props),
    before: str(d.before),
    download: str(d.download),
    package: typeof d.package === "string" ? d.package : null,
    hardware,
  };
}
