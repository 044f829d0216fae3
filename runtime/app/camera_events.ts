/**
 * The cameras' own events (ONVIF PullPoint, onvif/event_watch.ts): one keeper per camera that has
 * an ONVIF address, started and stopped as the configuration changes. Each event goes into the
 * index as kind "camera-event" (CAMERA_EVENT_KIND) beside the segments; from there the API's event stream, the
 * timeline, the events page and the fleet relay pick it up, as they do every indexed event.
 * Each camera's events state (subscribed, unsupported, lost) is kept for health and the page,
 * so a camera without an events service is shown as such and not as one where nothing happens.
 */
import type { CameraConfig } from "../config/types.ts";
import type { Logger } from "../lib/log.ts";
import {
  type CameraEvent,
  type EventsStatus,
  watchEvents,
  type WatchEventsOptions,
} from "../onvif/event_watch.ts";
import { CAMERA_EVENT_KIND, type SegmentIndex } from "../storage/mod.ts";
import type { CameraEventsHealth } from "../health/mod.ts";

/** Timings of the keepers (tests shorten them); see WatchEventsOptions for the defaults. */
export type CameraEventsTiming = Partial<
  Pick<
    WatchEventsOptions,
    "pullTimeoutSec" | "terminationSec" | "retryMs" | "unsupportedRetryMs" | "maxEventsPerMinute"
  >
>;

export interface CameraEventsDeps {
  readonly index: () => SegmentIndex;
  readonly log: Logger;
  readonly now: () => number;
  readonly timing?: CameraEventsTiming;
  /** Every event as it comes (before the index's filter): recording around events. */
  readonly onEvent?: (camera: string, e: CameraEvent) => void;
}

/** The user:password@ part of a URL in an error message. */
const USERINFO = /\/\/[^/@\s]*@/g;

interface Running {
  readonly key: string;
  readonly stop: AbortController;
  done: Promise<void>;
  status: EventsStatus;
}

/** What an event is stored as: its type and state, the topic and the camera's own time. */
export function eventDetail(e: CameraEvent): Record<string, unknown> {
  return {
    type: e.type,
    active: e.active,
    topic: e.topic,
    ...(e.property === "Initialized" ? { initial: true } : {}),
    ...(e.timeMs !== null ? { cameraTimeMs: e.timeMs } : {}),
    ...(Object.keys(e.source).length ? { source: e.source } : {}),
  };
}

/** Which ONVIF address and credentials a camera's events come from; null without an address. */
function onvifOf(c: CameraConfig) {
  if (!c.enabled || !c.onvif) return null;
  return {
    deviceUrl: c.onvif.url,
    // The camera's own credentials unless its ONVIF ones are given (as for the fingerprint).
    username: c.onvif.username ?? c.username ?? null,
    password: c.onvif.username ? c.onvif.password : c.password ?? null,
  };
}

export class CameraEvents {
  readonly #deps: CameraEventsDeps;
  readonly #running = new Map<string, Running>();

  constructor(deps: CameraEventsDeps) {
    this.#deps = deps;
  }

  /** Starts keepers for cameras with an ONVIF address, stops those no longer configured. */
  apply(cameras: readonly CameraConfig[]): void {
    const wanted = new Map<string, ReturnType<typeof onvifOf> & object>();
    for (const c of cameras) {
      const o = onvifOf(c);
      if (o) wanted.set(c.id, o);
    }
    for (const [id, r] of this.#running) {
      const o = wanted.get(id);
      if (!o || JSON.stringify(o) !== r.key) {
        r.stop.abort();
        this.#running.delete(id);
      }
    }
    for (const [id, o] of wanted) {
      if (!this.#running.has(id)) this.#start(id, o);
    }
  }

  /** Each watched camera's events state, by camera id. */
  statuses(): ReadonlyMap<string, CameraEventsHealth> {
    const out = new Map<string, CameraEventsHealth>();
    for (const [id, r] of this.#running) {
      const { state, error, subscriptions, dropped } = r.status;
      out.set(id, { state, error, subscriptions, dropped });
    }
    return out;
  }

  /** Stops every keeper (each unsubscribes, bounded by 2 s). */
  async close(): Promise<void> {
    const all = [...this.#running.values()];
    this.#running.clear();
    for (const r of all) r.stop.abort();
    await Promise.all(all.map((r) => r.done));
  }

  #start(
    camera: string,
    o: { deviceUrl: string; username: string | null; password: string | null },
  ) {
    const { index, log, now, timing } = this.#deps;
    const stop = new AbortController();
    const running: Running = {
      key: JSON.stringify(o),
      stop,
      done: Promise.resolve(),
      status: { state: "connecting", error: null, subscriptions: 0, dropped: 0 },
    };
    const onEvent = (e: CameraEvent) => {
      this.#deps.onEvent?.(camera, e);
      // The state at subscribing matters only when something is going on (motion already on);
      // "nothing happening" after every (re)subscription would only fill the list.
      if (e.property === "Initialized" && e.active !== true) return;
      try {
        index().addEvent({ camera, tsMs: now(), kind: CAMERA_EVENT_KIND, detail: eventDetail(e) });
      } catch (err) {
        log.warn("camera event not indexed", { module: "events", camera, err });
      }
    };
    const onStatus = (status: EventsStatus) => {
      // Health goes to the fleet: no credentials from a URL with user:password@ in an error.
      const s = { ...status, error: status.error?.replace(USERINFO, "//***@") ?? null };
      const before = running.status;
      running.status = s;
      if (before.state === s.state) return;
      if (s.state === "subscribed") {
        log.info("camera events subscribed", { module: "events", camera, n: s.subscriptions });
      } else if (s.state === "unsupported" || s.state === "lost") {
        log.warn(`camera events ${s.state}`, { module: "events", camera, reason: s.error });
      }
    };
    running.done = watchEvents({ ...o, ...timing, onEvent, onStatus, now }, stop.signal)
      .catch((err) => log.error("camera events keeper stopped", { module: "events", camera, err }));
    this.#running.set(camera, running);
  }
}
