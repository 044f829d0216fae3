/**
 * What one client did at a real Mosquitto, read from the broker's debug log (`log_type debug`):
 * its CONNECTs (keep-alive, Will), SUBSCRIBEs (filters, QoS) and PUBLISHes (topic, QoS, retain,
 * bytes). The broker's own account, so a check against it covers whatever the client library
 * put on the wire. Used by the managed-broker checker (fleet/broker_limits_test.ts).
 */
import {
  AWS_IOT_LIMITS,
  type BrokerLimits,
  checkKeepAlive,
  checkPublish,
  checkSubscriptions,
  type LimitViolation,
} from "../fleet/broker_limits.ts";

/** Log lines a broker needs for audit(): add to Mosquitto.start({ extraConfig }). */
export const AUDIT_LOG_CONFIG = ["log_type debug"];

export interface ClientAudit {
  readonly connects: { keepalive: number; protocol: number }[];
  readonly wills: { topic: string; bytes: number; qos: number; retain: boolean }[];
  readonly subscriptions: { filter: string; qos: number }[];
  readonly publishes: { topic: string; bytes: number; qos: number; retain: boolean }[];
}

const CONNECTED = /New client connected from \S+ as (\S+) \(p(\d+), c\d, k(\d+)/;
const WILL = /Will message specified \((\d+) bytes\) \(r(\d), q(\d)\)/;
const SUBSCRIBE = /Received SUBSCRIBE from (\S+)$/;
const FILTER = /^\t(.+) \(QoS (\d)\)$/;
const PUBLISH =
  /Received PUBLISH from (\S+) \(d\d, q(\d), r(\d), m\d+, '(.*)', \.\.\. \((\d+) bytes\)\)$/;

/** Reads what `clientId` did from Mosquitto's log text. */
export function auditClient(log: string, clientId: string): ClientAudit {
  const audit: ClientAudit = { connects: [], wills: [], subscriptions: [], publishes: [] };
  // Strip the time ("1796617003: " or "04:24:01: ") from each line.
  const lines = log.split("\n").map((l) => l.replace(/^(\d+|\d\d:\d\d:\d\d): /, ""));
  let current: string | null = null; // the client the last CONNECT/SUBSCRIBE line was about
  let pendingWill: { bytes: number; qos: number; retain: boolean } | null = null;
  let inSubscribe = false;
  for (const line of lines) {
    let m: RegExpExecArray | null;
    if ((m = CONNECTED.exec(line))) {
      current = m[1]!;
      inSubscribe = false;
      if (current === clientId) {
        audit.connects.push({ protocol: Number(m[2]), keepalive: Number(m[3]) });
      }
    } else if ((m = WILL.exec(line))) {
      pendingWill = { bytes: Number(m[1]), retain: m[2] === "1", qos: Number(m[3]) };
    } else if (pendingWill && line.startsWith("\t")) {
      if (current === clientId) audit.wills.push({ topic: line.slice(1), ...pendingWill });
      pendingWill = null;
    } else if ((m = SUBSCRIBE.exec(line))) {
      current = m[1]!;
      inSubscribe = true;
    } else if (inSubscribe && (m = FILTER.exec(line))) {
      if (current === clientId) audit.subscriptions.push({ filter: m[1]!, qos: Number(m[2]) });
    } else if ((m = PUBLISH.exec(line))) {
      if (m[1] === clientId) {
        audit.publishes.push({
          topic: m[4]!,
          qos: Number(m[2]),
          retain: m[3] === "1",
          bytes: Number(m[5]),
        });
      }
    } else if (line.startsWith("Sending SUBACK")) {
      inSubscribe = false;
    }
  }
  return audit;
}

/** Every limit the audited client broke (the distinct subscriptions count across connects). */
export function violations(
  audit: ClientAudit,
  limits: BrokerLimits = AWS_IOT_LIMITS,
): LimitViolation[] {
  return [
    ...audit.connects.flatMap((c) => checkKeepAlive(c.keepalive, limits)),
    ...audit.wills.flatMap((w) => checkPublish(w, limits)),
    ...checkSubscriptions(audit.subscriptions, limits),
    ...audit.publishes.flatMap((p) => checkPublish(p, limits)),
  ];
}
