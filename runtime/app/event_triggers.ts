/**
 * Which events make a camera in cameras[].record.mode "events" record, and whether an event is
 * still on: the camera's own ONVIF events (motion, inputs, …) and the alarms of plugins that list
 * the camera (`plugins.<id>.cameras`). Each goes to the recorders as one small trigger
 * (Recorders.trigger); the recorder holds the pre-roll and the post-roll.
 *
 * An ONVIF event with a state holds the recording from "on" until "off" (per topic and source, at
 * most MAX_HELD of them per camera); one without a state, and a plugin alarm, is a moment.
 * Cameras recording continuously get nothing.
 */
import type { CameraConfig } from "../config/types.ts";
import type { CameraEvent } from "../onvif/event_watch.ts";

/** Event sources (topic and source) remembered as "on" per camera; more push out the oldest. */
const MAX_HELD = 32;

export class EventTriggers {
  readonly #send: (camera: string, held: boolean) => void;
  #eventCameras = new Set<string>();
  readonly #held = new Map<string, Set<string>>();

  constructor(send: (camera: string, held: boolean) => void) {
    this.#send = send;
  }

  /** The configuration's cameras: only those in events mode are triggered. */
  apply(cameras: readonly CameraConfig[]): void {
    this.#eventCameras = new Set(
      cameras.filter((c) => c.enabled && c.record?.mode === "events").map((c) => c.id),
    );
    for (const camera of this.#held.keys()) {
      if (!this.#eventCameras.has(camera)) this.#held.delete(camera);
    }
  }

  /** An ONVIF event of `camera` (app/camera_events.ts). */
  cameraEvent(camera: string, e: CameraEvent): void {
    if (!this.#eventCameras.has(camera)) return;
    const key = `${e.topic} ${JSON.stringify(e.source)}`;
    let held = this.#held.get(camera);
    if (!held) this.#held.set(camera, held = new Set());
    if (e.active === true) {
      held.delete(key); // re-inserted as the newest
      held.add(key);
      if (held.size > MAX_HELD) held.delete(held.values().next().value!);
    } else if (e.active === false) {
      // The state at subscribing ("nothing on") is no event unless it ends one held here.
      if (!held.delete(key) && e.property === "Initialized") return;
    } else if (e.property === "Initialized") return;
    this.#send(camera, held.size > 0);
  }

  /** A plugin's alarm concerning `cameras`. */
  alarm(cameras: readonly string[]): void {
    for (const camera of cameras) {
      if (this.#eventCameras.has(camera)) {
        this.#send(camera, (this.#held.get(camera)?.size ?? 0) > 0);
      }
    }
  }
}
