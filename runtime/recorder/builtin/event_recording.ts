/**
 * Recording only around events (cameras[].record.mode "events"), between the RTSP session and the
 * segmenter: while no event is on, pictures go to the pre-roll (pre_roll.ts) and nothing reaches
 * the segmenter, so nothing is written. When the camera's event state asks for recording, the
 * pre-roll is handed to the segmenter (the segment starts at its first keyframe) and the stream
 * follows; once no event asked for postRollSeconds, the segment is finished at the next keyframe,
 * which starts the pre-roll again: the next event's segment continues exactly where it ended.
 * Pure: the caller gives the time and does the writing.
 */
import type { AudioAccessUnit, VideoAccessUnit } from "../../media/codec/types.ts";
import type { CameraRecordConfig } from "../../config/types.ts";
import type { CameraEventState } from "../engine.ts";
import { type HeldUnit, PreRoll } from "./pre_roll.ts";

/**
 * An event that says it is on (ONVIF motion true) holds the recording at most this long after
 * the last message about it, so a lost "off" cannot record forever.
 */
export const HOLD_MAX_MS = 30 * 60_000;

/** Whether the camera's events ask for recording at `nowMs`. */
export function eventWanted(state: CameraEventState, nowMs: number, postRollMs: number): boolean {
  const since = nowMs - state.atMs;
  return since <= postRollMs || (state.held && since <= HOLD_MAX_MS);
}

export interface EventRecordingSink {
  /** A unit for the segmenter, in order (copied: it owns no session buffer). */
  feed(unit: HeldUnit): void;
  /** Finish the open segment now. */
  finish(): void;
  /** Recording around an event started (true) or ended (false). */
  changed(recording: boolean): void;
}

export class EventRecording {
  readonly pre: PreRoll;
  readonly #postRollMs: number;
  readonly #events: () => CameraEventState;
  readonly #sink: EventRecordingSink;
  #recording = false;

  constructor(
    record: CameraRecordConfig,
    clockRate: number,
    events: () => CameraEventState,
    sink: EventRecordingSink,
    maxBytes?: number,
  ) {
    this.pre = new PreRoll({
      clockRate,
      preRollSeconds: record.preRollSeconds,
      ...(maxBytes === undefined ? {} : { maxBytes }),
    });
    this.#postRollMs = record.postRollSeconds * 1000;
    this.#events = events;
    this.#sink = sink;
  }

  /** True while a segment around an event is being written. */
  get recording(): boolean {
    return this.#recording;
  }

  video(au: VideoAccessUnit, nowMs: number): void {
    const wanted = eventWanted(this.#events(), nowMs, this.#postRollMs);
    if (!this.#recording) {
      this.pre.pushVideo(au);
      if (!wanted || !this.pre.ready) return;
      this.#recording = true;
      for (const unit of this.pre.take()) this.#sink.feed(unit);
      this.#sink.changed(true);
      return;
    }
    if (!wanted && au.keyframe) {
      // Cut at a keyframe: it starts the pre-roll, so nothing between two segments is lost.
      this.#sink.finish();
      this.#recording = false;
      this.#sink.changed(false);
      this.pre.pushVideo(au);
      return;
    }
    this.pre.counters.framesIn++;
    if (au.keyframe) this.pre.counters.keyframes++;
    this.#sink.feed({ kind: "video", au: { ...au, nals: au.nals.map((n) => n.slice()) } });
  }

  audio(au: AudioAccessUnit, videoTs: number): void {
    if (!this.#recording) return this.pre.pushAudio(au, videoTs);
    this.#sink.feed({
      kind: "audio",
      au: { data: au.data.slice(), timestamp: au.timestamp },
      videoTs,
    });
  }
}
