/**
 * One MQTT.js client for the life of the link, reconnected by us with exponential backoff and
 * full jitter (MQTT.js's own reconnect has a fixed period, so it is off). Reusing the one client keeps
 * MQTT.js's store of unacknowledged QoS 1 messages across reconnects, which it sends first.
 *
 * MQTT.js runs under Deno through its Node build (node:net, node:tls, node:events), including
 * mqtts with a client certificate (checked in link_tls_test.ts).
 */
// @ts-types="./mqtt_types.d.ts"
import mqtt from "npm:mqtt@5.16.0";
import type { IClientOptions, IConnackPacket, MqttClient } from "./mqtt_types.d.ts";
import type { Logger } from "../lib/log.ts";

export type { IClientOptions, IConnackPacket, MqttClient };

export interface ConnectionHandlers {
  /** Just before each CONNECT (the first and every reconnect): e.g. a new Will payload. */
  beforeConnect?(client: MqttClient): void;
  onConnect(client: MqttClient, connack: IConnackPacket): void;
  onClose(): void;
  onMessage(topic: string, payload: Uint8Array, retained: boolean): void;
}

export interface Backoff {
  readonly minMs: number;
  readonly maxMs: number;
}

/**
 * Delay before reconnect attempt `attempt` (0-based), "full jitter": uniform in
 * [0, min(max, min·2^attempt)). A broker restart drops every box at once; spreading even the
 * first attempt over `minMs` is what keeps the reconnect storm flat (10,000 boxes over the
 * default 25 s: 400 connects/s on average, under the 500/s a managed broker takes;
 * session_test.ts checks the busiest second with a seeded PRNG).
 */
export function backoffDelay(backoff: Backoff, attempt: number, random = Math.random): number {
  const cap = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.min(attempt, 30));
  return Math.floor(cap * random());
}

export class Connection {
  readonly #client: MqttClient;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #attempt = 0;
  #stopping = false;
  #connects = 0;
  /** The last error seen (for status). */
  #lastError: string | null = null;
  /** The error of the current attempt (for the log). */
  #attemptError: string | null = null;
  #lastLogged: string | null | undefined = undefined;
  #since: number = Date.now();
  #up = false;
  readonly #beforeConnect: (() => void) | undefined;

  constructor(
    url: string,
    options: IClientOptions,
    backoff: Backoff,
    log: Logger,
    h: ConnectionHandlers,
  ) {
    this.#log = log;
    this.#backoff = backoff;
    this.#client = mqtt.connect(url, { ...options, reconnectPeriod: 0, manualConnect: true });
    const client = this.#client;
    const before = h.beforeConnect;
    this.#beforeConnect = before ? () => before(client) : undefined;
    client.on("connect", (connack) => {
      this.#attempt = 0;
      this.#connects++;
      this.#up = true;
      this.#since = Date.now();
      this.#lastLogged = undefined;
      log.info("fleet broker connected", { sessionPresent: connack.sessionPresent });
      h.onConnect(client, connack);
    });
    client.on("close", () => {
      h.onClose();
      if (this.#up) {
        this.#up = false;
        this.#since = Date.now();
        if (!this.#stopping) {
          log.warn("fleet broker connection lost; messages are queued until it is back", {
            error: this.#attemptError ?? "connection closed",
          });
        }
      }
      this.#schedule();
    });
    client.on("error", (err) => {
      this.#lastError = err.message;
      this.#attemptError = err.message;
    });
    client.on("message", (topic, payload, packet) => {
      h.onMessage(topic, payload, packet.retain === true);
    });
  }

  /** Starts the first connection attempt. */
  start(): void {
    this.#beforeConnect?.();
    this.#client.connect();
    this.#watchStream();
  }

  get client(): MqttClient {
    return this.#client;
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  get connects(): number {
    return this.#connects;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  /** When the connection last went up or down. */
  get since(): number {
    return this.#since;
  }

  /** Closes the connection (DISCONNECT when connected) and stops reconnecting. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const force = !this.#client.connected;
    await new Promise<void>((resolve) => {
      // end(false) waits for every unacknowledged publish: do not wait for ever.
      const timer = setTimeout(() => {
        this.#client.stream?.destroy();
        resolve();
      }, 2_000);
      this.#client.end(force, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Drops the connection as a crash would: the socket is destroyed (no DISCONNECT, so the broker
   * publishes the Will) and there is no reconnect.
   */
  kill(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    return new Promise<void>((resolve) => this.#client.end(true, {}, () => resolve()));
  }

  #schedule(): void {
    if (this.#stopping || this.#timer !== null) return;
    const delay = backoffDelay(this.#backoff, this.#attempt++);
    const error = this.#attemptError ?? "connection closed";
    this.#attemptError = null;
    const firstAfterLoss = this.#attempt === 1 && this.#connects > 0;
    if (!firstAfterLoss && (error !== this.#lastLogged || this.#attempt % 10 === 0)) {
      this.#log.warn("fleet broker unreachable; retrying", {
        error,
        retryInMs: delay,
        attempt: this.#attempt,
      });
      this.#lastLogged = error;
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#stopping) return;
      // reconnect() without stores replaces them with empty ones: unacknowledged QoS 1 publishes
      // would be forgotten (never sent again, their callbacks pending forever). Keep them.
      const client = this.#client;
      this.#beforeConnect?.();
      client.reconnect({
        incomingStore: client.incomingStore,
        outgoingStore: client.outgoingStore,
      });
      this.#watchStream();
    }, delay);
  }

  /**
   * MQTT.js emits a stream error only when it has a `code` (ECONNREFUSED…) and swallows the
   * others (e.g. "Username is required to use password" from the packet writer); this keeps
   * them for the log and status().
   */
  #watchStream(): void {
    this.#client.stream?.on("error", (err: Error) => {
      this.#lastError = err.message;
      this.#attemptError = err.message;
    });
  }
}
