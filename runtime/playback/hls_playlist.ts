/**
 * An fMP4 HLS playlist (RFC 8216, version 7) over a time range, built from the index alone (no
 * file is opened): each recorded segment is one media segment, its init part is the EXT-X-MAP.
 * Recordings are continuous across files of one run (the next file starts where the previous
 * ended), so inside a run the media parts are retimed to follow each other (media/fmp4/
 * hls_parts.ts) and play without a seam. A gap in the recordings, a change of codec or picture
 * size, or 12 hours in one run (a 32-bit tfdt at 90 kHz lasts 13 h) starts a new run: an
 * EXT-X-DISCONTINUITY with its own EXT-X-MAP and EXT-X-PROGRAM-DATE-TIME, so the player maps
 * every moment back to the wall clock and gaps are skipped rather than waited through.
 */
import type { IndexedSegment } from "../storage/mod.ts";

/** Files further apart than this (or overlapping by more) are not one continuous run. */
export const CONTINUOUS_MS = 1_000;
/** Longest run between discontinuities. */
export const MAX_RUN_MS = 12 * 3600_000;

export interface PlaylistOptions {
  /** The time the player should start at (EXT-X-START); segments may start before it. */
  readonly startMs: number;
  /** URL of a segment's init part. */
  readonly initUrl: (segment: IndexedSegment) => string;
  /** URL of a segment's media part retimed to start `atMs` into its run. */
  readonly mediaUrl: (segment: IndexedSegment, atMs: number) => string;
}

/** Segments must be one camera's, oldest first (as SegmentIndex.range gives them). */
export function hlsPlaylist(segments: readonly IndexedSegment[], opts: PlaylistOptions): string {
  const usable = segments.filter((s) => s.endMs > s.startMs);
  const longest = usable.reduce((m, s) => Math.max(m, s.endMs - s.startMs), 1000);
  const first = usable[0];
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:7",
    `#EXT-X-TARGETDURATION:${Math.ceil(longest / 1000)}`,
    "#EXT-X-MEDIA-SEQUENCE:0",
    "#EXT-X-PLAYLIST-TYPE:VOD",
    "#EXT-X-INDEPENDENT-SEGMENTS",
  ];
  if (first) {
    const offset = Math.max(0, opts.startMs - first.startMs) / 1000;
    lines.push(`#EXT-X-START:TIME-OFFSET=${offset.toFixed(3)},PRECISE=YES`);
  }
  let prev: IndexedSegment | null = null;
  let runStart = 0;
  // Where the segment starts in its run, as the player counts: the sum of the EXTINFs before it.
  let runAt = 0;
  for (const s of usable) {
    const step = prev ? s.startMs - prev.endMs : 0;
    const sameRun = prev !== null && Math.abs(step) <= CONTINUOUS_MS &&
      s.codec === prev.codec && s.width === prev.width && s.height === prev.height &&
      s.endMs - runStart <= MAX_RUN_MS;
    if (!sameRun) {
      if (prev) lines.push("#EXT-X-DISCONTINUITY");
      runStart = s.startMs;
      runAt = 0;
      lines.push(`#EXT-X-MAP:URI="${opts.initUrl(s)}"`);
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.startMs).toISOString()}`);
    }
    lines.push(`#EXTINF:${((s.endMs - s.startMs) / 1000).toFixed(3)},`);
    lines.push(opts.mediaUrl(s, runAt));
    runAt += s.endMs - s.startMs;
    prev = s;
  }
  lines.push("#EXT-X-ENDLIST", "");
  return lines.join("\n");
}
