/**
 * A recorded fMP4 segment file as the two parts an fMP4 HLS playlist names: its init part
 * (ftyp + moov, for EXT-X-MAP) and its media part (the moof + mdat pairs), with every track's
 * base decode time (tfdt) moved so that the file's first sample plays at a chosen time. Files
 * are written by two muxers (GStreamer's mp4mux, whose tfdt restarts near 0 in every file, and
 * writer.ts, whose tfdt follows the camera's clock), so the player is never handed either: the
 * playlist says where each file starts and the media part is retimed to it, which makes
 * consecutive files continuous for the player without a discontinuity (no seam).
 * Pure: bytes in, bytes out.
 */
import { parseHeader, TFHD, trackFragments, tracks } from "./boxes.ts";

/** The file is not an fMP4 file this module can split (no moov, no moof, or a field it refuses). */
export class HlsPartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HlsPartError";
  }
}

interface TopBox {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}

function topBoxes(file: Uint8Array): TopBox[] {
  const out: TopBox[] = [];
  for (let at = 0; at + 8 <= file.length;) {
    const h = parseHeader(file.subarray(at, at + 16), at);
    if (!h || at + h.size > file.length) break; // a torn tail ends the walk
    out.push({ type: h.type, start: at, end: at + h.size });
    at += h.size;
  }
  return out;
}

/** Everything before the first moof: ftyp and moov (the init segment). */
export function initPart(file: Uint8Array): Uint8Array {
  const boxes = topBoxes(file);
  const moof = boxes.find((b) => b.type === "moof");
  if (!boxes.some((b) => b.type === "moov") || !moof) {
    throw new HlsPartError("not a fragmented MP4 file (no moov or no moof)");
  }
  return file.slice(0, moof.start);
}

/**
 * The moof + mdat pairs of the file (mfra and other trailing boxes left out), each track's tfdt
 * moved so that the file's earliest sample of that track decodes at `startSeconds`.
 * Throws HlsPartError for a file without moov/moof, an absolute base_data_offset (our muxers
 * never write one), or a time that does not fit a 32-bit tfdt.
 */
export function mediaPart(file: Uint8Array, startSeconds: number): Uint8Array {
  if (!(startSeconds >= 0) || !Number.isFinite(startSeconds)) {
    throw new RangeError(`startSeconds must be a finite time >= 0, got ${startSeconds}`);
  }
  const boxes = topBoxes(file);
  const moov = boxes.find((b) => b.type === "moov");
  const first = boxes.findIndex((b) => b.type === "moof");
  if (!moov || first < 0) throw new HlsPartError("not a fragmented MP4 file (no moov or no moof)");
  const known = tracks(file.subarray(moov.start, moov.end));
  const keep = boxes.slice(first).filter((b) => b.type === "moof" || b.type === "mdat");
  const size = keep.reduce((n, b) => n + b.end - b.start, 0);
  const out = new Uint8Array(size);
  const moofs: number[] = [];
  let at = 0;
  for (const b of keep) {
    out.set(file.subarray(b.start, b.end), at);
    if (b.type === "moof") moofs.push(at);
    at += b.end - b.start;
  }
  // Each track's earliest base time in the file is its zero.
  const zero = new Map<number, number>();
  const frags = moofs.map((start) => {
    const moof = out.subarray(start, start + (parseHeader(out.subarray(start), start)?.size ?? 0));
    refuseAbsoluteOffsets(moof);
    const list = trackFragments(moof, known);
    for (const f of list) {
      if (f.baseTime !== null) {
        zero.set(f.trackId, Math.min(zero.get(f.trackId) ?? f.baseTime, f.baseTime));
      }
    }
    return { start, list };
  });
  const view = new DataView(out.buffer);
  for (const { start, list } of frags) {
    for (const f of list) {
      if (f.baseTime === null || !f.baseTimeField) continue;
      const timescale = known.find((t) => t.trackId === f.trackId)?.timescale ?? 0;
      if (timescale <= 0) throw new HlsPartError(`track ${f.trackId} has no timescale in the moov`);
      const moved = f.baseTime - (zero.get(f.trackId) ?? 0) + Math.round(startSeconds * timescale);
      const field = start + f.baseTimeField.offset;
      if (f.baseTimeField.bytes === 8) view.setBigUint64(field, BigInt(moved));
      else if (moved <= 0xffff_ffff) view.setUint32(field, moved);
      else {
        throw new HlsPartError(
          `time ${startSeconds} s does not fit the 32-bit tfdt of track ${f.trackId} ` +
            `(timescale ${timescale}); start a new discontinuity earlier`,
        );
      }
    }
  }
  return out;
}

/** An absolute base_data_offset would point into the original file, not the media part. */
function refuseAbsoluteOffsets(moof: Uint8Array): void {
  const headerSize = parseHeader(moof, 0)?.headerSize ?? 8;
  for (let at = headerSize; at + 8 <= moof.length;) {
    const h = parseHeader(moof.subarray(at, at + 16), at);
    if (!h || at + h.size > moof.length) return;
    if (h.type === "traf") {
      const traf = moof.subarray(at + h.headerSize, at + h.size);
      for (let p = 0; p + 8 <= traf.length;) {
        const c = parseHeader(traf.subarray(p, p + 16), p);
        if (!c || p + c.size > traf.length) break;
        if (c.type === "tfhd" && c.size >= 12) {
          const flags = new DataView(traf.buffer, traf.byteOffset + p + c.headerSize).getUint32(0) &
            0xffffff;
          if (flags & TFHD.BASE_DATA_OFFSET) {
            throw new HlsPartError("a traf has an absolute base_data_offset; cannot cut the file");
          }
        }
        p += c.size;
      }
    }
    at += h.size;
  }
}
