/**
 * AAC over RTP as RFC 3640 "mpeg4-generic" sends it (mode AAC-hbr: sizeLength=13, indexLength=3,
 * indexDeltaLength=3 in the fmtp), and the AudioSpecificConfig from the fmtp's `config=`.
 *
 * Frames are copied out of the packet only when one spans several packets (fragments); otherwise
 * they are subarrays of the payload, which the caller must then not overwrite (see rtp_h26x.ts).
 */
import type { AudioAccessUnit } from "../codec/types.ts";
import { SequenceTracker, TimestampExtender } from "./rtp_unwrap.ts";

export class AacFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AacFormatError";
  }
}

export interface AacConfig {
  /** AudioSpecificConfig (ISO 14496-3), as the MP4 `esds` box wants it. */
  readonly config: Uint8Array;
  readonly sampleRate: number;
  readonly channels: number;
  /** Samples per frame: 1024, or 960 when the config's frameLengthFlag says so. */
  readonly frameLength: number;
}

/** AAC sampling_frequency_index → Hz (ISO/IEC 14496-3), shared with ADTS headers. */
export const AAC_SAMPLE_RATES: readonly number[] = [
  96000,
  88200,
  64000,
  48000,
  44100,
  32000,
  24000,
  22050,
  16000,
  12000,
  11025,
  8000,
  7350,
];
/** A fragmented frame larger than this is dropped (AAC frames are at most 6144 bits a channel). */
const MAX_FRAME_BYTES = 64 * 1024;

/** `a=fmtp` parameters with lower-case names: "mode=AAC-hbr; config=1408" → mode, config. */
export function fmtpParams(fmtp: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of fmtp.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return params;
}

/** Parses `config=` (hex AudioSpecificConfig) of an mpeg4-generic fmtp. Throws AacFormatError. */
export function aacConfigFromFmtp(fmtp: string): AacConfig {
  const hex = fmtpParams(fmtp).get("config") ?? "";
  if (!/^([0-9a-f]{2})+$/i.test(hex)) {
    throw new AacFormatError(
      `AAC fmtp "${fmtp}" has no valid config= (hex AudioSpecificConfig); the camera's SDP is ` +
        "incomplete: record without audio or change the camera's audio codec",
    );
  }
  const config = new Uint8Array(hex.length / 2);
  for (let i = 0; i < config.length; i++) config[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  const bits = new BitReader(config);
  let objectType = bits.read(5);
  if (objectType === 31) objectType = 32 + bits.read(6);
  const rateIndex = bits.read(4);
  const sampleRate = rateIndex === 15 ? bits.read(24) : AAC_SAMPLE_RATES[rateIndex];
  const channels = bits.read(4);
  // GASpecificConfig follows for AAC Main/LC/SSR/LTP/scalable: its first bit is frameLengthFlag.
  const frameLength = objectType >= 1 && objectType <= 7 && bits.left() > 0 && bits.read(1) === 1
    ? 960
    : 1024;
  if (sampleRate === undefined || sampleRate <= 0 || bits.overrun) {
    throw new AacFormatError(`AAC config=${hex}: invalid sampling frequency`);
  }
  if (channels < 1 || channels > 7) {
    throw new AacFormatError(
      `AAC config=${hex}: channel configuration ${channels} is not supported (1 to 7)`,
    );
  }
  return { config, sampleRate, channels: channels === 7 ? 8 : channels, frameLength };
}

/** RFC 3640 depacketizer for one AAC track. */
export class AacDepacketizer {
  readonly #sizeLength: number;
  readonly #indexLength: number;
  readonly #indexDeltaLength: number;
  readonly #frameLength: number;
  readonly #seq = new SequenceTracker();
  readonly #clock = new TimestampExtender();
  #lost = 0;
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  #fragmentSize = 0;
  #fragmentTimestamp = -1;

  /** `fmtp`: the track's a=fmtp parameters; `frameLength` from its config (1024 or 960). */
  constructor(fmtp: string, frameLength = 1024) {
    const params = fmtpParams(fmtp);
    const num = (name: string, fallback: number) => {
      const v = Number(params.get(name) ?? fallback);
      if (!Number.isInteger(v) || v < 0 || v > 32) {
        throw new AacFormatError(`AAC fmtp ${name}=${params.get(name)} is not 0 to 32`);
      }
      return v;
    };
    this.#sizeLength = num("sizelength", 13);
    this.#indexLength = num("indexlength", 3);
    this.#indexDeltaLength = num("indexdeltalength", 3);
    this.#frameLength = frameLength;
    if (this.#sizeLength === 0) {
      throw new AacFormatError(`AAC fmtp "${fmtp}": sizeLength=0 (constant size) is not supported`);
    }
  }

  get lostPackets(): number {
    return this.#lost;
  }

  /** One RTP payload → its frames (none while a fragmented frame is incomplete or on garbage). */
  push(
    payload: Uint8Array,
    sequence: number,
    timestamp: number,
    marker: boolean,
  ): AudioAccessUnit[] {
    const lost = this.#seq.next(sequence);
    if (lost > 0) this.#lost += lost;
    if (lost !== 0) this.#dropFragments();
    const ts = this.#clock.extend(timestamp);
    if (this.#fragmentTimestamp >= 0 && this.#fragmentTimestamp !== ts) this.#dropFragments();
    if (payload.length < 2) return [];
    const headerBits = (payload[0]! << 8) | payload[1]!;
    const headerBytes = (headerBits + 7) >> 3;
    let data = 2 + headerBytes;
    if (data > payload.length) return [];
    const bits = new BitReader(payload.subarray(2, data));
    const out: AudioAccessUnit[] = [];
    let index = 0;
    for (let i = 0; bits.consumed() < headerBits; i++) {
      const size = bits.read(this.#sizeLength);
      const idx = bits.read(i === 0 ? this.#indexLength : this.#indexDeltaLength);
      if (bits.overrun) break;
      index = i === 0 ? idx : index + idx + 1;
      const frameTs = ts + index * this.#frameLength;
      const available = payload.length - data;
      if (size <= available && this.#fragmentTimestamp < 0) {
        if (size > 0) out.push({ data: payload.subarray(data, data + size), timestamp: frameTs });
        data += size;
        continue;
      }
      // A fragment of a frame larger than the packet: one AU header, the same timestamp in
      // every packet, the marker on the last.
      this.#fragment(payload.subarray(data), size, ts, marker, out);
      break;
    }
    return out;
  }

  #fragment(
    piece: Uint8Array,
    size: number,
    ts: number,
    marker: boolean,
    out: AudioAccessUnit[],
  ): void {
    if (this.#fragmentTimestamp >= 0 && this.#fragmentSize !== size) this.#dropFragments();
    if (size > MAX_FRAME_BYTES) return;
    this.#fragmentTimestamp = ts;
    this.#fragmentSize = size;
    this.#fragments.push(piece);
    this.#fragmentBytes += piece.length;
    if (this.#fragmentBytes > size) return this.#dropFragments();
    if (!marker && this.#fragmentBytes < size) return;
    if (this.#fragmentBytes === size) {
      const frame = new Uint8Array(size);
      let at = 0;
      for (const f of this.#fragments) {
        frame.set(f, at);
        at += f.length;
      }
      out.push({ data: frame, timestamp: ts });
    }
    this.#dropFragments();
  }

  #dropFragments(): void {
    this.#fragments = [];
    this.#fragmentBytes = 0;
    this.#fragmentSize = 0;
    this.#fragmentTimestamp = -1;
  }
}

/** MSB-first bit reader; reading past the end yields zeros and sets `overrun`. */
class BitReader {
  readonly #bytes: Uint8Array;
  #pos = 0;
  overrun = false;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.#bytes[this.#pos >> 3];
      if (byte === undefined) this.overrun = true;
      v = v * 2 + (((byte ?? 0) >> (7 - (this.#pos & 7))) & 1);
      this.#pos++;
    }
    return v;
  }

  consumed(): number {
    return this.#pos;
  }

  left(): number {
    return this.#bytes.length * 8 - this.#pos;
  }
}
