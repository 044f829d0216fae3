/**
 * Reads the structure of a fragmented MP4 as our recorder writes it (ftyp, moov, then moof+mdat
 * pairs) without decoding anything: where the last complete fragment ends, how many video samples
 * the complete fragments hold and how long they last. Used to repair a segment cut short by a
 * crash, a power cut or a full disk.
 */

import {
  parseHeader,
  readAt as readFileAt,
  trackFragments,
  type TrackInfo,
  tracks,
} from "./boxes.ts";

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

/** Scans the file at `path`. Never throws for bad content; only for I/O errors. */
export async function scanFmp4(path: string): Promise<Fmp4Scan> {
  using file = await Deno.open(path, { read: true });
  const fileSize = (await file.stat()).size;
  const readAt = (offset: number, length: number) => readFileAt(file, offset, length);

  let video: TrackInfo | null = null;
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
      video = tracks(await readAt(offset, header.size)).find((t) => t.handler === "vide") ?? null;
    } else if (header.type === "moof" && video) {
      pendingMoof = sumFragment(await readAt(offset, header.size), video);
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

/** Frames and duration (in track ticks) of the video track's runs in one moof. */
function sumFragment(moofBox: Uint8Array, video: TrackInfo): { frames: number; ticks: number } {
  let frames = 0;
  let ticks = 0;
  for (const traf of trackFragments(moofBox, [video])) {
    if (traf.trackId !== video.trackId) continue;
    frames += traf.durations.length;
    for (const d of traf.durations) ticks += d;
  }
  return { frames, ticks };
}
