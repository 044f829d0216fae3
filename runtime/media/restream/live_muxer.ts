/**
 * LiveFrames to fragmented MP4 for Media Source Extensions: an init segment whenever the track
 * changes, then one moof+mdat per frame (the lowest latency MSE allows: a frame is playable as
 * soon as it is appended). The decode timeline starts at 0 and never has a gap: after frames were
 * dropped (a slow viewer) or a new track began, the next keyframe continues where the last frame
 * ended, so the browser's buffer stays one range and playback never stalls on a hole.
 */
import { initSegment, mediaFragment } from "../fmp4/writer.ts";
import type { LiveFrame, LiveTrack } from "./feed.ts";

export interface MuxedFrame {
  /** A new init segment to append first (and the track it describes), or null. */
  readonly init: { readonly bytes: Uint8Array; readonly track: LiveTrack } | null;
  readonly fragment: Uint8Array;
  /** Where the frame starts on the browser's timeline, in seconds. */
  readonly mediaTime: number;
}

export class LiveMuxer {
  #track: LiveTrack | null = null;
  /** Waiting for a keyframe: at the start, after a drop, after a track change. */
  #resync = true;
  /** frame.ts + offset = decode time. */
  #offset = 0;
  /** Decode time where the next frame starts (end of the last one). */
  #end = 0;
  #sequence = 1;

  /** Frames that were not sent: the next one must be a keyframe, joined where the last ended. */
  skip(): void {
    this.#resync = true;
  }

  /** Waiting for a keyframe (frames given now are skipped). */
  get resyncing(): boolean {
    return this.#resync;
  }

  /** The frame muxed, or null when it is skipped (waiting for a keyframe). */
  push(track: LiveTrack, frame: LiveFrame): MuxedFrame | null {
    let init: MuxedFrame["init"] = null;
    if (track !== this.#track) {
      if (!frame.keyframe) return null;
      if (this.#track === null || !sameTrack(this.#track, track)) {
        init = {
          bytes: initSegment({
            codec: track.codec,
            ...(track.vps ? { vps: track.vps } : {}),
            sps: track.sps,
            pps: track.pps,
            timescale: track.clockRate,
          }),
          track,
        };
        if (this.#track && this.#track.clockRate !== track.clockRate) {
          this.#end = Math.round(this.#end * track.clockRate / this.#track.clockRate);
        }
      }
      this.#track = track;
      this.#resync = true;
    }
    if (this.#resync) {
      if (!frame.keyframe) return null;
      this.#offset = this.#end - frame.ts;
      this.#resync = false;
    }
    const decodeTime = frame.ts + this.#offset;
    if (decodeTime < this.#end) {
      // Timestamps went back (camera restarted its clock): join here.
      this.#offset = this.#end - frame.ts;
    }
    const start = frame.ts + this.#offset;
    const fragment = mediaFragment(this.#sequence++ >>> 0, {
      baseTime: start,
      samples: [{ nals: frame.nals, duration: frame.duration, keyframe: frame.keyframe }],
    });
    this.#end = start + frame.duration;
    return { init, fragment, mediaTime: start / track.clockRate };
  }
}

function sameTrack(a: LiveTrack, b: LiveTrack): boolean {
  const eq = (x: Uint8Array | undefined, y: Uint8Array | undefined) =>
    x === y || (!!x && !!y && x.length === y.length && x.every((v, i) => v === y[i]));
  return a.codec === b.codec && a.clockRate === b.clockRate && eq(a.vps, b.vps) &&
    eq(a.sps, b.sps) && eq(a.pps, b.pps);
}
