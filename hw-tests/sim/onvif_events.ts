/**
 * The virtual camera's ONVIF events service (ONVIF Core 9.9): PullPoint subscriptions
 * (CreatePullPointSubscription, PullMessages with a timeout and a message limit, Renew,
 * Unsubscribe), GetEventProperties, and events raised on a schedule (motion every N ms) or on
 * demand (`raise()`, or `POST /sim/event` on the camera's HTTP port from a test): motion, a digital
 * input and tampering with a state (on/off), and a line crossing as real cameras' line detectors
 * send it (ONVIF Analytics, "Line Detector": tns1:RuleEngine/LineDetector/Crossed, IsProperty
 * false, so no PropertyOperation and no state, only the ObjectId of what crossed).
 *
 * Like a real camera it keeps subscriptions in memory only: after a restart every old
 * subscription address answers a fault, and the NVR has to subscribe again.
 */

export const EVENTS_PATH = "/onvif/events_service";
export const SUBSCRIPTION_PREFIX = "/onvif/subscription/";
export const EVENT_HOOK_PATH = "/sim/event";

export const MOTION_TOPIC = "tns1:RuleEngine/CellMotionDetector/Motion";
export const INPUT_TOPIC = "tns1:Device/Trigger/DigitalInput";
/** ONVIF's tampering topic (Profile T): the picture changed as a whole (covered, turned, sprayed). */
export const TAMPER_TOPIC = "tns1:VideoSource/GlobalSceneChange/ImagingService";
/** ONVIF's line detector rule (Analytics service spec): something crossed the line; no state. */
export const LINE_TOPIC = "tns1:RuleEngine/LineDetector/Crossed";
/** What `raise` on demand and the test hook take. */
export type SimEventType = "motion" | "input" | "tampering" | "line-crossing";

export const EVENT_ACTIONS: ReadonlySet<string> = new Set([
  "CreatePullPointSubscription",
  "PullMessages",
  "Renew",
  "Unsubscribe",
  "GetEventProperties",
  "GetServiceCapabilities",
]);

export interface SimEvent {
  readonly topic: string;
  readonly source: Readonly<Record<string, string>>;
  readonly data: Readonly<Record<string, string>>;
  readonly property?: "Initialized" | "Changed";
  /** An event without a state (ONVIF IsProperty="false"): sent without PropertyOperation. */
  readonly pulse?: boolean;
}

export interface EventsSimOptions {
  /** Raise motion (on, then off 1 s later) every this many ms; absent: only on demand. */
  readonly motionEveryMs?: number;
}

interface Queued extends SimEvent {
  readonly timeMs: number;
}

interface Subscription {
  readonly queue: Queued[];
  terminationMs: number;
  wake: (() => void) | null;
}

export interface EventsService {
  /** Answers an events action, or null when `action` is not one. */
  handle(action: string, path: string, xml: string): Promise<Response> | null;
  /** Raises an event to every subscription. */
  raise(event: SimEvent): void;
  /**
   * The test hook: `{"type":"motion"|"input"|"tampering","active":true}` or
   * `{"type":"line-crossing"}` → 204.
   */
  hook(req: Request): Promise<Response>;
  readonly subscriptionCount: number;
  close(): void;
}

const MAX_SUBSCRIPTIONS = 8;
const MAX_QUEUE = 256;
const MAX_PULL_WAIT_MS = 60_000;

const NS = [
  `xmlns:soap="http://www.w3.org/2003/05/soap-envelope"`,
  `xmlns:wsa="http://www.w3.org/2005/08/addressing"`,
  `xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"`,
  `xmlns:tev="http://www.onvif.org/ver10/events/wsdl"`,
  `xmlns:tt="http://www.onvif.org/ver10/schema"`,
  `xmlns:tns1="http://www.onvif.org/ver10/topics"`,
  `xmlns:ter="http://www.onvif.org/ver10/error"`,
].join(" ");

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function respond(body: string, status = 200): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope ${NS}><soap:Body>${body}</soap:Body></soap:Envelope>`,
    { status, headers: { "content-type": "application/soap+xml; charset=utf-8" } },
  );
}

function fault(subcode: string, reason: string): Response {
  return respond(
    `<soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:Value>${subcode}` +
      `</soap:Value></soap:Subcode></soap:Code><soap:Reason><soap:Text xml:lang="en">${
        esc(reason)
      }</soap:Text></soap:Reason></soap:Fault>`,
    400,
  );
}

function text(xml: string, local: string): string | undefined {
  return new RegExp(`<(?:[\\w.-]+:)?${local}(?:\\s[^>]*)?>([^<]*)</`).exec(xml)?.[1]?.trim();
}

/** "PT10S" / "PT1M" → ms, or an absolute time → ms from now; null when neither. */
function durationOrTime(s: string | undefined, nowMs: number): number | null {
  if (s === undefined) return null;
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(s);
  if (m !== null && (m[1] || m[2] || m[3])) {
    return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
  }
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : Math.max(0, t - nowMs);
}

function items(rec: Readonly<Record<string, string>>): string {
  return Object.entries(rec).map(([k, v]) => `<tt:SimpleItem Name="${esc(k)}" Value="${esc(v)}"/>`)
    .join("");
}

function notification(e: Queued): string {
  return `<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">` +
    `${esc(e.topic)}</wsnt:Topic><wsnt:Message><tt:Message UtcTime="${
      new Date(e.timeMs).toISOString()
    }"${e.pulse ? "" : ` PropertyOperation="${e.property ?? "Changed"}"`}><tt:Source>${
      items(e.source)
    }</tt:Source>` +
    `<tt:Data>${items(e.data)}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function motionEvent(active: boolean): SimEvent {
  return {
    topic: MOTION_TOPIC,
    source: {
      VideoSourceConfigurationToken: "VideoSourceConfig_1",
      VideoAnalyticsConfigurationToken: "VideoAnalytics_1",
      Rule: "MyMotionDetectorRule",
    },
    data: { IsMotion: String(active) },
  };
}

export function inputEvent(active: boolean): SimEvent {
  return {
    topic: INPUT_TOPIC,
    source: { InputToken: "DigitalInput_1" },
    data: { LogicalState: String(active) },
  };
}

export function tamperEvent(active: boolean): SimEvent {
  return {
    topic: TAMPER_TOPIC,
    source: { VideoSourceToken: "VideoSource_1" },
    data: { State: String(active) },
  };
}

/** Something crossed the line of `rule`: the tracked object's id, no state. */
export function lineCrossingEvent(objectId: number, rule = "MyLineDetectorRule"): SimEvent {
  return {
    topic: LINE_TOPIC,
    source: {
      VideoSourceConfigurationToken: "VideoSourceConfig_1",
      VideoAnalyticsConfigurationToken: "VideoAnalytics_1",
      Rule: rule,
    },
    data: { ObjectId: String(objectId) },
    pulse: true,
  };
}

/** The event of a type the hook names (`active` means nothing to a line crossing). */
export function simEvent(type: SimEventType, active: boolean, objectId = 1): SimEvent {
  return type === "motion"
    ? motionEvent(active)
    : type === "input"
    ? inputEvent(active)
    : type === "tampering"
    ? tamperEvent(active)
    : lineCrossingEvent(objectId);
}

export function createEventsService(base: string, opts: EventsSimOptions = {}): EventsService {
  const subs = new Map<string, Subscription>();
  let motion = false;
  let input = false;
  let tamper = false;
  /** The id of the last object that crossed the line (a real detector's track id). */
  let crossings = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const sweep = (now: number) => {
    for (const [id, s] of subs) {
      if (s.terminationMs <= now) {
        subs.delete(id);
        s.wake?.();
      }
    }
  };
  const raise = (event: SimEvent) => {
    if (event.topic === MOTION_TOPIC) motion = event.data.IsMotion === "true";
    if (event.topic === INPUT_TOPIC) input = event.data.LogicalState === "true";
    if (event.topic === TAMPER_TOPIC) tamper = event.data.State === "true";
    const now = Date.now();
    sweep(now);
    for (const s of subs.values()) {
      if (s.queue.length >= MAX_QUEUE) s.queue.shift();
      s.queue.push({ ...event, timeMs: now });
      s.wake?.();
    }
  };
  if (opts.motionEveryMs !== undefined) {
    const every = setInterval(() => {
      raise(motionEvent(true));
      const off = setTimeout(() => {
        timers.delete(off);
        raise(motionEvent(false));
      }, Math.min(1000, opts.motionEveryMs! / 2));
      timers.add(off);
    }, opts.motionEveryMs);
    timers.add(every as unknown as ReturnType<typeof setTimeout>);
  }

  const subscription = (path: string): [string, Subscription] | Response => {
    const id = path.startsWith(SUBSCRIPTION_PREFIX) ? path.slice(SUBSCRIPTION_PREFIX.length) : "";
    sweep(Date.now());
    const s = subs.get(id);
    if (s === undefined) {
      return fault(
        "ter:InvalidArgVal",
        `no subscription at ${path} (it expired, was unsubscribed, or the camera restarted); ` +
          "create a new one",
      );
    }
    return [id, s];
  };

  const handle = (action: string, path: string, xml: string): Promise<Response> | null => {
    if (!EVENT_ACTIONS.has(action)) return null;
    const now = Date.now();
    switch (action) {
      case "GetServiceCapabilities":
        return Promise.resolve(respond(
          `<tev:GetServiceCapabilitiesResponse><tev:Capabilities WSSubscriptionPolicySupport="false" ` +
            `WSPullPointSupport="true" WSPausableSubscriptionManagerInterfaceSupport="false" ` +
            `MaxNotificationProducers="0" MaxPullPoints="${MAX_SUBSCRIPTIONS}"/>` +
            `</tev:GetServiceCapabilitiesResponse>`,
        ));
      case "GetEventProperties":
        return Promise.resolve(respond(
          `<tev:GetEventPropertiesResponse><tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml` +
            `</tev:TopicNamespaceLocation><wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>` +
            `<wstop:TopicSet xmlns:wstop="http://docs.oasis-open.org/wsn/t-1"><tns1:RuleEngine><CellMotionDetector><Motion wstop:topic="true"/>` +
            `</CellMotionDetector><LineDetector><Crossed wstop:topic="true"/></LineDetector></tns1:RuleEngine><tns1:Device><Trigger><DigitalInput wstop:topic="true"/></Trigger>` +
            `</tns1:Device><tns1:VideoSource><GlobalSceneChange><ImagingService wstop:topic="true"/>` +
            `</GlobalSceneChange></tns1:VideoSource></wstop:TopicSet></tev:GetEventPropertiesResponse>`,
        ));
      case "CreatePullPointSubscription": {
        if (path !== EVENTS_PATH) {
          return Promise.resolve(fault("ter:InvalidArgVal", `send it to ${EVENTS_PATH}`));
        }
        sweep(now);
        if (subs.size >= MAX_SUBSCRIPTIONS) {
          return Promise.resolve(fault(
            "ter:TooManySubscriptions",
            `at most ${MAX_SUBSCRIPTIONS} subscriptions; unsubscribe one or let it expire`,
          ));
        }
        const life = durationOrTime(text(xml, "InitialTerminationTime"), now) ?? 60_000;
        const id = crypto.randomUUID();
        // Initialized: the current state, as cameras send it to a new subscriber.
        const initial: Queued[] = [
          { ...motionEvent(motion), property: "Initialized", timeMs: now },
          { ...inputEvent(input), property: "Initialized", timeMs: now },
          { ...tamperEvent(tamper), property: "Initialized", timeMs: now },
        ];
        subs.set(id, { queue: initial, terminationMs: now + life, wake: null });
        return Promise.resolve(respond(
          `<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>${base}${SUBSCRIPTION_PREFIX}${id}` +
            `</wsa:Address></tev:SubscriptionReference><wsnt:CurrentTime>${
              iso(now)
            }</wsnt:CurrentTime>` +
            `<wsnt:TerminationTime>${
              iso(now + life)
            }</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>`,
        ));
      }
      case "Renew": {
        const found = subscription(path);
        if (found instanceof Response) return Promise.resolve(found);
        const life = durationOrTime(text(xml, "TerminationTime"), now) ?? 60_000;
        found[1].terminationMs = now + life;
        return Promise.resolve(respond(
          `<wsnt:RenewResponse><wsnt:TerminationTime>${iso(now + life)}</wsnt:TerminationTime>` +
            `<wsnt:CurrentTime>${iso(now)}</wsnt:CurrentTime></wsnt:RenewResponse>`,
        ));
      }
      case "Unsubscribe": {
        const found = subscription(path);
        if (found instanceof Response) return Promise.resolve(found);
        subs.delete(found[0]);
        found[1].wake?.();
        return Promise.resolve(respond(`<wsnt:UnsubscribeResponse/>`));
      }
      case "PullMessages": {
        const found = subscription(path);
        if (found instanceof Response) return Promise.resolve(found);
        const s = found[1];
        const wait = Math.min(
          durationOrTime(text(xml, "Timeout"), now) ?? 10_000,
          MAX_PULL_WAIT_MS,
        );
        const limit = Math.max(1, Math.min(Number(text(xml, "MessageLimit") ?? 10) || 10, 1000));
        return (async () => {
          if (s.queue.length === 0) {
            await new Promise<void>((resolve) => {
              const t = setTimeout(done, wait);
              timers.add(t);
              function done() {
                clearTimeout(t);
                timers.delete(t);
                s.wake = null;
                resolve();
              }
              s.wake = done;
            });
          }
          const out = s.queue.splice(0, limit);
          const at = Date.now();
          return respond(
            `<tev:PullMessagesResponse><tev:CurrentTime>${iso(at)}</tev:CurrentTime>` +
              `<tev:TerminationTime>${iso(s.terminationMs)}</tev:TerminationTime>` +
              `${out.map(notification).join("")}</tev:PullMessagesResponse>`,
          );
        })();
      }
    }
    return null;
  };

  const hook = async (req: Request): Promise<Response> => {
    if (req.method !== "POST") return new Response("use POST\n", { status: 405 });
    const usage = () =>
      new Response(
        'send JSON: {"type":"motion"|"input"|"tampering","active":true|false} or ' +
          '{"type":"line-crossing"}\n',
        { status: 400 },
      );
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return usage();
    }
    const o = (body ?? {}) as { type?: unknown; active?: unknown };
    if (o.type === "line-crossing") {
      raise(lineCrossingEvent(++crossings));
      return new Response(null, { status: 204 });
    }
    if (
      (o.type !== "motion" && o.type !== "input" && o.type !== "tampering") ||
      typeof o.active !== "boolean"
    ) return usage();
    raise(simEvent(o.type, o.active));
    return new Response(null, { status: 204 });
  };

  return {
    handle,
    raise,
    hook,
    get subscriptionCount() {
      sweep(Date.now());
      return subs.size;
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of subs.values()) s.wake?.();
      subs.clear();
    },
  };
}
