/**
 * Moves the durable queue to the broker: while connected, reads messages in seq order and hands
 * them to MQTT.js (QoS 1), at most `window` unacknowledged at a time; each PUBACK deletes its
 * message from the queue. When the connection drops, MQTT.js keeps the unacknowledged ones and
 * sends them again first on reconnect (the same client object is reused), and the pump goes on
 * after them, so the order is kept. After a daemon restart the queue is read from its start.
 */
import type { Logger } from "../lib/log.ts";
import type { DurableQueue, QueuedMessage } from "./queue.ts";

/** The part of an MQTT client the pump needs. */
export interface PublishTarget {
  publish(
    topic: string,
    payload: Uint8Array,
    options: { qos: 1; retain: boolean },
    done: (err?: Error) => void,
  ): void;
}

/** Publishes per second a device keeps to (after a burst), and the burst. */
export interface PublishRate {
  readonly perSecond: number;
  readonly burst: number;
}

/**
 * A token bucket: `delay()` says how long to wait before the next publish (0: now, and the token
 * is taken). Pure but for the clock, which tests pass in.
 */
export class TokenBucket {
  readonly #rate: PublishRate;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(rate: PublishRate, now: () => number = Date.now) {
    if (!(rate.perSecond > 0) || !(rate.burst >= 1)) {
      throw new RangeError(
        `publish rate ${rate.perSecond}/s with burst ${rate.burst}: both must be positive, burst ≥ 1`,
      );
    }
    this.#rate = rate;
    this.#now = now;
    this.#tokens = rate.burst;
    this.#last = now();
  }

  /** Ms until a token is free; when 0 the token is taken. */
  delay(): number {
    const t = this.#now();
    this.#tokens = Math.min(
      this.#rate.burst,
      this.#tokens + ((t - this.#last) / 1000) * this.#rate.perSecond,
    );
    this.#last = t;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) / this.#rate.perSecond) * 1000);
  }

  /** True when the next publish would wait: the link is behind. */
  get empty(): boolean {
    return this.#tokens < 1;
  }
}

/** A message that failed this often (e.g. refused by the broker) is dropped. */
const MAX_ATTEMPTS = 5;
/** Topics that answer a request of the fleet's: not held to the steady publish rate. */
const ANSWER_TOPIC = /\/(cmd-result|snapshot)\//;
const READ_BATCH = 256;

export class QueuePump {
  readonly #queue: DurableQueue;
  readonly #log: Logger;
  readonly #window: number;
  /** Largest packet the broker takes (from its CONNACK), or Infinity. */
  #maxPacket = Infinity;
  #target: PublishTarget | null = null;
  #generation = 0;
  /** Highest seq handed to MQTT.js. */
  #cursor = -1;
  readonly #inflight = new Set<number>();
  readonly #attempts = new Map<number, number>();
  #slotWaiters: (() => void)[] = [];
  #sent = 0;
  #coalesced = 0;
  readonly #bucket: TokenBucket | null;

  constructor(queue: DurableQueue, log: Logger, window: number, rate?: PublishRate) {
    this.#queue = queue;
    this.#log = log;
    this.#window = Math.max(1, window);
    this.#bucket = rate ? new TokenBucket(rate) : null;
  }

  /** Health samples skipped because a newer one waited behind them while rate-limited. */
  get coalesced(): number {
    return this.#coalesced;
  }

  /** Starts sending on a (re)connected client. */
  start(target: PublishTarget, maxPacketBytes: number | undefined): void {
    this.#target = target;
    this.#maxPacket = maxPacketBytes ?? Infinity;
    const generation = ++this.#generation;
    this.#run(generation).catch((err) => {
      this.#log.error("fleet queue pump stopped on an error; it restarts on the next connect", {
        err,
      });
    });
  }

  /** Stops handing out messages (connection lost or link stopping). */
  pause(): void {
    this.#generation++;
    this.#target = null;
    this.#wakeSlots();
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  /** Messages acknowledged by the broker since start. */
  get sent(): number {
    return this.#sent;
  }

  /** Resolves when nothing is in flight, or after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inflight.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.#inflight.size === 0;
  }

  async #run(generation: number): Promise<void> {
    const live = () => generation === this.#generation;
    while (live()) {
      if (this.#inflight.size >= this.#window) {
        await this.#slot();
        continue;
      }
      const batch = await this.#queue.read(this.#cursor, READ_BATCH);
      if (!live()) return;
      if (batch.length === 0) {
        await Promise.race([this.#queue.waitForMore(this.#cursor), this.#slot()]);
        continue;
      }
      for (const message of batch) {
        if (message.seq <= this.#cursor) continue;
        while (live() && this.#inflight.size >= this.#window) await this.#slot();
        if (!live()) return;
        this.#cursor = message.seq;
        if (!this.#queue.has(message.seq)) continue; // dropped or superseded meanwhile
        // Answers to the fleet's own requests (cmd-result, snapshot parts) are paced by the
        // requests; the steady rate is for what the box sends by itself (health, events).
        if (this.#bucket && !ANSWER_TOPIC.test(message.topic)) {
          // Behind the steady rate: a health sample with a newer one queued after it is
          // coalesced (the newer one says more). Events always wait.
          if (
            message.cls === "sample" && this.#bucket.empty &&
            this.#queue.newerOnTopic(message.seq, message.topic)
          ) {
            this.#coalesced++;
            this.#queue.ack(message.seq);
            continue;
          }
          for (let wait = this.#bucket.delay(); wait > 0; wait = this.#bucket.delay()) {
            await this.#pause(wait);
            if (!live()) {
              this.#cursor = message.seq - 1; // not sent: again on the next start
              return;
            }
          }
        }
        this.#send(message);
      }
    }
  }

  #send(message: QueuedMessage): void {
    const target = this.#target;
    if (!target) return;
    if (message.payload.byteLength + message.topic.length + 16 > this.#maxPacket) {
      this.#queue.discard(
        message.seq,
        `${message.payload.byteLength} bytes is more than the broker's maximum packet size ` +
          `${this.#maxPacket}`,
      );
      return;
    }
    const seq = message.seq;
    this.#inflight.add(seq);
    target.publish(message.topic, message.payload, { qos: 1, retain: message.retain }, (err) => {
      this.#inflight.delete(seq);
      if (!err) {
        this.#attempts.delete(seq);
        this.#sent++;
        this.#queue.ack(seq);
      } else {
        const attempts = (this.#attempts.get(seq) ?? 0) + 1;
        this.#attempts.set(seq, attempts);
        if (attempts >= MAX_ATTEMPTS) {
          this.#attempts.delete(seq);
          this.#queue.discard(seq, `the broker refused it ${attempts} times: ${err.message}`);
        } else {
          this.#log.warn("fleet message not acknowledged; it will be sent again", {
            seq,
            topic: message.topic,
            err,
          });
          // Send it (and what follows) again, in order.
          this.#cursor = Math.min(this.#cursor, seq - 1);
        }
      }
      this.#wakeSlots();
    });
  }

  /** Waits `ms`, or less when paused (a slot wake-up). */
  async #pause(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([new Promise((r) => timer = setTimeout(r, ms)), this.#slot()]);
    clearTimeout(timer);
  }

  #slot(): Promise<void> {
    return new Promise((resolve) => this.#slotWaiters.push(resolve));
  }

  #wakeSlots(): void {
    for (const w of this.#slotWaiters.splice(0)) w();
  }
}
