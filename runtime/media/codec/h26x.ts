/**
 * H.264 and H.265 NAL unit helpers: NAL types, Annex B splitting and a sequence parameter set
 * parser that gives the picture size, the codec string browsers want and what avcC/hvcC need.
 * Camera data is hostile: every read is bounds-checked and every loop bounded, and bad input ends
 * in an SpsParseError, never in another exception or a hang.
 */

import type { VideoCodec } from "./types.ts";

export type { VideoCodec };

/** What a sequence parameter set says, as far as an MP4 writer and a browser need it. */
export interface SpsInfo {
  readonly codec: VideoCodec;
  /** Displayed size: coded size minus the cropping (conformance) window. */
  readonly width: number;
  readonly height: number;
  /** Coded size before cropping (e.g. 1920×1088 for H.264 1080p). */
  readonly codedWidth: number;
  readonly codedHeight: number;
  /** RFC 6381 codec string, e.g. "avc1.64001f" or "hvc1.1.6.L93.B0". */
  readonly codecString: string;
  /** H.265 general_profile_space (0 for H.264). */
  readonly profileSpace: number;
  /** H.265 general_tier_flag (0 for H.264). */
  readonly tierFlag: number;
  readonly profileIdc: number;
  /** H.265 general_profile_compatibility_flags (32 bits); H.264: the constraint_set byte. */
  readonly profileCompatibilityFlags: number;
  /** H.265: the 48 general constraint indicator bits (6 bytes); H.264: the constraint_set byte. */
  readonly constraintIndicatorFlags: Uint8Array;
  readonly levelIdc: number;
  readonly chromaFormatIdc: number;
  readonly bitDepthLuma: number;
  readonly bitDepthChroma: number;
  /** H.265 sps_max_sub_layers_minus1 + 1 (1 for H.264). */
  readonly maxSubLayers: number;
  /** H.265 sps_temporal_id_nesting_flag (true for H.264). */
  readonly temporalIdNesting: boolean;
  /** Not parsed from the VUI; 0 means "no restriction", which is always a valid hvcC value. */
  readonly minSpatialSegmentation: 0;
  /** 0 means "unknown or mixed", always a valid hvcC value. */
  readonly parallelismType: 0;
}

export class SpsParseError extends Error {
  readonly codec: VideoCodec;
  constructor(codec: VideoCodec, what: string) {
    super(
      `${codecName(codec)} SPS cannot be parsed: ${what}. The camera sent a damaged or ` +
        "unsupported parameter set; check its encoder settings or reconnect to get a fresh one.",
    );
    this.name = "SpsParseError";
    this.codec = codec;
  }
}

function codecName(codec: VideoCodec): string {
  return codec === "h264" ? "H.264" : "H.265";
}

/** The NAL unit type (H.264: 5 bits, H.265: 6 bits); -1 for an empty unit. */
export function nalType(codec: VideoCodec, nal: Uint8Array): number {
  const first = nal[0];
  if (first === undefined) return -1;
  return codec === "h264" ? first & 0x1f : (first >> 1) & 0x3f;
}

/** An IDR slice (H.264 type 5) or an IRAP slice (H.265 types 16–23). */
export function isKeyframeNal(codec: VideoCodec, nal: Uint8Array): boolean {
  const t = nalType(codec, nal);
  return codec === "h264" ? t === 5 : t >= 16 && t <= 23;
}

/** Which parameter set a NAL unit is, or null. */
export function parameterSetKind(codec: VideoCodec, nal: Uint8Array): "vps" | "sps" | "pps" | null {
  const t = nalType(codec, nal);
  if (codec === "h264") return t === 7 ? "sps" : t === 8 ? "pps" : null;
  return t === 32 ? "vps" : t === 33 ? "sps" : t === 34 ? "pps" : null;
}

export function isAccessUnitDelimiter(codec: VideoCodec, nal: Uint8Array): boolean {
  return nalType(codec, nal) === (codec === "h264" ? 9 : 35);
}

/** A coded slice (VCL NAL unit): H.264 types 1–5, H.265 types 0–31. */
export function isSliceNal(codec: VideoCodec, nal: Uint8Array): boolean {
  const t = nalType(codec, nal);
  return codec === "h264" ? t >= 1 && t <= 5 : t >= 0 && t <= 31;
}

/**
 * A slice that starts a new picture: H.264 first_mb_in_slice == 0, H.265
 * first_slice_segment_in_pic_flag. False for anything that is not a slice.
 */
export function isFirstSliceOfPicture(codec: VideoCodec, nal: Uint8Array): boolean {
  if (!isSliceNal(codec, nal)) return false;
  // first_mb_in_slice is ue(v): the value 0 is coded as the single bit "1".
  const b = codec === "h264" ? nal[1] : nal[2];
  return b !== undefined && (b & 0x80) !== 0;
}

/**
 * Splits an Annex B byte stream at its 3- and 4-byte start codes. The units are subarrays of
 * `bytes` (no copies); bytes before the first start code and empty units are dropped, and the
 * zero bytes of a following 4-byte start code (or trailing_zero_8bits) are not part of a unit.
 */
export function splitAnnexB(bytes: Uint8Array): Uint8Array[] {
  const units: Uint8Array[] = [];
  const n = bytes.length;
  let start = -1; // first byte of the current unit
  let i = 0;
  while (i + 2 < n) {
    // Start code 00 00 01: look at the third byte first, it rules out most positions quickly.
    const b2 = bytes[i + 2]!;
    if (b2 > 1) {
      i += 3;
      continue;
    }
    if (b2 === 1 && bytes[i] === 0 && bytes[i + 1] === 0) {
      if (start >= 0) pushUnit(units, bytes, start, i);
      start = i + 3;
      i += 3;
      continue;
    }
    i++;
  }
  if (start >= 0) pushUnit(units, bytes, start, n);
  return units;
}

function pushUnit(units: Uint8Array[], bytes: Uint8Array, start: number, end: number): void {
  let e = end;
  while (e > start && bytes[e - 1] === 0) e--; // zero byte of a 4-byte start code / trailing zeros
  if (e > start) units.push(bytes.subarray(start, e));
}

/** The NAL unit with its emulation prevention bytes (the 03 in 00 00 03) removed: a copy. */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let o = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i]!;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[o++] = b;
  }
  return out.subarray(0, o);
}

/** Bit reader over an RBSP; every read past the end throws SpsParseError naming the field. */
class BitReader {
  #bytes: Uint8Array;
  #bit = 0;
  #codec: VideoCodec;

  constructor(codec: VideoCodec, bytes: Uint8Array, startByte: number) {
    this.#codec = codec;
    this.#bytes = bytes;
    this.#bit = startByte * 8;
  }

  #fail(field: string): never {
    throw new SpsParseError(
      this.#codec,
      `truncated at bit ${this.#bit} of ${this.#bytes.length * 8} while reading ${field}`,
    );
  }

  /** Reads `n` ≤ 32 bits as an unsigned number. */
  u(n: number, field: string): number {
    if (this.#bit + n > this.#bytes.length * 8) this.#fail(field);
    let v = 0;
    for (let k = 0; k < n; k++) {
      const byte = this.#bytes[this.#bit >> 3]!;
      v = v * 2 + ((byte >> (7 - (this.#bit & 7))) & 1);
      this.#bit++;
    }
    return v;
  }

  flag(field: string): boolean {
    return this.u(1, field) === 1;
  }

  skip(n: number, field: string): void {
    if (this.#bit + n > this.#bytes.length * 8) this.#fail(field);
    this.#bit += n;
  }

  /** Unsigned exp-Golomb, at most 32 leading zeros (values up to 2^32 − 2). */
  ue(field: string): number {
    let zeros = 0;
    while (this.u(1, field) === 0) {
      if (++zeros > 31) {
        throw new SpsParseError(this.#codec, `${field} is not a valid exp-Golomb code`);
      }
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.u(zeros, field);
  }

  /** Signed exp-Golomb. */
  se(field: string): number {
    const k = this.ue(field);
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Largest picture side we accept; anything bigger is garbage, not a camera. */
const MAX_SIDE = 16384;

/**
 * Parses a sequence parameter set (a NAL unit with its header, without start code). Throws
 * SpsParseError when the unit is not an SPS of `codec`, is truncated or holds impossible values.
 */
export function parseSps(codec: VideoCodec, sps: Uint8Array): SpsInfo {
  if (parameterSetKind(codec, sps) !== "sps") {
    throw new SpsParseError(
      codec,
      sps.length === 0 ? "the unit is empty" : `NAL unit type ${nalType(codec, sps)} is not an SPS`,
    );
  }
  const rbsp = unescapeRbsp(sps);
  return codec === "h264" ? parseH264Sps(rbsp) : parseH265Sps(rbsp);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

const H264_HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function parseH264Sps(rbsp: Uint8Array): SpsInfo {
  const r = new BitReader("h264", rbsp, 1);
  const profileIdc = r.u(8, "profile_idc");
  const constraintSet = r.u(8, "constraint_set flags");
  const levelIdc = r.u(8, "level_idc");
  const id = r.ue("seq_parameter_set_id");
  if (id > 31) throw new SpsParseError("h264", `seq_parameter_set_id ${id} is above 31`);
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  let bitDepthLuma = 8;
  let bitDepthChroma = 8;
  if (H264_HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue("chroma_format_idc");
    if (chromaFormatIdc > 3) {
      throw new SpsParseError("h264", `chroma_format_idc ${chromaFormatIdc} is above 3`);
    }
    if (chromaFormatIdc === 3) separateColourPlane = r.flag("separate_colour_plane_flag");
    bitDepthLuma = 8 + r.ue("bit_depth_luma_minus8");
    bitDepthChroma = 8 + r.ue("bit_depth_chroma_minus8");
    if (bitDepthLuma > 14 || bitDepthChroma > 14) {
      throw new SpsParseError("h264", `bit depth ${bitDepthLuma}/${bitDepthChroma} is above 14`);
    }
    r.skip(1, "qpprime_y_zero_transform_bypass_flag");
    if (r.flag("seq_scaling_matrix_present_flag")) {
      const lists = chromaFormatIdc === 3 ? 12 : 8;
      for (let i = 0; i < lists; i++) {
        if (!r.flag("seq_scaling_list_present_flag")) continue;
        const size = i < 6 ? 16 : 64;
        let last = 8;
        let next = 8;
        for (let j = 0; j < size; j++) {
          if (next !== 0) next = (last + r.se("delta_scale") + 256) % 256;
          last = next === 0 ? last : next;
        }
      }
    }
  }
  const log2MaxFrameNum = r.ue("log2_max_frame_num_minus4");
  if (log2MaxFrameNum > 12) {
    throw new SpsParseError("h264", `log2_max_frame_num_minus4 ${log2MaxFrameNum} is above 12`);
  }
  const pocType = r.ue("pic_order_cnt_type");
  if (pocType === 0) {
    r.ue("log2_max_pic_order_cnt_lsb_minus4");
  } else if (pocType === 1) {
    r.skip(1, "delta_pic_order_always_zero_flag");
    r.se("offset_for_non_ref_pic");
    r.se("offset_for_top_to_bottom_field");
    const cycle = r.ue("num_ref_frames_in_pic_order_cnt_cycle");
    if (cycle > 255) {
      throw new SpsParseError(
        "h264",
        `num_ref_frames_in_pic_order_cnt_cycle ${cycle} is above 255`,
      );
    }
    for (let i = 0; i < cycle; i++) r.se("offset_for_ref_frame");
  } else if (pocType !== 2) {
    throw new SpsParseError("h264", `pic_order_cnt_type ${pocType} is above 2`);
  }
  r.ue("max_num_ref_frames");
  r.skip(1, "gaps_in_frame_num_value_allowed_flag");
  const widthMbs = r.ue("pic_width_in_mbs_minus1") + 1;
  const heightMapUnits = r.ue("pic_height_in_map_units_minus1") + 1;
  const frameMbsOnly = r.flag("frame_mbs_only_flag");
  if (!frameMbsOnly) r.skip(1, "mb_adaptive_frame_field_flag");
  r.skip(1, "direct_8x8_inference_flag");
  const codedWidth = widthMbs * 16;
  const codedHeight = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16;
  checkSide("h264", "coded width", codedWidth);
  checkSide("h264", "coded height", codedHeight);
  let width = codedWidth;
  let height = codedHeight;
  if (r.flag("frame_cropping_flag")) {
    const left = r.ue("frame_crop_left_offset");
    const right = r.ue("frame_crop_right_offset");
    const top = r.ue("frame_crop_top_offset");
    const bottom = r.ue("frame_crop_bottom_offset");
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    const unitX = chromaArrayType === 0 ? 1 : subWidthC;
    const unitY = (chromaArrayType === 0 ? 1 : subHeightC) * (frameMbsOnly ? 1 : 2);
    width = codedWidth - unitX * (left + right);
    height = codedHeight - unitY * (top + bottom);
    checkSide("h264", "cropped width", width);
    checkSide("h264", "cropped height", height);
  }
  return {
    codec: "h264",
    width,
    height,
    codedWidth,
    codedHeight,
    codecString: `avc1.${hex2(profileIdc)}${hex2(constraintSet)}${hex2(levelIdc)}`,
    profileSpace: 0,
    tierFlag: 0,
    profileIdc,
    profileCompatibilityFlags: constraintSet,
    constraintIndicatorFlags: Uint8Array.of(constraintSet),
    levelIdc,
    chromaFormatIdc,
    bitDepthLuma,
    bitDepthChroma,
    maxSubLayers: 1,
    temporalIdNesting: true,
    minSpatialSegmentation: 0,
    parallelismType: 0,
  };
}

function checkSide(codec: VideoCodec, what: string, value: number): void {
  if (!(value >= 1 && value <= MAX_SIDE)) {
    throw new SpsParseError(codec, `${what} ${value} is outside 1..${MAX_SIDE}`);
  }
}

function parseH265Sps(rbsp: Uint8Array): SpsInfo {
  const r = new BitReader("h265", rbsp, 2);
  r.skip(4, "sps_video_parameter_set_id");
  const maxSubLayersMinus1 = r.u(3, "sps_max_sub_layers_minus1");
  if (maxSubLayersMinus1 > 6) {
    throw new SpsParseError("h265", `sps_max_sub_layers_minus1 ${maxSubLayersMinus1} is above 6`);
  }
  const temporalIdNesting = r.flag("sps_temporal_id_nesting_flag");
  // profile_tier_level(1, sps_max_sub_layers_minus1)
  const profileSpace = r.u(2, "general_profile_space");
  const tierFlag = r.u(1, "general_tier_flag");
  const profileIdc = r.u(5, "general_profile_idc");
  const compat = r.u(32, "general_profile_compatibility_flags");
  const constraint = new Uint8Array(6);
  for (let i = 0; i < 6; i++) constraint[i] = r.u(8, "general constraint indicator flags");
  const levelIdc = r.u(8, "general_level_idc");
  const subProfilePresent: boolean[] = [];
  const subLevelPresent: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subProfilePresent.push(r.flag("sub_layer_profile_present_flag"));
    subLevelPresent.push(r.flag("sub_layer_level_present_flag"));
  }
  if (maxSubLayersMinus1 > 0) r.skip(2 * (8 - maxSubLayersMinus1), "reserved_zero_2bits");
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subProfilePresent[i]) r.skip(88, "sub_layer profile");
    if (subLevelPresent[i]) r.skip(8, "sub_layer_level_idc");
  }
  const id = r.ue("sps_seq_parameter_set_id");
  if (id > 15) throw new SpsParseError("h265", `sps_seq_parameter_set_id ${id} is above 15`);
  const chromaFormatIdc = r.ue("chroma_format_idc");
  if (chromaFormatIdc > 3) {
    throw new SpsParseError("h265", `chroma_format_idc ${chromaFormatIdc} is above 3`);
  }
  const separateColourPlane = chromaFormatIdc === 3 && r.flag("separate_colour_plane_flag");
  const codedWidth = r.ue("pic_width_in_luma_samples");
  const codedHeight = r.ue("pic_height_in_luma_samples");
  checkSide("h265", "pic_width_in_luma_samples", codedWidth);
  checkSide("h265", "pic_height_in_luma_samples", codedHeight);
  let width = codedWidth;
  let height = codedHeight;
  if (r.flag("conformance_window_flag")) {
    const left = r.ue("conf_win_left_offset");
    const right = r.ue("conf_win_right_offset");
    const top = r.ue("conf_win_top_offset");
    const bottom = r.ue("conf_win_bottom_offset");
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    width = codedWidth - subWidthC * (left + right);
    height = codedHeight - subHeightC * (top + bottom);
    checkSide("h265", "cropped width", width);
    checkSide("h265", "cropped height", height);
  }
  const bitDepthLuma = 8 + r.ue("bit_depth_luma_minus8");
  const bitDepthChroma = 8 + r.ue("bit_depth_chroma_minus8");
  if (bitDepthLuma > 16 || bitDepthChroma > 16) {
    throw new SpsParseError("h265", `bit depth ${bitDepthLuma}/${bitDepthChroma} is above 16`);
  }
  return {
    codec: "h265",
    width,
    height,
    codedWidth,
    codedHeight,
    codecString: hevcCodecString(profileSpace, tierFlag, profileIdc, compat, constraint, levelIdc),
    profileSpace,
    tierFlag,
    profileIdc,
    profileCompatibilityFlags: compat,
    constraintIndicatorFlags: constraint,
    levelIdc,
    chromaFormatIdc,
    bitDepthLuma,
    bitDepthChroma,
    maxSubLayers: maxSubLayersMinus1 + 1,
    temporalIdNesting,
    minSpatialSegmentation: 0,
    parallelismType: 0,
  };
}

/** ISO/IEC 14496-15 Annex E: hvc1.<space><profile>.<compat reversed>.<tier><level>.<constraints> */
function hevcCodecString(
  space: number,
  tier: number,
  profile: number,
  compat: number,
  constraint: Uint8Array,
  level: number,
): string {
  let reversed = 0;
  for (let i = 0; i < 32; i++) reversed = reversed * 2 + Math.floor(compat / 2 ** i) % 2;
  let last = constraint.length;
  while (last > 0 && constraint[last - 1] === 0) last--;
  const parts = [
    "hvc1",
    `${["", "A", "B", "C"][space]}${profile}`,
    reversed.toString(16).toUpperCase(),
    `${tier ? "H" : "L"}${level}`,
  ];
  for (let i = 0; i < last; i++) parts.push(constraint[i]!.toString(16).toUpperCase());
  return parts.join(".");
}
