/**
 * Removes the first samples of one fragment (moof + mdat) of a video-only fragmented MP4: what
 * fmp4_trim.ts needs when mp4mux put a run's first keyframe inside a fragment rather than at its
 * start (seen here under load: a fragment of "....K......"). Only the plain layout mp4mux writes
 * is handled: one `traf` with one `trun` that carries per-sample sizes and a data offset from the
 * moof, its data at the start of the mdat. Anything else answers null and is left alone.
 */
import { children, parseHeader, TFHD, TRUN } from "./boxes.ts";

export interface CutFragment {
  readonly moof: Uint8Array;
  readonly mdat: Uint8Array;
  /** Decode time removed from the front, in the track's ticks. */
  readonly droppedTicks: number;
}

/** The fragment without its first `count` samples; null when its layout is not the plain one. */
export function cutFragmentFront(
  moofBox: Uint8Array,
  mdatBox: Uint8Array,
  count: number,
): CutFragment | null {
  const moofHeader = parseHeader(moofBox, 0);
  const mdatHeader = parseHeader(mdatBox, 0);
  if (!moofHeader || !mdatHeader || moofHeader.headerSize !== 8 || mdatHeader.headerSize !== 8) {
    return null;
  }
  const trafs = [...children(moofBox.subarray(8))].filter(([t]) => t === "traf");
  if (trafs.length !== 1) return null;
  const [, traf, trafBodyAt] = trafs[0]!;
  // children() gives body offsets within the moof body (8 bytes in): the traf header is at
  // 8 + trafBodyAt - 8 from the moof's start.
  const trafAt = trafBodyAt;
  let tfhdFlags = -1;
  let defaultDuration = 0;
  let tfdt: { at: number; wide: boolean } | null = null;
  let trun: { at: number; body: Uint8Array } | null = null;
  for (const [type, body, bodyAt] of children(traf)) {
    const at = trafAt + 8 + bodyAt; // the body, from the moof's start
    const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (type === "tfhd" && body.length >= 8) {
      tfhdFlags = v.getUint32(0) & 0xffffff;
      let p = 8;
      if (tfhdFlags & TFHD.BASE_DATA_OFFSET) p += 8;
      if (tfhdFlags & 0x02) p += 4;
      if (tfhdFlags & TFHD.DEFAULT_DURATION && p + 4 <= body.length) {
        defaultDuration = v.getUint32(p);
      }
    }
    if (type === "tfdt" && body.length >= 8) tfdt = { at: at + 4, wide: body[0] === 1 };
    if (type === "trun") {
      if (trun) return null; // more than one run
      trun = { at, body };
    }
  }
  if (tfhdFlags < 0 || tfhdFlags & TFHD.BASE_DATA_OFFSET || !tfdt || !trun) return null;
  const tr = new DataView(trun.body.buffer, trun.body.byteOffset, trun.body.byteLength);
  const flags = tr.getUint32(0) & 0xffffff;
  const samples = tr.getUint32(4);
  if (!(flags & TRUN.DATA_OFFSET) || !(flags & TRUN.SIZE) || count <= 0 || count >= samples) {
    return null;
  }
  const dataOffset = tr.getInt32(8);
  let entries = 12;
  if (flags & 0x04) entries += 4; // first-sample-flags
  const entrySize = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
  if (entries + samples * entrySize > trun.body.length) return null;
  const sizeAt = flags & TRUN.DURATION ? 4 : 0;
  let droppedBytes = 0;
  let droppedTicks = 0;
  for (let i = 0; i < count; i++) {
    const p = entries + i * entrySize;
    droppedBytes += tr.getUint32(p + sizeAt);
    droppedTicks += flags & TRUN.DURATION ? tr.getUint32(p) : defaultDuration;
  }
  // The run's data must begin the mdat's body for the cut to be a plain slice.
  const dataInMdat = dataOffset - moofBox.length - 8;
  if (dataInMdat !== 0 || droppedBytes > mdatBox.length - 8) return null;

  const shrink = count * entrySize;
  const cutAt = trun.at + entries; // first entry, from the moof's start
  const moof = new Uint8Array(moofBox.length - shrink);
  moof.set(moofBox.subarray(0, cutAt));
  moof.set(moofBox.subarray(cutAt + shrink), cutAt);
  const mv = new DataView(moof.buffer);
  mv.setUint32(0, moofBox.length - shrink);
  mv.setUint32(trafAt, new DataView(moofBox.buffer, moofBox.byteOffset).getUint32(trafAt) - shrink);
  const trunBoxAt = trun.at - 8;
  mv.setUint32(trunBoxAt, trun.body.length + 8 - shrink);
  mv.setUint32(trun.at + 4, samples - count);
  mv.setInt32(trun.at + 8, dataOffset - shrink);
  if (tfdt.wide) mv.setBigUint64(tfdt.at, mv.getBigUint64(tfdt.at) + BigInt(droppedTicks));
  else mv.setUint32(tfdt.at, mv.getUint32(tfdt.at) + droppedTicks);

  const mdat = new Uint8Array(mdatBox.length - droppedBytes);
  mdat.set(mdatBox.subarray(0, 8));
  mdat.set(mdatBox.subarray(8 + droppedBytes), 8);
  new DataView(mdat.buffer).setUint32(0, mdat.length);
  return { moof, mdat, droppedTicks };
}
