/**
 * What the fleet tests share: a cloud-side MQTT client that records what it receives, a TCP
 * proxy that can cut the link's connection abruptly, and link dependencies whose injected hooks
 * record their calls. Used by *_test.ts and bench/fleet.ts only.
 */
// @ts-types="../fleet/mqtt_types.d.ts"
import mqtt from "npm:mqtt@5.16.0";
import type { IClientOptions, MqttClient } from "../fleet/mqtt_types.d.ts";
import { Buffer } from "node:buffer";
import { validateConfig } from "../config/validate.ts";
import type { NvrConfig } from "../config/types.ts";
import { memoryLogger } from "../lib/log.ts";
import type { FleetLinkDeps } from "../fleet/link.ts";
import type { HealthData, Json } from "../fleet/schema.ts";

export interface Received {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly retain: boolean;
  /** The payload as JSON, or undefined when it is not JSON. */
  readonly json: Record<string, unknown> | undefined;
  readonly at: number;
}

/** A cloud-side client: subscribes, records every message, waits for the ones a test needs. */
export class CloudClient implements AsyncDisposable {
  readonly client: MqttClient;
  readonly messages: Received[] = [];
  #waiters: (() => void)[] = [];

  private constructor(client: MqttClient) {
    this.client = client;
    client.on("message", (topic, payload, packet) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(new TextDecoder().decode(payload));
      } catch { /* binary */ }
      this.messages.push({
        topic,
        payload: new Uint8Array(payload),
        retain: packet.retain === true,
        json,
        at: Date.now(),
      });
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Connects and subscribes to `filters` (QoS 1). */
  static async connect(
    url: string,
    filters: string[],
    options: IClientOptions = {},
  ): Promise<CloudClient> {
    const client = await mqtt.connectAsync(url, {
      reconnectPeriod: 200,
      connectTimeout: 5_000,
      ...options,
    });
    const cloud = new CloudClient(client);
    if (filters.length > 0) await client.subscribeAsync(filters, { qos: 1 });
    return cloud;
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** Waits until `check` finds something in the messages, and returns it. */
  async waitFor<T>(
    what: string,
    check: (messages: Received[]) => T | undefined | null | false,
    timeoutMs = 10_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = check(this.messages);
      if (found !== undefined && found !== null && found !== false) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.messages.map((m) => `${m.topic} ${m.json ? JSON.stringify(m.json) : ""}`)
          .slice(-15).join("\n  ");
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; last seen:\n  ${seen}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async publish(topic: string, payload: string | Uint8Array, retain = false): Promise<void> {
    const body = typeof payload === "string" ? payload : Buffer.from(payload);
    await this.client.publishAsync(topic, body, { qos: 1, retain });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * A TCP proxy on 127.0.0.1 in front of the broker: `cut()` closes every connection through it
 * at once (no MQTT DISCONNECT), as a pulled cable or a crashed process would.
 */
export class TcpProxy implements Disposable {
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #target: number;
  readonly #accepting: Promise<void>;
  readonly #pipes = new Set<Promise<void>>();
  #closed = false;

  constructor(targetPort: number) {
    this.#target = targetPort;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#accepting = this.#accept();
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Closes every open connection through the proxy (it keeps accepting new ones). */
  cut(): void {
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    this.#conns.clear();
  }

  async close(): Promise<void> {
    this.#stopListening();
    this.cut();
    await this.#accepting;
    await Promise.allSettled([...this.#pipes]);
  }

  [Symbol.dispose](): void {
    this.#stopListening();
    this.cut();
  }

  #stopListening(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let inbound: Deno.TcpConn;
      try {
        inbound = await this.#listener.accept();
      } catch {
        return;
      }
      let outbound: Deno.TcpConn;
      try {
        outbound = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
      } catch {
        inbound.close();
        continue;
      }
      this.#conns.add(inbound);
      this.#conns.add(outbound);
      const pipe = (from: Deno.TcpConn, to: Deno.TcpConn) =>
        from.readable.pipeTo(to.writable).catch(() => {}).finally(() => {
          for (const c of [from, to]) {
            if (this.#conns.delete(c)) {
              try {
                c.close();
              } catch { /* closed */ }
            }
          }
        });
      const both = Promise.allSettled([pipe(inbound, outbound), pipe(outbound, inbound)]).then(
        () => {},
      );
      this.#pipes.add(both);
      both.finally(() => this.#pipes.delete(both));
    }
  }
}

/** A 16×16 red JPEG (225 bytes), made with ffmpeg. */
export const TINY_JPEG = Uint8Array.from(
  atob(
    "/9j/4AAQSkZJRgABAgAAAQABAAD//gAQTGF2YzU5LjM3LjEwMAD/2wBDAAgUFBcUFxsbGxsbGyAeICEhISAgICAh" +
      "ISEkJCQqKiokJCQhISQkKCgqKi4vLisrKisvLzIyMjw8OTlGRkhWVmf/xABMAAEBAAAAAAAAAAAAAAAAAAAABgEB" +
      "AQAAAAAAAAAAAAAAAAAABgcQAQAAAAAAAAAAAAAAAAAAAAARAQAAAAAAAAAAAAAAAAAAAAD/wAARCAAQABADASIA" +
      "AhEAAxEA/9oADAMBAAIRAxEAPwCLAFF/f//Z",
  ),
  (c) => c.charCodeAt(0),
);

/** What the hooks saw, and knobs the test turns. */
export interface HookState {
  fingerprint: Json;
  health: Record<string, Json>;
  healthCalls: number;
  restarted: string[];
  applied: NvrConfig[];
  reboots: string[];
  snapshot: Uint8Array;
  /** Make the next applyConfig throw this message. */
  applyFails: string | null;
}

export interface TestLink {
  readonly deps: FleetLinkDeps;
  readonly hooks: HookState;
  readonly log: ReturnType<typeof memoryLogger>;
}

/**
 * Link dependencies for a test: config with two cameras, hooks that record calls and short
 * reconnect pauses. `raw` is merged into the config (its mqtt keys into mqtt).
 */
export function testLink(
  url: string,
  dir: string,
  raw: { mqtt?: Record<string, unknown>; [key: string]: unknown } = {},
  overrides: Partial<FleetLinkDeps> = {},
): TestLink {
  const { mqtt: mqttRaw, ...rest } = raw;
  const config = validateConfig({
    storage: { dataDir: `${dir}/data` },
    cameras: [
      { id: "door", url: "rtsp://10.0.0.5:554/main", password: "door-secret" },
      { id: "yard", url: "rtsp://user:pw@10.0.0.6:554/main", codec: "h264" },
    ],
    ...rest,
    mqtt: { url, username: "nvr-test", password: "broker-secret", ...mqttRaw },
  });
  const hooks: HookState = {
    fingerprint: { board: { serial: "10000000abcdef01" }, disks: [] },
    health: { cpu: 10 },
    healthCalls: 0,
    restarted: [],
    applied: [],
    reboots: [],
    snapshot: TINY_JPEG,
    applyFails: null,
  };
  const log = memoryLogger("debug");
  const deps: FleetLinkDeps = {
    config,
    deviceId: "nvr-test-0001",
    version: "0.0.0-test",
    log,
    fingerprint: () => Promise.resolve(structuredClone(hooks.fingerprint)),
    health: () => {
      hooks.healthCalls++;
      return Promise.resolve(structuredClone(hooks.health) as HealthData);
    },
    licenceStatus: () => ({ state: "valid" }),
    restartCamera: (camera) => {
      hooks.restarted.push(camera);
      return Promise.resolve();
    },
    applyConfig: (next) => {
      if (hooks.applyFails) return Promise.reject(new Error(hooks.applyFails));
      hooks.applied.push(next);
      return Promise.resolve();
    },
    snapshot: () => Promise.resolve(hooks.snapshot),
    kvPath: `${dir}/fleet.kv`,
    // Tests flood the queue: the steady 1/s of a managed broker is checked in broker_limits_test.
    timing: {
      reconnectMinMs: 100,
      reconnectMaxMs: 1_000,
      stopGraceMs: 1_000,
      publishRate: { perSecond: 10_000, burst: 10_000 },
    },
    ...overrides,
  };
  return { deps, hooks, log };
}

/** Polls `check` every 20 ms until it holds. */
export async function waitUntil(
  what: string,
  check: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Removes a temp folder, ignoring what is already gone. */
export async function removeDir(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
