/**
 * The part of MQTT.js 5.16 (npm:mqtt@5.16.0) the fleet link and its tests use, typed here and
 * loaded with `// @ts-types="./mqtt_types.d.ts"`. The package's own declarations pull
 * @types/node 26 (through @types/ws and @types/readable-stream) into the type graph, which
 * replaces Deno's Node types for every module checked with it (node:assert's overloads change
 * and runtime/testing/assert.ts no longer type-checks). These declarations avoid that.
 */

export type QoS = 0 | 1 | 2;

export interface IConnackPacket {
  readonly sessionPresent: boolean;
  readonly reasonCode?: number;
  readonly properties?: { readonly maximumPacketSize?: number; readonly [key: string]: unknown };
}

export interface IPublishPacket {
  readonly topic: string;
  readonly retain: boolean;
  readonly qos: QoS;
  readonly dup: boolean;
}

export interface IClientOptions {
  protocolVersion?: 3 | 4 | 5;
  clientId?: string;
  clean?: boolean;
  keepalive?: number;
  connectTimeout?: number;
  reconnectPeriod?: number;
  manualConnect?: boolean;
  resubscribe?: boolean;
  username?: string;
  password?: string;
  will?: { topic: string; payload: Uint8Array | string; qos: QoS; retain: boolean };
  properties?: {
    sessionExpiryInterval?: number;
    maximumPacketSize?: number;
    receiveMaximum?: number;
  };
  /** TLS (mqtts:, wss:): PEM text. */
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
}

export interface IClientPublishOptions {
  qos?: QoS;
  retain?: boolean;
}

export interface IClientSubscribeOptions {
  qos: QoS;
  /** MQTT 5 "retain as published": keep the retain flag of messages delivered live. */
  rap?: boolean;
  /** MQTT 5 retain handling: 0 send retained messages on subscribe, 1 only if new, 2 never. */
  rh?: 0 | 1 | 2;
}

/** One filter's answer in SUBACK; `qos` 0x80 and above is a refusal (MQTT 5 reason code). */
export interface ISubscriptionGrant {
  readonly topic: string;
  readonly qos: number;
}

export interface MqttClient {
  readonly connected: boolean;
  /** The options of the next CONNECT (e.g. `will`, read again on every reconnect). */
  readonly options: IClientOptions;
  /** The current socket stream (replaced on every connect). */
  readonly stream?: {
    on(event: "error", listener: (err: Error) => void): unknown;
    destroy(): void;
  };
  /** MQTT.js's in-memory stores of packets in flight (opaque here). */
  readonly incomingStore: unknown;
  readonly outgoingStore: unknown;
  on(event: "connect", listener: (connack: IConnackPacket) => void): this;
  on(event: "close" | "offline" | "reconnect" | "end", listener: () => void): this;
  on(event: "error", listener: (err: Error) => void): this;
  on(
    event: "message",
    listener: (topic: string, payload: Uint8Array, packet: IPublishPacket) => void,
  ): this;
  connect(): this;
  /** Without stores, MQTT.js starts with empty ones (and forgets unacknowledged publishes). */
  reconnect(stores?: { incomingStore: unknown; outgoingStore: unknown }): this;
  publish(
    topic: string,
    payload: string | Uint8Array,
    options: IClientPublishOptions,
    callback?: (err?: Error | null) => void,
  ): this;
  publishAsync(
    topic: string,
    payload: string | Uint8Array,
    options?: IClientPublishOptions,
  ): Promise<unknown>;
  subscribe(
    filters: string | string[],
    options: IClientSubscribeOptions,
    callback?: (err: Error | null, granted?: ISubscriptionGrant[]) => void,
  ): this;
  subscribeAsync(
    filters: string | string[],
    options: IClientSubscribeOptions,
  ): Promise<ISubscriptionGrant[]>;
  unsubscribeAsync(filters: string | string[]): Promise<unknown>;
  end(force: boolean, options: Record<string, never>, callback: () => void): this;
  endAsync(force?: boolean): Promise<void>;
}

declare const mqtt: {
  connect(url: string, options?: IClientOptions): MqttClient;
  connectAsync(url: string, options?: IClientOptions): Promise<MqttClient>;
};
export default mqtt;
