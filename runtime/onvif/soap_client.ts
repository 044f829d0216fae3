/**
 * One bounded SOAP 1.2 request to a camera: WS-Security UsernameToken (PasswordDigest) when there
 * are credentials, WS-Addressing `To`/`Action` headers when asked, and an answer read with a byte
 * cap and an overall deadline (a camera that sends forever, or one byte a second, is cut off at
 * the deadline, not at an idle timeout). The answer is parsed by xml.ts (no DOCTYPE, bounded).
 */
import { child, find, parseXml, type XmlElement, XmlError } from "./xml.ts";

export type OnvifErrorKind =
  | "network"
  | "timeout"
  | "too-large"
  | "malformed"
  | "fault"
  | "http"
  | "aborted";

/** A failed ONVIF request; branch on `kind`, never on the message. */
export class OnvifError extends Error {
  readonly kind: OnvifErrorKind;
  /** The SOAP fault's subcode (e.g. "ter:ActionNotSupported"), when the camera sent one. */
  readonly subcode: string | null;
  constructor(
    kind: OnvifErrorKind,
    message: string,
    opts: { subcode?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "OnvifError";
    this.kind = kind;
    this.subcode = opts.subcode ?? null;
  }
}

export interface SoapCredentials {
  readonly username: string | null;
  readonly password: string | null;
}

export interface SoapCallOptions extends SoapCredentials {
  /** Whole request, answer included; default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Most bytes of an answer; default 256 KiB. */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
  /** WS-Addressing headers (PullPoint requests go to the subscription's address). */
  readonly addressing?: { readonly to: string; readonly action: string };
  /** The clock for WS-Security's Created; default Date.now. */
  readonly now?: () => number;
}

export const DEFAULT_MAX_ANSWER_BYTES = 256 * 1024;

async function passwordDigest(nonce: Uint8Array, created: string, password: string) {
  const tail = new TextEncoder().encode(created + password);
  const buf = new Uint8Array(nonce.length + tail.length);
  buf.set(nonce, 0);
  buf.set(tail, nonce.length);
  return btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-1", buf))));
}

export function xmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

async function envelope(body: string, o: SoapCallOptions): Promise<string> {
  let header = "";
  if (o.username) {
    const nonce = crypto.getRandomValues(new Uint8Array(16));
    const created = new Date((o.now ?? Date.now)()).toISOString();
    const digest = await passwordDigest(nonce, created, o.password ?? "");
    header += `<wsse:Security soap:mustUnderstand="1" ` +
      `xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" ` +
      `xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">` +
      `<wsse:UsernameToken><wsse:Username>${xmlText(o.username)}</wsse:Username>` +
      `<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</wsse:Password>` +
      `<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">${
        btoa(String.fromCharCode(...nonce))
      }</wsse:Nonce><wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`;
  }
  if (o.addressing) {
    header += `<wsa:Action>${xmlText(o.addressing.action)}</wsa:Action>` +
      `<wsa:To>${xmlText(o.addressing.to)}</wsa:To>`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>` +
    `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" ` +
    `xmlns:wsa="http://www.w3.org/2005/08/addressing" ` +
    `xmlns:tev="http://www.onvif.org/ver10/events/wsdl" ` +
    `xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" ` +
    `xmlns:tds="http://www.onvif.org/ver10/device/wsdl">` +
    `<soap:Header>${header}</soap:Header><soap:Body>${body}</soap:Body></soap:Envelope>`;
}

/** Reads at most `max` bytes of a body; past that the stream is cancelled and it throws. */
async function readBounded(res: Response, max: number, url: string): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => {});
    throw new OnvifError(
      "too-large",
      `${url} announced an answer of ${declared} bytes, over the limit of ${max}; refused unread`,
    );
  }
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        throw new OnvifError(
          "too-large",
          `${url} sent more than ${max} bytes in one answer; cut off and refused`,
        );
      }
      parts.push(value);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  return new TextDecoder().decode(all);
}

/**
 * Posts `body` (the content of soap:Body) to `url` and returns the answer's soap:Body element.
 * A SOAP fault becomes OnvifError "fault" with its subcode and reason.
 */
export async function soapCall(url: string, body: string, o: SoapCallOptions): Promise<XmlElement> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const max = o.maxBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
  let text: string;
  let status: number;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/soap+xml; charset=utf-8" },
      body: await envelope(body, o),
      signal,
      redirect: "manual",
    });
    status = res.status;
    text = await readBounded(res, max, url);
  } catch (err) {
    if (err instanceof OnvifError) throw err;
    if (o.signal?.aborted) throw new OnvifError("aborted", `request to ${url} stopped`);
    if (deadline.aborted) {
      throw new OnvifError(
        "timeout",
        `${url} did not finish its answer within ${timeoutMs} ms; cut off`,
        { cause: err },
      );
    }
    throw new OnvifError(
      "network",
      `cannot reach ${url}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  let doc: XmlElement;
  try {
    doc = parseXml(text, { maxChars: max });
  } catch (err) {
    if (!(err instanceof XmlError)) throw err;
    throw new OnvifError(
      "malformed",
      `${url} answered HTTP ${status} with XML that is not well formed (${err.message}); refused`,
      { cause: err },
    );
  }
  const soapBody = doc.name === "Envelope" ? child(doc, "Body") : undefined;
  if (soapBody === undefined) {
    throw new OnvifError(
      "malformed",
      `${url} answered HTTP ${status} without a SOAP Envelope/Body`,
    );
  }
  const fault = child(soapBody, "Fault");
  if (fault !== undefined) {
    const codes = find(fault, "Code");
    const sub = codes ? find(codes, "Subcode") : undefined;
    const subcode = sub ? child(sub, "Value")?.text ?? "" : "";
    const reason = find(fault, "Text")?.text ?? "";
    throw new OnvifError(
      "fault",
      `${url} refused: ${subcode || "fault"}${reason ? ` (${reason.slice(0, 200)})` : ""}`,
      { subcode },
    );
  }
  if (status < 200 || status > 299) {
    throw new OnvifError("http", `${url} answered HTTP ${status}`);
  }
  return soapBody;
}
