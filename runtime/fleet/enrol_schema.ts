/**
 * The enrolment contract (the AWS IoT fleet-provisioning pattern): a new box, connected with the
 * bootstrap credential of its provisioning file, publishes a certificate signing request on its
 * own `enrol/request` topic and receives its certificate (or a refusal with a reason) on
 * `enrol/reply`; then it reconnects with mutual TLS as itself. Topics keep to AWS IoT Core's
 * limits (at most 7 slashes, QoS 1, payloads far below 128 KB). docs/fleet-protocol.md is
 * generated from this file and schema.ts (protocol_doc.ts).
 */
import { DEVICE_ID_PATTERN, type Json, REQUEST_ID_PATTERN, TOPIC_ROOT } from "./schema.ts";
import type { TopicSpec } from "./schema.ts";

/** Longest enrolment payload either way (a P-256 CSR is about 400 bytes, a certificate 700). */
export const MAX_ENROL_BYTES = 16 * 1024;

/** `enrol/request` (device → enrolment responder, QoS 1, not retained). */
export interface EnrolRequest {
  /** Echoed in the reply, so the box ignores answers to an older request. */
  readonly requestId: string;
  /** The same as in the topic; the CSR's subject CN must be this too. */
  readonly deviceId: string;
  /** PKCS#10 request (PEM) for an ECDSA P-256 key made on the box, subject CN=deviceId. */
  readonly csr: string;
  /** The board serial the deviceId is derived from (`nvr-` + first 16 hex of its SHA-256). */
  readonly serial: string | null;
  /** SHA-256 of the hardware fingerprint (what a licence binds). */
  readonly fingerprintHash: string;
  /** The provisioning file's claim token, when it had one. */
  readonly claimToken?: string;
  readonly ts: number;
}

/** Why a request was refused. */
export type EnrolRefusal =
  | "bad-request"
  | "not-allowed"
  | "bad-csr"
  | "wrong-subject"
  | "bad-claim-token"
  | "already-enrolled";

/** `enrol/reply` (responder → device, QoS 1, not retained). */
export type EnrolReply =
  | {
    readonly requestId: string;
    readonly ok: true;
    /** The box's client certificate (PEM), subject CN=deviceId, clientAuth. */
    readonly certificate: string;
  }
  | {
    readonly requestId: string | null;
    readonly ok: false;
    readonly code: EnrolRefusal;
    readonly reason: string;
  };

export interface EnrolTopics {
  readonly request: string;
  readonly reply: string;
}

export function enrolTopics(deviceId: string): EnrolTopics {
  if (!DEVICE_ID_PATTERN.test(deviceId)) {
    throw new RangeError(`deviceId ${JSON.stringify(deviceId)} cannot be used in a topic`);
  }
  return {
    request: `${TOPIC_ROOT}/${deviceId}/enrol/request`,
    reply: `${TOPIC_ROOT}/${deviceId}/enrol/reply`,
  };
}

/** What the responder subscribes to. */
export const ENROL_REQUESTS = `${TOPIC_ROOT}/+/enrol/request`;

/** The deviceId of an `enrol/request` topic, or null for any other topic. */
export function deviceOfRequestTopic(topic: string): string | null {
  const m = /^nvr\/v1\/([^/]+)\/enrol\/request$/.exec(topic);
  return m && DEVICE_ID_PATTERN.test(m[1]!) ? m[1]! : null;
}

export class EnrolProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EnrolProtocolError";
  }
}

function decode(payload: Uint8Array): Record<string, unknown> {
  if (payload.byteLength > MAX_ENROL_BYTES) {
    throw new EnrolProtocolError(
      `payload is ${payload.byteLength} bytes; at most ${MAX_ENROL_BYTES} are accepted`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (err) {
    throw new EnrolProtocolError(`payload is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new EnrolProtocolError("payload is not a JSON object");
  }
  return value as Record<string, unknown>;
}

const str = (o: Record<string, unknown>, key: string, max: number, optional = false) => {
  const v = o[key];
  if (optional && (v === undefined || v === null)) return undefined;
  if (typeof v !== "string" || v.length === 0 || v.length > max) {
    throw new EnrolProtocolError(`${key} must be a string of 1 to ${max} characters`);
  }
  return v;
};

/** Validates a request (the responder's side); every field checked, unknown ones refused. */
export function parseEnrolRequest(payload: Uint8Array): EnrolRequest {
  const o = decode(payload);
  const known = ["requestId", "deviceId", "csr", "serial", "fingerprintHash", "claimToken", "ts"];
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length) throw new EnrolProtocolError(`unknown field(s): ${unknown.join(", ")}`);
  const requestId = str(o, "requestId", 64)!;
  if (!REQUEST_ID_PATTERN.test(requestId)) {
    throw new EnrolProtocolError("requestId must be 1 to 64 of A-Z a-z 0-9 _ . : -");
  }
  const deviceId = str(o, "deviceId", 128)!;
  if (!DEVICE_ID_PATTERN.test(deviceId)) throw new EnrolProtocolError("deviceId is malformed");
  const fingerprintHash = str(o, "fingerprintHash", 64)!;
  if (!/^[0-9a-f]{64}$/.test(fingerprintHash)) {
    throw new EnrolProtocolError("fingerprintHash must be 64 lowercase hex digits");
  }
  if (typeof o.ts !== "number" || !Number.isFinite(o.ts)) {
    throw new EnrolProtocolError("ts must be a number (ms since the epoch)");
  }
  const claimToken = str(o, "claimToken", 256, true);
  return {
    requestId,
    deviceId,
    csr: str(o, "csr", 8192)!,
    serial: str(o, "serial", 256, true) ?? null,
    fingerprintHash,
    ...(claimToken ? { claimToken } : {}),
    ts: o.ts,
  };
}

/** Validates a reply (the box's side). */
export function parseEnrolReply(payload: Uint8Array): EnrolReply {
  const o = decode(payload);
  const requestId = o.requestId === null ? null : str(o, "requestId", 64)!;
  if (o.ok === true) {
    return { requestId: requestId ?? "", ok: true, certificate: str(o, "certificate", 8192)! };
  }
  if (o.ok === false) {
    return {
      requestId,
      ok: false,
      code: str(o, "code", 32) as EnrolRefusal,
      reason: str(o, "reason", 1000)!,
    };
  }
  throw new EnrolProtocolError("ok must be true or false");
}

const ts = 1767225600000;

/** The enrolment topics, for docs/fleet-protocol.md. */
export const ENROL_TOPIC_SPECS: readonly TopicSpec[] = [
  {
    topic: "enrol/request",
    direction: "device → cloud",
    qos: 1,
    retained: false,
    types: ["EnrolRequest"],
    about: "Published only while the box has no certificate of its own, connected with the " +
      "bootstrap credential of its provisioning file (client id `enrol-<deviceId>`), after it " +
      "subscribed to `enrol/reply`. Without a reply within 30 s it asks again on a new connection " +
      "(backoff 1 s to 1 min). The key never " +
      "leaves the box; a lost reply is answered again with the same certificate when the CSR " +
      "carries the same key.",
    examples: [
      {
        requestId: "enrol-1",
        deviceId: "nvr-0123456789abcdef",
        csr: "-----BEGIN CERTIFICATE REQUEST-----\n…\n-----END CERTIFICATE REQUEST-----\n",
        serial: "10000000abcdef01",
        fingerprintHash: "9f".repeat(32),
        ts,
      } as unknown as Json,
    ],
  },
  {
    topic: "enrol/reply",
    direction: "cloud → device",
    qos: 1,
    retained: false,
    types: ["EnrolRefusal", "EnrolReply"],
    about: "The enrolment responder's answer. With the certificate the box stores it in its " +
      "identity store, disconnects and reconnects with mutual TLS as itself (certificate CN = " +
      "deviceId); the bootstrap credential is then deleted and never used again. A refusal is " +
      "logged with its reason and the box asks again after 5 minutes.",
    examples: [
      {
        requestId: "enrol-1",
        ok: true,
        certificate: "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n",
      },
      {
        requestId: "enrol-1",
        ok: false,
        code: "not-allowed",
        reason: "nvr-0123456789abcdef (serial 10000000abcdef01) is not on the allow-list",
      },
    ],
  },
];
