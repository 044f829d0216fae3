/**
 * Keeps one camera's PullPoint subscription alive for as long as `signal` runs: subscribes, pulls,
 * renews before the camera drops it, and subscribes again (after a growing pause) when it is lost,
 * e.g. the camera rebooted and forgot it. Says its state through `onStatus`, so a camera without
 * an events service is shown as such and not as a camera where nothing happens.
 */
import { sleep } from "../lib/sleep.ts";
import {
  createPullPoint,
  eventsServiceUrl,
  type OnvifNotification,
  pullMessages,
  type PullPointSubscription,
  renewPullPoint,
  unsubscribePullPoint,
} from "./pullpoint.ts";
import { OnvifError } from "./soap_client.ts";

export type CameraEventType = "motion" | "digital-input" | "tampering" | "line-crossing" | "other";

/** A notification as the NVR reads it. */
export interface CameraEvent {
  readonly type: CameraEventType;
  /** Motion on/off, input high/low, tampering on/off; null when the event has no state. */
  readonly active: boolean | null;
  readonly topic: string;
  /** The camera's time, or null (the caller stamps it with its own clock). */
  readonly timeMs: number | null;
  /** "Initialized" for the state reported on subscribing, "Changed" for a change. */
  readonly property: string;
  readonly source: Readonly<Record<string, string>>;
}

/**
 * - "connecting": not subscribed yet;
 * - "subscribed": pulling;
 * - "unsupported": the camera has no events service (asked again now and then);
 * - "lost": the subscription or the camera is gone; subscribing again after a pause.
 */
export type EventsState = "connecting" | "subscribed" | "unsupported" | "lost";

export interface EventsStatus {
  readonly state: EventsState;
  /** Why, for "unsupported" and "lost". */
  readonly error: string | null;
  /** Subscriptions made so far (a new one after each loss). */
  readonly subscriptions: number;
  /** Events dropped by the rate cap. */
  readonly dropped: number;
}

export interface WatchEventsOptions {
  readonly deviceUrl: string;
  readonly username: string | null;
  readonly password: string | null;
  readonly onEvent: (event: CameraEvent) => void;
  readonly onStatus?: (status: EventsStatus) => void;
  /** PullMessages timeout, default 10 s (well inside the subscription's life). */
  readonly pullTimeoutSec?: number;
  /** Subscription life asked for, renewed at half of it; default 60 s. */
  readonly terminationSec?: number;
  /** Pauses before subscribing again after a loss, the last one repeated; default 1, 5, 10, 30 s. */
  readonly retryMs?: readonly number[];
  /** Pause before asking a camera without events again; default 5 min. */
  readonly unsupportedRetryMs?: number;
  /** Events passed on per minute at most (a flooding camera is capped); default 120. */
  readonly maxEventsPerMinute?: number;
  /** Most bytes of one answer; default 256 KiB. */
  readonly maxAnswerBytes?: number;
  readonly now?: () => number;
}

/** Between pulls from a camera that answers at once with nothing, or floods past the cap. */
const PAUSE_WHEN_HOSTILE_MS = 1000;

const MOTION = /(^|[/:])(Motion|MotionAlarm|CellMotionDetector)(\/|$)/i;

/** Which kind of event a topic and its data are; null for notifications with no topic. */
export function classify(n: OnvifNotification): CameraEvent | null {
  if (n.topic === "") return null;
  const t = n.topic;
  const type: CameraEventType = MOTION.test(t)
    ? "motion"
    : /DigitalInput|Trigger\/Relay|LogicalState/i.test(t)
    ? "digital-input"
    : /Tamper|GlobalSceneChange|ImageTooBlurry|ImageTooDark|ImageTooBright/i.test(t)
    ? "tampering"
    : /LineDetector|LineCross|Crossed/i.test(t)
    ? "line-crossing"
    : "other";
  const value = n.data.IsMotion ?? n.data.State ?? n.data.LogicalState ?? n.data.IsTamper ??
    n.data.IsInside ?? n.data.Value;
  const active = value === undefined
    ? null
    : /^(true|1|active|on|high)$/i.test(value)
    ? true
    : /^(false|0|inactive|off|low)$/i.test(value)
    ? false
    : null;
  return { type, active, topic: t, timeMs: n.timeMs, property: n.property, source: n.source };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs until `signal` aborts; never throws. */
export async function watchEvents(o: WatchEventsOptions, signal: AbortSignal): Promise<void> {
  const now = o.now ?? Date.now;
  const pullSec = o.pullTimeoutSec ?? 10;
  const termSec = o.terminationSec ?? 60;
  const retry = o.retryMs ?? [1000, 5000, 10_000, 30_000];
  const perMinute = o.maxEventsPerMinute ?? 120;
  const creds = {
    username: o.username,
    password: o.password,
    signal,
    ...(o.maxAnswerBytes ? { maxBytes: o.maxAnswerBytes } : {}),
    now,
  };
  let subscriptions = 0;
  let dropped = 0;
  let failures = 0;
  let windowStart = now();
  let inWindow = 0;
  const status = (state: EventsState, error: string | null = null) =>
    o.onStatus?.({ state, error, subscriptions, dropped });

  const deliver = (n: OnvifNotification) => {
    const e = classify(n);
    if (e === null) return;
    const t = now();
    if (t - windowStart >= 60_000) {
      windowStart = t;
      inWindow = 0;
    }
    if (++inWindow > perMinute) {
      dropped++;
      return;
    }
    try {
      o.onEvent(e);
    } catch { /* the consumer's failure is its own to report */ }
  };

  status("connecting");
  let sub: PullPointSubscription | null = null;
  while (!signal.aborted) {
    sub = null;
    try {
      const eventsUrl = await eventsServiceUrl(o.deviceUrl, creds);
      if (eventsUrl === null) {
        status(
          "unsupported",
          "the camera has no ONVIF events service (GetCapabilities names none)",
        );
        failures = 0;
        await sleep(o.unsupportedRetryMs ?? 300_000, signal);
        continue;
      }
      sub = await createPullPoint(eventsUrl, termSec, creds);
      subscriptions++;
      failures = 0;
      status("subscribed");
      // Renew at half the life the camera granted, measured on our clock (cameras' clocks drift).
      const life = (t: number | null, c: number | null) =>
        t !== null && c !== null && t > c ? t - c : termSec * 1000;
      let renewAt = now() + life(sub.terminationMs, sub.currentMs) / 2;
      while (!signal.aborted) {
        if (now() >= renewAt) {
          const r = await renewPullPoint(sub, termSec, creds);
          renewAt = now() + life(r.terminationMs, r.currentMs) / 2;
        }
        const left = Math.max(1, Math.floor((renewAt - now()) / 1000));
        const asked = Math.min(pullSec, left);
        const t0 = now();
        const pulled = await pullMessages(sub, asked, creds);
        for (const n of pulled.messages) deliver(n);
        if (dropped > 0) status("subscribed");
        // A camera that ignores the pull's timeout (answers at once with nothing), or floods past
        // the cap, is asked at most about once a second, not in a tight loop.
        const ignoredTimeout = pulled.messages.length === 0 && now() - t0 < asked * 500;
        if (ignoredTimeout || inWindow > perMinute) await sleep(PAUSE_WHEN_HOSTILE_MS, signal);
      }
    } catch (err) {
      if (signal.aborted || (err instanceof OnvifError && err.kind === "aborted")) break;
      const pause = retry[Math.min(failures, retry.length - 1)] ?? 30_000;
      failures++;
      status("lost", `${describe(err)}; subscribing again in ${Math.round(pause / 1000)} s`);
      if (sub !== null) {
        // Tell the camera, in case only the pull failed; it forgets the subscription anyway.
        await unsubscribePullPoint(sub, { ...creds, signal }).catch(() => {});
      }
      await sleep(pause, signal);
      continue;
    }
  }
  if (sub !== null) {
    // Stopping: free the camera's slot now (cameras allow few subscriptions), bounded by 2 s.
    const { signal: _gone, ...rest } = creds;
    await unsubscribePullPoint(sub, { ...rest, signal: AbortSignal.timeout(2000) }).catch(() => {});
  }
}
