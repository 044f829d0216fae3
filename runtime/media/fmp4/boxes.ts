/**
 * ISO BMFF box reading shared by the fragmented-MP4 scanner and trimmer: box headers, children
 * of a box held in memory, the tracks of a moov and the runs of a moof, as our recorders write
 * them (GStreamer's mp4mux and writer.ts). Nothing here throws on bad content:
 * a box that does not parse ends the walk.
 */

export interface BoxHeader {
  readonly type: string;
  readonly start: number;
  readonly size: number;
  readonly headerSize: number;
}

export interface TrackInfo {
  readonly trackId: number;
  readonly timescale: number;
  /** hdlr handler type: "vide", "soun", … */
  readonly handler: string;
  /** trex default_sample_flags (0 when the moov has no trex for the track). */
  readonly defaultSampleFlags: number;
}

/** One track's part of a moof (a traf): its base decode time and its samples. */
export interface TrackFragment {
  readonly trackId: number;
  /** baseMediaDecodeTime from tfdt; null when the traf has none. */
  readonly baseTime: number | null;
  /** Where the tfdt's time field sits, counted from the start of the moof box, and its width. */
  readonly baseTimeField: { readonly offset: number; readonly bytes: 4 | 8 } | null;
  readonly durations: number[];
  /** sample_flags of each sample, resolved through trun, tfhd and trex defaults. */
  readonly flags: number[];
}

/** sample_is_non_sync_sample in sample_flags (ISO/IEC 14496-12, 8.8.3.1). */
export const NON_SYNC_SAMPLE = 0x10000;

/** tf_flags of a `tfhd` (ISO/IEC 14496-12, 8.8.7.1): which optional fields follow. */
export const TFHD = {
  BASE_DATA_OFFSET: 0x000001,
  SAMPLE_DESCRIPTION_INDEX: 0x000002,
  DEFAULT_DURATION: 0x000008,
  DEFAULT_SIZE: 0x000010,
  DEFAULT_FLAGS: 0x000020,
  DEFAULT_BASE_IS_MOOF: 0x020000,
} as const;

/** tr_flags of a `trun` (ISO/IEC 14496-12, 8.8.8.1): which optional fields follow. */
export const TRUN = {
  DATA_OFFSET: 0x000001,
  FIRST_SAMPLE_FLAGS: 0x000004,
  DURATION: 0x000100,
  SIZE: 0x000200,
  FLAGS: 0x000400,
  COMPOSITION_OFFSET: 0x000800,
} as const;

/** Reads a file's bytes at any offset (short at its end). */
export async function readAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

export function parseHeader(bytes: Uint8Array, start: number): BoxHeader | null {
  if (bytes.length < 8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let size = view.getUint32(0);
  const type = String.fromCharCode(...bytes.subarray(4, 8));
  let headerSize = 8;
  if (size === 1) {
    if (bytes.length < 16) return null;
    size = Number(view.getBigUint64(8));
    headerSize = 16;
  }
  if (size < headerSize) return null; // size 0 ("to end of file") is never written by mp4mux
  return { type, start, size, headerSize };
}

/** Children of a box held in memory, as [type, body, where that body starts in `bytes`]. */
export function* children(bytes: Uint8Array): Generator<[string, Uint8Array, number]> {
  for (let offset = 0; offset + 8 <= bytes.length;) {
    const header = parseHeader(bytes.subarray(offset, offset + 16), offset);
    if (!header || offset + header.size > bytes.length) return;
    const body = offset + header.headerSize;
    yield [header.type, bytes.subarray(body, offset + header.size), body];
    offset += header.size;
  }
}

export function find(bytes: Uint8Array, path: string[]): Uint8Array | null {
  let current: Uint8Array | null = bytes;
  for (const type of path) {
    let next: Uint8Array | null = null;
    for (const [t, body] of children(current)) {
      if (t === type) {
        next = body;
        break;
      }
    }
    if (!next) return null;
    current = next;
  }
  return current;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The tracks of a whole moov box (header included). */
export function tracks(moovBox: Uint8Array): TrackInfo[] {
  const moov = moovBox.subarray(8);
  const defaults = new Map<number, number>();
  const mvex = find(moov, ["mvex"]);
  for (const [type, trex] of mvex ? children(mvex) : []) {
    if (type === "trex" && trex.length >= 24) {
      defaults.set(view(trex).getUint32(4), view(trex).getUint32(20));
    }
  }
  const out: TrackInfo[] = [];
  for (const [type, trak] of children(moov)) {
    if (type !== "trak") continue;
    const hdlr = find(trak, ["mdia", "hdlr"]);
    const tkhd = find(trak, ["tkhd"]);
    const mdhd = find(trak, ["mdia", "mdhd"]);
    if (!hdlr || hdlr.length < 12 || !tkhd || !mdhd) continue;
    const trackId = tkhd[0] === 1 ? view(tkhd).getUint32(20) : view(tkhd).getUint32(12);
    const timescale = mdhd[0] === 1 ? view(mdhd).getUint32(20) : view(mdhd).getUint32(12);
    out.push({
      trackId,
      timescale,
      handler: String.fromCharCode(...hdlr.subarray(8, 12)),
      defaultSampleFlags: defaults.get(trackId) ?? 0,
    });
  }
  return out;
}

/** The trafs of a whole moof box (header included); `tracks` gives trex defaults. */
export function trackFragments(moofBox: Uint8Array, known: readonly TrackInfo[]): TrackFragment[] {
  const out: TrackFragment[] = [];
  const headerSize = parseHeader(moofBox, 0)?.headerSize ?? 8;
  for (const [type, traf, trafAt] of children(moofBox.subarray(headerSize))) {
    if (type !== "traf") continue;
    const tfhd = find(traf, ["tfhd"]);
    if (!tfhd || tfhd.length < 8) continue;
    const th = view(tfhd);
    const trackId = th.getUint32(4);
    const tfFlags = th.getUint32(0) & 0xffffff;
    let at = 8;
    if (tfFlags & TFHD.BASE_DATA_OFFSET) at += 8;
    if (tfFlags & TFHD.SAMPLE_DESCRIPTION_INDEX) at += 4;
    const defaultDuration = tfFlags & TFHD.DEFAULT_DURATION && at + 4 <= tfhd.length
      ? th.getUint32(at)
      : 0;
    if (tfFlags & TFHD.DEFAULT_DURATION) at += 4;
    if (tfFlags & TFHD.DEFAULT_SIZE) at += 4;
    const trackDefault = known.find((t) => t.trackId === trackId)?.defaultSampleFlags ?? 0;
    const defaultFlags = tfFlags & TFHD.DEFAULT_FLAGS && at + 4 <= tfhd.length
      ? th.getUint32(at)
      : trackDefault;
    let baseTime: number | null = null;
    let baseTimeField: TrackFragment["baseTimeField"] = null;
    const durations: number[] = [];
    const flags: number[] = [];
    for (const [t, body, bodyAt] of children(traf)) {
      if (t === "tfdt" && body.length >= 8) {
        const wide = body[0] === 1 && body.length >= 12;
        baseTime = wide ? Number(view(body).getBigUint64(4)) : view(body).getUint32(4);
        // The time follows the box's version and flags.
        baseTimeField = { offset: headerSize + trafAt + bodyAt + 4, bytes: wide ? 8 : 4 };
      }
      if (t !== "trun" || body.length < 8) continue;
      const tr = view(body);
      const trFlags = tr.getUint32(0) & 0xffffff;
      const count = tr.getUint32(4);
      let p = 8;
      if (trFlags & TRUN.DATA_OFFSET) p += 4;
      let first: number | null = null;
      if (trFlags & TRUN.FIRST_SAMPLE_FLAGS) {
        first = tr.getUint32(p);
        p += 4;
      }
      const fields = [TRUN.DURATION, TRUN.SIZE, TRUN.FLAGS, TRUN.COMPOSITION_OFFSET]
        .filter((f) => trFlags & f).length;
      const flagsAt = trFlags & TRUN.FLAGS
        ? (trFlags & TRUN.DURATION ? 4 : 0) + (trFlags & TRUN.SIZE ? 4 : 0)
        : -1;
      for (let i = 0; i < count && p + fields * 4 <= body.length; i++, p += fields * 4) {
        durations.push(trFlags & TRUN.DURATION ? tr.getUint32(p) : defaultDuration);
        flags.push(
          flagsAt >= 0
            ? tr.getUint32(p + flagsAt)
            : i === 0 && first !== null
            ? first
            : defaultFlags,
        );
      }
    }
    out.push({ trackId, baseTime, baseTimeField, durations, flags });
  }
  return out;
}
