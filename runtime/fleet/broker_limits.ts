/**
 * What a managed broker accepts from one device, as data and pure checks (issue 19). The numbers
 * are AWS IoT Core's (the strictest of the managed brokers the fleet is meant to run on; EMQX and
 * HiveMQ take more): the protocol must stay inside them, and broker_limits_test.ts drives every
 * message the link sends and every subscription it makes through a real Mosquitto, reads what
 * the broker saw, and fails on anything these checks refuse. docs/fleet-operations.md shows the
 * table.
 */

export interface BrokerLimits {
  /** Largest PUBLISH payload, bytes (AWS IoT Core: 128 KB). */
  readonly maxPayloadBytes: number;
  /** Highest QoS (AWS IoT Core: 1; QoS 2 is refused). */
  readonly maxQos: 0 | 1 | 2;
  /** Most '/' in a topic (AWS IoT Core: 7, i.e. 8 levels). */
  readonly maxTopicSlashes: number;
  /** Longest topic, UTF-8 bytes (AWS IoT Core: 256). */
  readonly maxTopicBytes: number;
  /** Most topic filters in one SUBSCRIBE (AWS IoT Core: 8). */
  readonly maxSubscriptionsPerRequest: number;
  /** Keep-alive bounds, seconds (AWS IoT Core: 30–1200). */
  readonly minKeepAliveSeconds: number;
  readonly maxKeepAliveSeconds: number;
  /** Steady publishes per second and device the fleet is sized for. */
  readonly steadyPublishesPerSecond: number;
  /** Connects per second across the fleet after a broker restart (10,000 boxes). */
  readonly fleetConnectsPerSecond: number;
}

export const AWS_IOT_LIMITS: BrokerLimits = {
  maxPayloadBytes: 128 * 1024,
  maxQos: 1,
  maxTopicSlashes: 7,
  maxTopicBytes: 256,
  maxSubscriptionsPerRequest: 8,
  minKeepAliveSeconds: 30,
  maxKeepAliveSeconds: 1200,
  steadyPublishesPerSecond: 1,
  fleetConnectsPerSecond: 500,
};

/** One limit a device broke: what, where, and the numbers. */
export interface LimitViolation {
  readonly rule: string;
  readonly detail: string;
}

const utf8 = new TextEncoder();

/** Problems of one topic (name or filter). */
export function checkTopic(topic: string, limits: BrokerLimits = AWS_IOT_LIMITS): LimitViolation[] {
  const out: LimitViolation[] = [];
  const slashes = topic.split("/").length - 1;
  if (slashes > limits.maxTopicSlashes) {
    out.push({
      rule: "topic-depth",
      detail: `${topic}: ${slashes} slashes, at most ${limits.maxTopicSlashes}`,
    });
  }
  const bytes = utf8.encode(topic).byteLength;
  if (bytes > limits.maxTopicBytes) {
    out.push({
      rule: "topic-length",
      detail: `${topic.slice(0, 40)}…: ${bytes} bytes, at most ${limits.maxTopicBytes}`,
    });
  }
  return out;
}

/** Problems of one PUBLISH (the device's own, or its Will). */
export function checkPublish(
  publish: { topic: string; bytes: number; qos: number },
  limits: BrokerLimits = AWS_IOT_LIMITS,
): LimitViolation[] {
  const out = checkTopic(publish.topic, limits);
  if (publish.bytes > limits.maxPayloadBytes) {
    out.push({
      rule: "payload-size",
      detail: `${publish.topic}: ${publish.bytes} bytes, at most ${limits.maxPayloadBytes}`,
    });
  }
  if (publish.qos > limits.maxQos) {
    out.push({
      rule: "qos",
      detail: `${publish.topic}: QoS ${publish.qos}, at most ${limits.maxQos}`,
    });
  }
  return out;
}

/** Problems of the subscriptions a device holds (filters with their QoS). */
export function checkSubscriptions(
  filters: readonly { filter: string; qos: number }[],
  limits: BrokerLimits = AWS_IOT_LIMITS,
): LimitViolation[] {
  const out: LimitViolation[] = [];
  const distinct = new Set(filters.map((f) => f.filter));
  if (distinct.size > limits.maxSubscriptionsPerRequest) {
    out.push({
      rule: "subscriptions",
      detail: `${distinct.size} subscriptions, at most ${limits.maxSubscriptionsPerRequest}`,
    });
  }
  for (const f of filters) {
    out.push(...checkTopic(f.filter, limits));
    if (f.qos > limits.maxQos) {
      out.push({ rule: "qos", detail: `subscription ${f.filter}: QoS ${f.qos}` });
    }
  }
  return out;
}

export function checkKeepAlive(
  seconds: number,
  limits: BrokerLimits = AWS_IOT_LIMITS,
): LimitViolation[] {
  return seconds < limits.minKeepAliveSeconds || seconds > limits.maxKeepAliveSeconds
    ? [{
      rule: "keep-alive",
      detail: `${seconds} s, allowed ${limits.minKeepAliveSeconds}–${limits.maxKeepAliveSeconds} s`,
    }]
    : [];
}

/**
 * Steady rate: publish times (ms) checked against `perSecond` with a burst of `burst`, the way a
 * token bucket admits them. Returns a violation for the first publish the bucket would refuse.
 */
export function checkRate(
  times: readonly number[],
  perSecond: number,
  burst: number,
): LimitViolation[] {
  let tokens = burst;
  let last = times[0] ?? 0;
  for (const [i, t] of [...times].sort((a, b) => a - b).entries()) {
    tokens = Math.min(burst, tokens + ((t - last) / 1000) * perSecond);
    last = t;
    // A small tolerance for timestamps taken on the other side of a socket.
    if (tokens < 1 - 0.05) {
      return [{
        rule: "rate",
        detail: `publish #${i} at ${t}: more than ${perSecond}/s after a burst of ${burst}`,
      }];
    }
    tokens -= 1;
  }
  return [];
}
