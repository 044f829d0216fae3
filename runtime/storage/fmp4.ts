/**
 * Reads the structure of a fragmented MP4 as our recorder writes it (ftyp, moov, then moof+mdat
 * pairs) without decoding anything: where the last complete fragment ends, how many video samples
 * the complete fragments hold and how long they last. Used to repair a segment cut short by a
 * crash, a power cut or a full disk.
 */

export interface Fmp4Scan {
  /** The file starts with ftyp and has a moov: it is an MP4 at all. */
  readonly isMp4: boolean;
  /** Bytes up to the end of the last complete moof+mdat pair (0 when there is none). */
  readonly completeBytes: number;
  readonly fragments: number;
  /** Video samples (frames) in the complete fragments. */
  readonly frames: number;
  /** Duration of those frames, seconds. */
  readonly durationSeconds: number;
}

interface BoxHeader {
  readonly type: string;
  readonly start: number;
  readonly size: number;
  readonly headerSize: number;
}

/** Scans the file at `path`. Never throws for bad content; only for I/O errors. */
export async function scanFmp4(path: string): Promise<Fmp4Scan> {
  using file = await Deno.open(path, { read: true });
  const fileSize = (await file.stat()).size;
  const readAt = async (offset: number, length: number): Promise<Uint8Array> => {
    const buf = new Uint8Array(length);
    await file.seek(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < length) {
      const n = await file.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    return buf.subarray(0, got);
  };

  let video: { trackId: number; timescale: number } | null = null;
  let sawFtyp = false;
  let pendingMoof: { frames: number; ticks: number } | null = null;
  let completeBytes = 0;
  let fragments = 0;
  let frames = 0;
  let ticks = 0;
  for (let offset = 0; offset + 8 <= fileSize;) {
    const header = parseHeader(await readAt(offset, 16), offset);
    if (!header || offset + header.size > fileSize) break; // truncated box: stop here
    if (header.type === "ftyp") sawFtyp = true;
    else if (header.type === "moov") {
      video = findVideoTrack(await readAt(offset, header.size));
    } else if (header.type === "moof" && video) {
      pendingMoof = sumFragment(await readAt(offset, header.size), video.trackId);
    } else if (header.type === "mdat" && pendingMoof) {
      fragments++;
      frames += pendingMoof.frames;
      ticks += pendingMoof.ticks;
      completeBytes = offset + header.size;
      pendingMoof = null;
    }
    offset += header.size;
  }
  return {
    isMp4: sawFtyp && video !== null,
    completeBytes,
    fragments,
    frames,
    durationSeconds: video && video.timescale > 0 ? ticks / video.timescale : 0,
  };
}

function parseHeader(bytes: Uint8Array, start: number): BoxHeader | null {
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

/** Children of a box held in memory, as [type, body] pairs. */
function* children(bytes: Uint8Array): Generator<[string, Uint8Array]> {
  for (let offset = 0; offset + 8 <= bytes.length;) {
    const header = parseHeader(bytes.subarray(offset, offset + 16), offset);
    if (!header || offset + header.size > bytes.length) return;
    yield [header.type, bytes.subarray(offset + header.headerSize, offset + header.size)];
    offset += header.size;
  }
}

function find(bytes: Uint8Array, path: string[]): Uint8Array | null {
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

function findVideoTrack(moovBox: Uint8Array): { trackId: number; timescale: number } | null {
  const moov = moovBox.subarray(8);
  for (const [type, trak] of children(moov)) {
    if (type !== "trak") continue;
    const hdlr = find(trak, ["mdia", "hdlr"]);
    if (!hdlr || String.fromCharCode(...hdlr.subarray(8, 12)) !== "vide") continue;
    const tkhd = find(trak, ["tkhd"]);
    const mdhd = find(trak, ["mdia", "mdhd"]);
    if (!tkhd || !mdhd) continue;
    const tk = new DataView(tkhd.buffer, tkhd.byteOffset, tkhd.byteLength);
    const md = new DataView(mdhd.buffer, mdhd.byteOffset, mdhd.byteLength);
    const trackId = tkhd[0] === 1 ? tk.getUint32(20) : tk.getUint32(12);
    const timescale = mdhd[0] === 1 ? md.getUint32(20) : md.getUint32(12);
    return { trackId, timescale };
  }
  return null;
}

/** Frames and duration (in track ticks) of the video track's runs in one moof. */
function sumFragment(moofBox: Uint8Array, trackId: number): { frames: number; ticks: number } {
  let frames = 0;
  let ticks = 0;
  for (const [type, traf] of children(moofBox.subarray(8))) {
    if (type !== "traf") continue;
    const tfhd = find(traf, ["tfhd"]);
    if (!tfhd || tfhd.length < 8) continue;
    const th = new DataView(tfhd.buffer, tfhd.byteOffset, tfhd.byteLength);
    if (th.getUint32(4) !== trackId) continue;
    const tfFlags = th.getUint32(0) & 0xffffff;
    let at = 8;
    if (tfFlags & 0x01) at += 8; // base-data-offset
    if (tfFlags & 0x02) at += 4; // sample-description-index
    const defaultDuration = tfFlags & 0x08 ? th.getUint32(at) : 0;
    for (const [t, trun] of children(traf)) {
      if (t !== "trun" || trun.length < 8) continue;
      const tr = new DataView(trun.buffer, trun.byteOffset, trun.byteLength);
      const flags = tr.getUint32(0) & 0xffffff;
      const count = tr.getUint32(4);
      frames += count;
      let p = 8;
      if (flags & 0x01) p += 4; // data-offset
      if (flags & 0x04) p += 4; // first-sample-flags
      const perSample = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
      if (!(flags & 0x100)) {
        ticks += defaultDuration * count;
        continue;
      }
      for (let i = 0; i < count && p + 4 <= trun.length; i++, p += perSample) {
        ticks += tr.getUint32(p);
      }
    }
  }
  return { frames, ticks };
}
