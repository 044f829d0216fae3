/**
 * The fleet console as a library (issue 19): one MQTT 5 connection to the fleet broker, the
 * registry (registry.ts) fed by live shared subscriptions (`$share/<group>/…`, so several
 * consoles split the traffic) and by exact-topic reads of retained messages (never a wildcard
 * retained read: managed brokers do not deliver those), commands to a selection of boxes with
 * their results gathered, and desired configuration with versions that only go up.
 */
// @ts-types="../fleet/mqtt_types.d.ts"
import mqtt from "npm:mqtt@5.16.0";
import type { MqttClient } from "../fleet/mqtt_types.d.ts";
import { type CommandResult, deviceTopics, type Json, TOPIC_ROOT } from "../fleet/schema.ts";
import { AWS_IOT_LIMITS } from "../fleet/broker_limits.ts";
import type { DeviceRow, Registry, Selector } from "./registry.ts";

export interface ConsoleOptions {
  /** mqtt://, mqtts://, ws://, wss:// (credentials in the URL are used and never printed). */
  readonly broker: string;
  readonly registry: Registry;
  /** Shared-subscription group; consoles in one group split the live traffic. */
  readonly group?: string;
  /** Follow live traffic (shared subscriptions); default true. */
  readonly follow?: boolean;
  readonly clientId?: string;
  readonly now?: () => number;
}

/** Live registry topics, relative to `nvr/v1/<deviceId>/`. */
const LIVE = ["state", "fingerprint", "health", "config/reported"] as const;
/** Retained topics read by exact name. */
const RETAINED = ["state", "fingerprint", "config/reported"] as const;

export interface CommandOutcome {
  readonly id: string;
  /** "ok" | an ErrorCode | "timeout" (no answer in time). */
  readonly status: string;
  readonly error?: string;
  readonly result?: Json;
}

export interface CommandSummary {
  readonly requestId: string;
  readonly requested: number;
  readonly ok: number;
  readonly failed: number;
  readonly timedOut: number;
  readonly outcomes: readonly CommandOutcome[];
}

export interface ConfigSummary {
  readonly version: number;
  readonly requested: number;
  readonly converged: number;
  readonly rejected: number;
  readonly pending: number;
  readonly outcomes: readonly { id: string; status: string; error?: string }[];
}

export class ConsoleError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConsoleError";
  }
}

type Listener = (topic: string, payload: Uint8Array, retained: boolean) => void;

export class FleetConsole {
  readonly client: MqttClient;
  readonly registry: Registry;
  readonly #now: () => number;
  readonly #listeners = new Set<Listener>();
  #ingesting: Promise<unknown> = Promise.resolve();
  /** Messages this console took into its registry (to show how consoles split traffic). */
  received = 0;

  private constructor(client: MqttClient, registry: Registry, now: () => number) {
    this.client = client;
    this.registry = registry;
    this.#now = now;
    client.on("message", (topic, payload, packet) => {
      const bytes = new Uint8Array(payload);
      if (topic.endsWith("/state")) {
        // Written at once (the write is synchronous): a box's online state never waits behind
        // another box's fingerprint being hashed. State messages keep their order among
        // themselves, and stateSupersedes orders them by bootId and bdSeq anyway.
        this.received++;
        registry.ingest(topic, bytes).catch(() => {});
      } else if (LIVE.some((t) => topic.endsWith(`/${t}`))) {
        this.received++;
        this.#ingesting = this.#ingesting.then(() => registry.ingest(topic, bytes)).catch(
          () => {},
        );
      }
      for (const l of this.#listeners) l(topic, bytes, packet.retain === true);
    });
  }

  static async connect(options: ConsoleOptions): Promise<FleetConsole> {
    let client: MqttClient;
    try {
      client = await mqtt.connectAsync(options.broker, {
        protocolVersion: 5,
        clean: true,
        keepalive: 60,
        connectTimeout: 10_000,
        reconnectPeriod: 1_000,
        clientId: options.clientId ?? `nvr-console-${crypto.randomUUID().slice(0, 8)}`,
      });
    } catch (err) {
      throw new ConsoleError(
        `cannot connect to the fleet broker ${redact(options.broker)}: ${
          (err as Error).message
        }; check --broker or NVR_MQTT_URL`,
        { cause: err },
      );
    }
    const console = new FleetConsole(client, options.registry, options.now ?? Date.now);
    if (options.follow ?? true) {
      const group = options.group ?? "console";
      await client.subscribeAsync(
        LIVE.map((t) => `$share/${group}/${TOPIC_ROOT}/+/${t}`),
        { qos: 1 },
      );
    }
    return console;
  }

  /** Waits until every message received so far is in the registry. */
  async settled(): Promise<void> {
    await this.#ingesting;
  }

  /**
   * Reads the retained state, fingerprint and config/reported of `ids` (default: every box in
   * the registry) by their exact topics, 8 filters per SUBSCRIBE, and unsubscribes again.
   */
  async refresh(ids?: readonly string[], quietMs = 500, timeoutMs = 10_000): Promise<void> {
    const targets = ids ?? this.registry.list().map((d) => d.id);
    const filters = targets.flatMap((id) => RETAINED.map((t) => `${deviceTopics(id).prefix}${t}`));
    let last = this.#now();
    const seen = new Set<string>();
    const listener: Listener = (topic, payload) => {
      if (filters.includes(topic)) {
        seen.add(topic);
        last = this.#now();
        this.#ingesting = this.#ingesting.then(() => this.registry.ingest(topic, payload));
      }
    };
    this.#listeners.add(listener);
    try {
      for (const chunk of chunks(filters, AWS_IOT_LIMITS.maxSubscriptionsPerRequest)) {
        await this.client.subscribeAsync(chunk, { qos: 1 });
      }
      last = this.#now();
      const deadline = this.#now() + timeoutMs;
      while (seen.size < filters.length && this.#now() - last < quietMs && this.#now() < deadline) {
        await delay(50);
      }
      for (const chunk of chunks(filters, AWS_IOT_LIMITS.maxSubscriptionsPerRequest)) {
        await this.client.unsubscribeAsync(chunk);
      }
    } finally {
      this.#listeners.delete(listener);
    }
    await this.settled();
  }

  /** Boxes of a selector; throws when none matches (a typo should not do nothing quietly). */
  select(selector: Selector): DeviceRow[] {
    const devices = this.registry.select(selector);
    if (devices.length === 0) {
      throw new ConsoleError(
        "no box matches the selector; see `deno task fleet devices` (run `devices --refresh` " +
          "to read the boxes' retained state)",
      );
    }
    return devices;
  }

  /**
   * Sends one command to every box of `ids` (same requestId, each on its own `cmd/` topic) and
   * gathers the results until all have answered, `timeoutMs` passed or `signal` aborted (the
   * boxes not heard from by then count as no answer).
   */
  async command(
    ids: readonly string[],
    command: Record<string, Json>,
    timeoutMs = 30_000,
    signal?: AbortSignal,
  ): Promise<CommandSummary> {
    const requestId = `c-${this.#now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
    const results = new Map<string, CommandResult>();
    const wanted = new Set(ids);
    let wake = () => {};
    const listener: Listener = (topic, payload) => {
      const parts = topic.split("/");
      if (parts[3] !== "cmd-result" || parts[4] !== requestId) return;
      const id = parts[2]!;
      if (!wanted.has(id) || results.has(id)) return;
      try {
        results.set(id, JSON.parse(new TextDecoder().decode(payload)));
      } catch { /* a box answering garbage: counted as no answer */ }
      if (results.size === wanted.size) wake();
    };
    this.#listeners.add(listener);
    const filter = `${TOPIC_ROOT}/+/cmd-result/${requestId}`;
    try {
      await this.client.subscribeAsync(filter, { qos: 1 });
      const body = JSON.stringify({ ...command, expiresAt: this.#now() + timeoutMs });
      await parallel(
        ids,
        64,
        (id) => this.client.publishAsync(deviceTopics(id).cmd(requestId), body, { qos: 1 }),
      );
      if (results.size < wanted.size && !signal?.aborted) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const onAbort = () => wake();
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, timeoutMs);
          signal?.addEventListener("abort", onAbort, { once: true });
        });
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      }
      await this.client.unsubscribeAsync(filter);
    } finally {
      this.#listeners.delete(listener);
    }
    const outcomes: CommandOutcome[] = ids.map((id) => {
      const r = results.get(id);
      if (!r) return { id, status: "timeout" };
      return r.ok
        ? { id, status: "ok", ...(r.result !== undefined ? { result: r.result } : {}) }
        : { id, status: r.code ?? "failed", ...(r.error ? { error: r.error } : {}) };
    });
    return {
      requestId,
      requested: ids.length,
      ok: outcomes.filter((o) => o.status === "ok").length,
      failed: outcomes.filter((o) => o.status !== "ok" && o.status !== "timeout").length,
      timedOut: outcomes.filter((o) => o.status === "timeout").length,
      outcomes,
    };
  }

  /**
   * Publishes `config` as the desired configuration of `ids` (retained on each box's exact
   * `config/desired`) with one version above every version known for them, and waits up to
   * `timeoutMs` for their reports. Boxes offline now converge when they reconnect.
   */
  async config(ids: readonly string[], config: Json, timeoutMs = 60_000): Promise<ConfigSummary> {
    const rows = ids.map((id) => this.registry.get(id));
    const version = 1 + Math.max(
      0,
      ...rows.flatMap((r) => [r?.appliedVersion ?? 0, r?.desiredVersion ?? 0]),
    );
    const reports = new Map<string, { status: string; error?: string }>();
    const wanted = new Set(ids);
    let wake = () => {};
    const listener: Listener = (topic, payload) => {
      const parts = topic.split("/");
      if (parts.slice(3).join("/") !== "config/reported" || !wanted.has(parts[2]!)) return;
      let r: { version?: number; status?: string; appliedVersion?: number; error?: string };
      try {
        r = JSON.parse(new TextDecoder().decode(payload));
      } catch {
        return;
      }
      const id = parts[2]!;
      if ((r.appliedVersion ?? 0) >= version) reports.set(id, { status: "applied" });
      else if (r.version === version && (r.status === "rejected" || r.status === "failed")) {
        reports.set(id, { status: r.status, ...(r.error ? { error: r.error } : {}) });
      }
      if (reports.size === wanted.size) wake();
    };
    this.#listeners.add(listener);
    const filter = `${TOPIC_ROOT}/+/config/reported`;
    try {
      await this.client.subscribeAsync(filter, { qos: 1 });
      const body = JSON.stringify({ version, config });
      await parallel(ids, 64, async (id) => {
        await this.client.publishAsync(deviceTopics(id).configDesired, body, {
          qos: 1,
          retain: true,
        });
        this.registry.setDesired(id, version);
      });
      if (reports.size < wanted.size) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, timeoutMs);
        });
        clearTimeout(timer);
      }
      await this.client.unsubscribeAsync(filter);
    } finally {
      this.#listeners.delete(listener);
    }
    const outcomes = ids.map((id) => ({ id, ...(reports.get(id) ?? { status: "pending" }) }));
    return {
      version,
      requested: ids.length,
      converged: outcomes.filter((o) => o.status === "applied").length,
      rejected: outcomes.filter((o) => o.status === "rejected" || o.status === "failed").length,
      pending: outcomes.filter((o) => o.status === "pending").length,
      outcomes,
    };
  }

  /** Calls `listener` for every message this console receives until the returned stop(). */
  listen(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Publishes a signed licence to the box's retained `licence` topic (QoS 1): the box takes it
   * when it is online and on its next connect otherwise, and reports the result in its health.
   */
  async licence(id: string, licence: Json): Promise<void> {
    await this.client.publishAsync(deviceTopics(id).licence, JSON.stringify(licence), {
      qos: 1,
      retain: true,
    });
  }

  async close(): Promise<void> {
    await this.settled();
    await this.client.endAsync();
  }
}

export function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** Runs `work` over `items`, at most `limit` at a time. */
export async function parallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A broker URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.href;
  } catch {
    return "(not a URL)";
  }
}
