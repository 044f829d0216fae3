/**
 * ONVIF events through a PullPoint subscription (ONVIF Core 9.9, WS-BaseNotification): find the
 * events service, CreatePullPointSubscription, PullMessages with a timeout, Renew, Unsubscribe.
 *
 * Not npm:onvif here, although it has these calls (lib/events.js): it buffers an answer of any
 * size (cam.js `bufs.push(chunk)` without a limit) and its timeout is an idle timeout
 * (`req.setTimeout`), so a camera sending without end, or one byte at a time, holds it forever;
 * it fixes the pull to PT1M and the subscription to PT2M; and it needs `connect()` (four requests)
 * first. These requests go through soap_client.ts instead: a byte cap, an overall deadline, a
 * strict parser.
 */
import { child, find, findAll, type XmlElement } from "./xml.ts";
import { OnvifError, soapCall, type SoapCallOptions, type SoapCredentials } from "./soap_client.ts";

const WSN_ACTION = "http://docs.oasis-open.org/wsn/bw-2";
const TEV_ACTION = "http://www.onvif.org/ver10/events/wsdl";

/** One notification as the camera sent it. */
export interface OnvifNotification {
  /** e.g. "tns1:RuleEngine/CellMotionDetector/Motion" (trimmed, as sent). */
  readonly topic: string;
  /** The camera's UtcTime in ms since the epoch; null when missing or not a date. */
  readonly timeMs: number | null;
  /** "Initialized" (the state when subscribing), "Changed" or "Deleted"; "" when not said. */
  readonly property: string;
  /** SimpleItems of Source (e.g. VideoSourceConfigurationToken) and Data (e.g. IsMotion). */
  readonly source: Readonly<Record<string, string>>;
  readonly data: Readonly<Record<string, string>>;
}

export interface PullPointSubscription {
  /** Where PullMessages, Renew and Unsubscribe go. */
  readonly address: string;
  /** When the camera drops it unless renewed (its clock, ms); null if it did not say. */
  readonly terminationMs: number | null;
  /** The camera's clock at the answer, for `terminationMs` (ms); null if it did not say. */
  readonly currentMs: number | null;
}

export interface PullPointOptions extends SoapCredentials {
  readonly signal?: AbortSignal;
  /** Most bytes of one answer; default soap_client's 256 KiB. */
  readonly maxBytes?: number;
  readonly now?: () => number;
}

/** Most messages asked for in one pull. */
export const PULL_MESSAGE_LIMIT = 32;
/** Most notifications taken from one answer, whatever the camera sends. */
const MAX_NOTIFICATIONS = 64;
/** Most SimpleItems kept per notification, and their lengths. */
const MAX_ITEMS = 16;
const MAX_ITEM_CHARS = 128;
const MAX_TOPIC_CHARS = 256;

function opts(o: PullPointOptions, timeoutMs: number): SoapCallOptions {
  return {
    username: o.username,
    password: o.password,
    timeoutMs,
    ...(o.maxBytes ? { maxBytes: o.maxBytes } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.now ? { now: o.now } : {}),
  };
}

/** "PT60S", "PT1M30S" → ms; null when not a duration this reads. */
export function durationMs(s: string): number | null {
  const m = /^PT(?:(\d{1,5})H)?(?:(\d{1,5})M)?(?:(\d{1,7}(?:\.\d+)?)S)?$/.exec(s.trim());
  if (m === null || (!m[1] && !m[2] && !m[3])) return null;
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}

function timeMs(el: XmlElement | undefined): number | null {
  if (el === undefined) return null;
  const t = Date.parse(el.text);
  return Number.isNaN(t) ? null : t;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * The events service address from GetCapabilities (Category Events), or null when the camera has
 * none (no Events element, an empty XAddr, or a fault saying the action or category is missing).
 */
export async function eventsServiceUrl(
  deviceUrl: string,
  o: PullPointOptions & { timeoutMs?: number },
): Promise<string | null> {
  let body: XmlElement;
  try {
    body = await soapCall(
      deviceUrl,
      `<tds:GetCapabilities><tds:Category>Events</tds:Category></tds:GetCapabilities>`,
      opts(o, o.timeoutMs ?? 10_000),
    );
  } catch (err) {
    if (
      err instanceof OnvifError && err.kind === "fault" &&
      /ActionNotSupported|NoSuchService|InvalidArgVal/.test(err.subcode ?? "")
    ) return null;
    throw err;
  }
  const events = find(body, "Events");
  const xaddr = events ? child(events, "XAddr")?.text ?? "" : "";
  if (xaddr === "") return null;
  if (!isHttpUrl(xaddr)) {
    throw new OnvifError(
      "malformed",
      `${deviceUrl} gave an events address that is not http(s): ${xaddr.slice(0, 100)}`,
    );
  }
  return xaddr;
}

function subscriptionFrom(body: XmlElement, url: string): PullPointSubscription {
  const resp = child(body, "CreatePullPointSubscriptionResponse");
  const ref = resp ? child(resp, "SubscriptionReference") : undefined;
  const address = ref ? child(ref, "Address")?.text ?? "" : "";
  if (resp === undefined || !isHttpUrl(address)) {
    throw new OnvifError(
      "malformed",
      `${url} answered CreatePullPointSubscription without an http(s) SubscriptionReference`,
    );
  }
  return {
    address,
    terminationMs: timeMs(child(resp, "TerminationTime")),
    currentMs: timeMs(child(resp, "CurrentTime")),
  };
}

/** CreatePullPointSubscription for all topics, lasting `terminationSec` unless renewed. */
export async function createPullPoint(
  eventsUrl: string,
  terminationSec: number,
  o: PullPointOptions,
): Promise<PullPointSubscription> {
  const body = await soapCall(
    eventsUrl,
    `<tev:CreatePullPointSubscription><tev:InitialTerminationTime>PT${terminationSec}S` +
      `</tev:InitialTerminationTime></tev:CreatePullPointSubscription>`,
    {
      ...opts(o, 10_000),
      addressing: {
        to: eventsUrl,
        action: `${TEV_ACTION}/EventPortType/CreatePullPointSubscriptionRequest`,
      },
    },
  );
  return subscriptionFrom(body, eventsUrl);
}

function items(parent: XmlElement | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (parent === undefined) return out;
  for (const it of findAll(parent, "SimpleItem").slice(0, MAX_ITEMS)) {
    const name = (it.attrs.Name ?? "").slice(0, MAX_ITEM_CHARS);
    if (name !== "" && !(name in out)) out[name] = (it.attrs.Value ?? "").slice(0, MAX_ITEM_CHARS);
  }
  return out;
}

/** The notifications of a PullMessagesResponse body (bounded in count and size). */
export function notificationsOf(body: XmlElement): OnvifNotification[] {
  const resp = child(body, "PullMessagesResponse");
  if (resp === undefined) {
    throw new OnvifError("malformed", "the answer is not a PullMessagesResponse");
  }
  return findAll(resp, "NotificationMessage").slice(0, MAX_NOTIFICATIONS).map((nm) => {
    const msg = find(nm, "Message");
    const inner = msg?.children.find((c) => c.name === "Message") ?? msg;
    return {
      topic: (child(nm, "Topic")?.text ?? "").slice(0, MAX_TOPIC_CHARS),
      timeMs: inner?.attrs.UtcTime
        ? (Number.isNaN(Date.parse(inner.attrs.UtcTime)) ? null : Date.parse(inner.attrs.UtcTime))
        : null,
      property: (inner?.attrs.PropertyOperation ?? "").slice(0, 32),
      source: items(inner ? child(inner, "Source") : undefined),
      data: items(inner ? child(inner, "Data") : undefined),
    };
  });
}

/**
 * PullMessages: the camera answers when it has messages or after `timeoutSec`. The request's own
 * deadline is that plus `graceMs` (a camera that keeps it open longer is cut off).
 */
export async function pullMessages(
  sub: PullPointSubscription,
  timeoutSec: number,
  o: PullPointOptions & { graceMs?: number },
): Promise<
  { messages: OnvifNotification[]; terminationMs: number | null; currentMs: number | null }
> {
  const body = await soapCall(
    sub.address,
    `<tev:PullMessages><tev:Timeout>PT${timeoutSec}S</tev:Timeout>` +
      `<tev:MessageLimit>${PULL_MESSAGE_LIMIT}</tev:MessageLimit></tev:PullMessages>`,
    {
      ...opts(o, timeoutSec * 1000 + (o.graceMs ?? 5000)),
      addressing: {
        to: sub.address,
        action: `${TEV_ACTION}/PullPointSubscription/PullMessagesRequest`,
      },
    },
  );
  const resp = child(body, "PullMessagesResponse");
  return {
    messages: notificationsOf(body),
    terminationMs: timeMs(resp ? child(resp, "TerminationTime") : undefined),
    currentMs: timeMs(resp ? child(resp, "CurrentTime") : undefined),
  };
}

/** Renew for another `terminationSec`; returns the new termination time (camera clock, ms). */
export async function renewPullPoint(
  sub: PullPointSubscription,
  terminationSec: number,
  o: PullPointOptions,
): Promise<{ terminationMs: number | null; currentMs: number | null }> {
  const body = await soapCall(
    sub.address,
    `<wsnt:Renew><wsnt:TerminationTime>PT${terminationSec}S</wsnt:TerminationTime></wsnt:Renew>`,
    {
      ...opts(o, 10_000),
      addressing: { to: sub.address, action: `${WSN_ACTION}/SubscriptionManager/RenewRequest` },
    },
  );
  const resp = child(body, "RenewResponse");
  if (resp === undefined) {
    throw new OnvifError("malformed", `${sub.address} answered Renew without a RenewResponse`);
  }
  return {
    terminationMs: timeMs(child(resp, "TerminationTime")),
    currentMs: timeMs(child(resp, "CurrentTime")),
  };
}

/** Unsubscribe; errors are the caller's to ignore (the subscription times out anyway). */
export async function unsubscribePullPoint(
  sub: PullPointSubscription,
  o: PullPointOptions,
): Promise<void> {
  await soapCall(
    sub.address,
    `<wsnt:Unsubscribe/>`,
    {
      ...opts(o, 5000),
      addressing: {
        to: sub.address,
        action: `${WSN_ACTION}/SubscriptionManager/UnsubscribeRequest`,
      },
    },
  );
}
