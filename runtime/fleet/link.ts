/**
 * The device side of the fleet link (issue 4): one MQTT connection to the fleet broker, the
 * topic contract of schema.ts, a durable offline queue, commands and the config shadow. The
 * daemon injects everything that needs other parts of it (health, fingerprint, licence,
 * restarting a camera, snapshots, applying a config, rebooting), so the link runs and is tested
 * alone against a real broker.
 */
import { Buffer } from "node:buffer";
import { dirname } from "node:path";
import type { MqttConfig, NvrConfig } from "../config/types.ts";
import type { Logger } from "../lib/log.ts";
import { analyticsReport, anonymousInstallId } from "./analytics.ts";
import { CommandRunner, rebootBox, type ResultBody } from "./commands.ts";
import { Connection, type IClientOptions, type MqttClient } from "./connection.ts";
import { type PublishRate, QueuePump } from "./pump.ts";
import { DurableQueue, MAX_PAYLOAD, type MessageClass, type QueueStats } from "./queue.ts";
import {
  type AddCameraCommand,
  ANALYTICS_TOPIC,
  type ClockState,
  decodeJson,
  DEFAULT_MAX_INBOUND_BYTES,
  DEFAULT_MAX_SNAPSHOT_BYTES,
  type DeviceTopics,
  deviceTopics,
  type DiscoverCamerasCommand,
  EVENT_KINDS,
  type EventDetails,
  type EventKind,
  type FingerprintData,
  type HealthData,
  type HealthReason,
  type Json,
  type LastUpdate,
  type LicenceStatusData,
  type OnvifProfilesCommand,
  parseConfigDesired,
  type PluginCommand,
  type ProvisioningState,
  type PtzCommand,
  REQUEST_ID_PATTERN,
  SNAPSHOT_PART_BYTES,
  type StateMessage,
  type UpdateCommand,
} from "./schema.ts";
import { ConfigShadow } from "./shadow.ts";
import type { FleetKv } from "./fleet_kv.ts";
import { encodeWithin, MAX_MESSAGE_BYTES } from "./message_size.ts";
import { camerasHashOfData, canonicalJson } from "../fingerprint/hash.ts";

export { canonicalJson };

export interface FleetLinkDeps {
  /** The running configuration (mqtt, analytics, cameras, storage.dataDir). */
  readonly config: NvrConfig;
  /** Stable id of this box (runtime/fingerprint derives it from the board serial). */
  readonly deviceId: string;
  /** Software version, in the birth message and ping. */
  readonly version: string;
  /** SHA-256 of the local HTTPS certificate, in the birth message; absent without HTTPS. */
  readonly httpsFingerprint?: string;
  readonly log: Logger;
  readonly fingerprint: () => Promise<FingerprintData>;
  readonly health: () => Promise<HealthData>;
  /** The licence status put in every health message; absent: null there. */
  readonly licenceStatus?: () => Promise<LicenceStatusData> | LicenceStatusData;
  /** Takes a licence published on `licence`; absent: the topic is not subscribed. */
  readonly installLicence?: (licence: Json) => Promise<unknown>;
  /**
   * Whether health changed enough to publish it before the next period. When given, health is
   * sampled every `timing.changeCheckMs` and compared with the last one published.
   */
  readonly significantChange?: (previous: HealthData, current: HealthData) => boolean;
  readonly restartCamera: (camera: string) => Promise<void>;
  /** Applies a validated configuration (the link has checked it; the daemon makes it so). */
  readonly applyConfig: (config: NvrConfig) => Promise<void>;
  /** JPEG of a camera now (the daemon's snapshot). */
  readonly snapshot: (camera: string) => Promise<Uint8Array>;
  /** `discover-cameras`: ONVIF cameras not yet added; absent: the command is refused. */
  readonly discoverCameras?: (command: DiscoverCamerasCommand) => Promise<Json>;
  /** `onvif-profiles` and `add-camera`: a found camera added by its ONVIF address. */
  readonly onvifProfiles?: (command: OnvifProfilesCommand) => Promise<Json>;
  readonly addCamera?: (command: AddCameraCommand) => Promise<Json>;
  /** Reboots the box; default `systemctl reboot` (rebootBox). Tests never reboot the machine. */
  readonly reboot?: () => Promise<void>;
  /** Runs an `update` command (runtime/update); absent: updates are refused. */
  readonly update?: (command: UpdateCommand) => Promise<Json>;
  /** Runs a `plugin` command (app/plugin_admin.ts); absent: plugin commands are refused. */
  readonly plugin?: (command: PluginCommand) => Promise<Json>;
  /** Runs a `ptz` command on a camera (runtime/onvif/ptz.ts); absent: ptz commands are refused. */
  readonly ptz?: (command: PtzCommand) => Promise<Json>;
  /** The last update's outcome, put in every `state` birth message. */
  readonly lastUpdate?: () => LastUpdate | null;
  /** A first-boot provisioning problem, put in every `state` birth message. */
  readonly provisioning?: () => ProvisioningState | null;
  /** Whether the wall clock is trusted, put in every `state` birth message. */
  readonly clock?: () => ClockState;
  /** Deno KV file of the offline queue; default `<storage.dataDir>/fleet.kv`. */
  readonly kvPath?: string;
  /**
   * An open store used instead of opening `kvPath`; the link never closes it. The simulator
   * gives each box its own key prefix in one shared store (fleet_kv.ts says why).
   */
  readonly kv?: FleetKv;
  /** Random id of this run; default a new UUID. */
  readonly bootId?: string;
  /** When the daemon started (for uptime); default now. */
  readonly startedAt?: number;
  readonly now?: () => number;
  readonly timing?: Partial<FleetTiming>;
}

export interface FleetTiming {
  /** Health period; default mqtt.healthIntervalSeconds. */
  readonly healthMs: number;
  /** How often health is sampled for `significantChange`. */
  readonly changeCheckMs: number;
  /** How often the fingerprint is read again to see if it changed. */
  readonly fingerprintCheckMs: number;
  /** How often analytics are sent (when enabled). */
  readonly analyticsMs: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly keepaliveSeconds: number;
  readonly connectTimeoutMs: number;
  /** Longest a command's hook may take before the answer is `timeout`. */
  readonly commandTimeoutMs: number;
  /** Unacknowledged QoS 1 messages at a time. */
  readonly window: number;
  readonly maxInboundBytes: number;
  readonly maxSnapshotBytes: number;
  /** How long stop() waits for messages in flight to be acknowledged. */
  readonly stopGraceMs: number;
  /**
   * Steady publishes per second after a burst (AWS IoT Core sizes a device at 1/s): the queue
   * waits, and health samples that fall behind are coalesced; nothing else is dropped.
   */
  readonly publishRate: PublishRate;
}

export const DEFAULT_TIMING: Omit<FleetTiming, "healthMs"> = {
  changeCheckMs: 5_000,
  fingerprintCheckMs: 10 * 60_000,
  analyticsMs: 24 * 3600_000,
  // Full jitter over these (connection.ts): 10,000 boxes dropped at once reconnect at ≤ 500/s.
  reconnectMinMs: 25_000,
  reconnectMaxMs: 120_000,
  keepaliveSeconds: 30,
  connectTimeoutMs: 10_000,
  commandTimeoutMs: 30_000,
  window: 64,
  maxInboundBytes: DEFAULT_MAX_INBOUND_BYTES,
  maxSnapshotBytes: DEFAULT_MAX_SNAPSHOT_BYTES,
  stopGraceMs: 2_000,
  publishRate: { perSecond: 1, burst: 120 },
};

export interface FleetStatus {
  readonly deviceId: string;
  readonly clientId: string;
  /** Broker URL without credentials. */
  readonly broker: string;
  readonly connected: boolean;
  /** The broker acknowledged the subscriptions of this connection (commands can arrive). */
  readonly subscribed: boolean;
  /** When the connection last went up or down (ms since the epoch). */
  readonly since: number;
  readonly connects: number;
  readonly lastError: string | null;
  readonly queue: QueueStats;
  readonly inflight: number;
  /** Messages acknowledged by the broker since start. */
  readonly sent: number;
  readonly configVersion: number;
  readonly analytics: boolean;
}

export interface FleetLink {
  readonly deviceId: string;
  readonly topics: DeviceTopics;
  /** Queues an event (durably); resolves once it is on disk. */
  publishEvent<K extends EventKind>(kind: K, detail: EventDetails[K]): Promise<void>;
  /** Samples health now and queues it. */
  publishHealthNow(reason?: HealthReason): Promise<void>;
  /** Reads the fingerprint again and queues it if it changed (or always, with force). */
  publishFingerprintNow(force?: boolean): Promise<void>;
  /** Publishes `state` again (e.g. lastUpdate changed); a no-op while disconnected. */
  publishState(): void;
  /** The configuration the link runs with (changes after an accepted apply). */
  config(): NvrConfig;
  /** A configuration changed on the box (local API): the fleet's view follows, reported "local". */
  localChange(config: NvrConfig): Promise<void>;
  status(): FleetStatus;
  /**
   * Stops: timers, then (when connected) waits up to stopGraceMs for messages in flight,
   * publishes `{"state":"offline",reason:"stopped"}`, disconnects; the queue stays on disk.
   */
  stop(): Promise<void>;
  /**
   * Ends the link as a crash or power cut would: the socket is dropped at once (no offline
   * state, no DISCONNECT), so the broker publishes the Will. Timers stop; boot work and commands
   * in progress get stopGraceMs to settle, unsent messages stay queued. For simulators and tests.
   */
  kill(): Promise<void>;
}

export class FleetLinkError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FleetLinkError";
  }
}

const encoder = new TextEncoder();
const SESSION_EXPIRY_SECONDS = 7 * 24 * 3600;

export async function startFleetLink(deps: FleetLinkDeps): Promise<FleetLink> {
  const mqttConfig = deps.config.mqtt;
  const url = mqttConfig.url;
  if (url === null) {
    throw new FleetLinkError("mqtt.url is null: there is no fleet broker to connect to; set it");
  }
  const log = deps.log.child({ module: "fleet" });
  const now = deps.now ?? Date.now;
  const timing: FleetTiming = {
    ...DEFAULT_TIMING,
    healthMs: mqttConfig.healthIntervalSeconds * 1000,
    ...deps.timing,
  };
  const topics = deviceTopics(deps.deviceId);
  const clientId = mqttConfig.clientId ?? deps.deviceId;
  const bootId = deps.bootId ?? crypto.randomUUID();
  const startedAt = deps.startedAt ?? now();
  const tls = await readTlsFiles(mqttConfig);

  const kvPath = deps.kvPath ?? `${deps.config.storage.dataDir}/fleet.kv`;
  if (typeof Deno.openKv !== "function") {
    throw new FleetLinkError(
      "Deno KV is not enabled in this process (the fleet queue needs it): run deno with " +
        '--unstable-kv, or keep "unstable": ["kv"] in deno.json',
    );
  }
  let kv: FleetKv;
  // Only a store the link opened itself is closed by it.
  let ownKv: Deno.Kv | null = null;
  try {
    if (deps.kv) kv = deps.kv;
    else {
      await Deno.mkdir(dirname(kvPath), { recursive: true, mode: 0o700 });
      kv = ownKv = await Deno.openKv(kvPath);
    }
    // Queued messages are the owner's only (SQLite gives -wal/-shm the file's mode).
    const files = kvPath === ":memory:" || !ownKv ? [] : [kvPath, `${kvPath}-wal`, `${kvPath}-shm`];
    for (const file of files) {
      await Deno.chmod(file, 0o600).catch((err) => {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      });
    }
  } catch (err) {
    throw new FleetLinkError(
      `cannot open the fleet queue ${kvPath}: ${(err as Error).message}; check that ` +
        "storage.dataDir is writable",
      { cause: err },
    );
  }

  let queue: DurableQueue;
  let shadow: ConfigShadow;
  try {
    queue = await DurableQueue.open(kv, {
      maxMessages: mqttConfig.queueMaxMessages,
      // No message over a managed broker's 128 KB is ever queued (snapshots go in 96 KiB parts).
      maxPayloadBytes: Math.min(MAX_PAYLOAD, MAX_MESSAGE_BYTES),
      log,
    });
    shadow = await ConfigShadow.open({
      kv,
      initial: deps.config,
      applyConfig: deps.applyConfig,
      report: async (body) => {
        await enqueueJson(topics.configReported, true, "latest", body);
      },
      log,
    });
  } catch (err) {
    ownKv?.close();
    throw err;
  }
  if (queue.stats().messages > 0) {
    log.info("fleet queue holds messages from before; they go out first", {
      messages: queue.stats().messages,
    });
  }

  const enqueueJson = (
    topic: string,
    retain: boolean,
    cls: MessageClass,
    body: Record<string, unknown>,
  ) =>
    queue.enqueue(
      { topic, retain, cls },
      (seq) => encodeWithin(topic, { seq, ts: now() }, body),
    );

  const counts = { commands: new Map<string, number>(), events: new Map<string, number>() };
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  let brokerMaxPacket: number | undefined;
  let subscribed = false;
  let stopped = false;

  const commands = new CommandRunner({
    kv,
    log,
    now,
    version: deps.version,
    bootId,
    startedAt,
    shadow,
    restartCamera: deps.restartCamera,
    snapshot: deps.snapshot,
    ...(deps.discoverCameras ? { discoverCameras: deps.discoverCameras } : {}),
    ...(deps.onvifProfiles ? { onvifProfiles: deps.onvifProfiles } : {}),
    ...(deps.addCamera ? { addCamera: deps.addCamera } : {}),
    reboot: deps.reboot ?? (() => rebootBox()),
    ...(deps.update ? { update: deps.update } : {}),
    ...(deps.plugin ? { plugin: deps.plugin } : {}),
    ...(deps.ptz ? { ptz: deps.ptz } : {}),
    answer: async (requestId: string, body: ResultBody) => {
      await enqueueJson(topics.cmdResult(requestId), false, "keep", { requestId, ...body });
    },
    publishSnapshot: async (requestId, jpeg) => {
      const topic = topics.snapshot(requestId);
      // One message per part, each under a managed broker's 128 KB (and this broker's packet).
      const partBytes = Math.min(SNAPSHOT_PART_BYTES, (brokerMaxPacket ?? Infinity) - 1024);
      const parts = Math.max(1, Math.ceil(jpeg.byteLength / partBytes));
      for (let i = 0; i < parts; i++) {
        const part = jpeg.subarray(i * partBytes, (i + 1) * partBytes);
        await queue.enqueue(
          { topic: parts === 1 ? topic : `${topic}/${i}`, retain: false, cls: "keep" },
          () => part,
        );
      }
      return { topic, parts };
    },
    maxSnapshotBytes: () => Math.min(timing.maxSnapshotBytes, MAX_PAYLOAD),
    maxInboundBytes: timing.maxInboundBytes,
    timeoutMs: timing.commandTimeoutMs,
    counted: (cmd) => bump(counts.commands, cmd),
  });

  const pump = new QueuePump(queue, log, timing.window, timing.publishRate);

  // Session sequence number (Sparkplug bdSeq): one more before every CONNECT; the Will of that
  // connect and the birth after it carry it.
  let bdSeq = 0;
  const willFor = (seq: number) => ({
    topic: topics.state,
    payload: Buffer.from(
      JSON.stringify({ state: "offline", bootId, bdSeq: seq } satisfies StateMessage),
    ),
    qos: 1 as const,
    retain: true,
  });
  const will = willFor(0);
  const options: IClientOptions = {
    protocolVersion: 5,
    clean: false,
    clientId,
    keepalive: timing.keepaliveSeconds,
    connectTimeout: timing.connectTimeoutMs,
    resubscribe: false,
    will,
    properties: {
      sessionExpiryInterval: SESSION_EXPIRY_SECONDS,
      // The broker drops (never sends) packets above this: a hard cap on inbound memory.
      maximumPacketSize: timing.maxInboundBytes * 4,
    },
    ...(mqttConfig.username !== null ? { username: mqttConfig.username } : {}),
    ...(mqttConfig.password !== null ? { password: mqttConfig.password } : {}),
    ...tls,
  };

  const publishBirth = (client: MqttClient) => {
    const lastUpdate = deps.lastUpdate?.() ?? null;
    const provisioning = deps.provisioning?.() ?? null;
    const birth: StateMessage = {
      state: "online",
      version: deps.version,
      bootId,
      bdSeq,
      ts: now(),
      ...(deps.httpsFingerprint ? { httpsFingerprint: deps.httpsFingerprint } : {}),
      ...(lastUpdate ? { lastUpdate } : {}),
      ...(provisioning ? { provisioning } : {}),
      ...(deps.clock ? { clock: deps.clock() } : {}),
    };
    client.publish(topics.state, JSON.stringify(birth), { qos: 1, retain: true }, (err) => {
      if (err) log.warn("fleet birth message not acknowledged", { err });
    });
  };

  const onMessage = (topic: string, payload: Uint8Array, retained: boolean) => {
    if (stopped) return;
    try {
      route(topic, payload, retained);
    } catch (err) {
      log.error("fleet message handling failed; message dropped", { topic, err });
    }
  };

  const route = (topic: string, payload: Uint8Array, retained: boolean) => {
    if (!topic.startsWith(topics.prefix)) {
      log.warn("fleet message on a foreign topic dropped", { topic, bytes: payload.byteLength });
      return;
    }
    const rest = topic.slice(topics.prefix.length);
    if (rest.startsWith("cmd/")) {
      const requestId = rest.slice(4);
      if (!REQUEST_ID_PATTERN.test(requestId)) {
        log.warn("fleet command with a bad requestId dropped; use 1-64 of A-Z a-z 0-9 _ . : -", {
          topic,
        });
        return;
      }
      if (payload.byteLength === 0) {
        log.debug("fleet command topic cleared (empty payload); nothing to do", { topic });
        return;
      }
      void commands.handle(requestId, payload, retained);
    } else if (rest === "state") {
      if (!retained) onState(payload); // a retained copy predates this session's birth
    } else if (rest === "config/desired") {
      if (payload.byteLength === 0) return;
      void onDesired(payload);
    } else if (rest === "licence" && deps.installLicence) {
      if (payload.byteLength === 0) return;
      void onLicence(payload, deps.installLicence);
    } else {
      log.warn("fleet message on an unknown topic dropped", { topic });
    }
  };

  /**
   * An offline state while this session is up is a late Will of an older session (or someone
   * else's publish): the retained copy is wrong, so the birth goes out again.
   */
  const onState = (payload: Uint8Array) => {
    if (payload.byteLength === 0 || !connection.connected) return;
    let state: Partial<StateMessage>;
    try {
      state = decodeJson(payload, timing.maxInboundBytes) as Partial<StateMessage>;
    } catch {
      return;
    }
    if (state?.state !== "offline") return;
    log.info("fleet state says offline while connected (a late Will); publishing the birth again", {
      willBootId: state.bootId ?? null,
      willBdSeq: state.bdSeq ?? null,
      bdSeq,
    });
    publishBirth(connection.client);
  };

  const onDesired = async (payload: Uint8Array) => {
    try {
      const desired = parseConfigDesired(decodeJson(payload, timing.maxInboundBytes));
      await shadow.desired(desired.config, desired.version);
    } catch (err) {
      log.warn("fleet config/desired ignored", { err });
    }
  };

  const onLicence = async (payload: Uint8Array, install: (licence: Json) => Promise<unknown>) => {
    try {
      await install(decodeJson(payload, timing.maxInboundBytes) as Json);
      await publishHealth("change");
    } catch (err) {
      log.warn("fleet licence not installed", { err });
    }
  };

  const connection = new Connection(
    url,
    options,
    { minMs: timing.reconnectMinMs, maxMs: timing.reconnectMaxMs },
    log,
    {
      beforeConnect(client) {
        bdSeq++;
        client.options.will = willFor(bdSeq);
      },
      onConnect(client, connack) {
        brokerMaxPacket = connack.properties?.maximumPacketSize;
        // Exact topics only where retained messages matter (config/desired, licence, state):
        // managed brokers do not deliver retained messages through wildcard filters.
        const filters = [topics.commands, topics.configDesired];
        if (deps.installLicence) filters.push(topics.licence);
        // Retain as published: MQTT 5 brokers otherwise clear the retain flag of a message
        // delivered live, so a retained command published while the box is connected would run
        // (and stay on the broker for every later connect).
        client.subscribe(filters, { qos: 1, rap: true }, (err, granted) => {
          const refused = (granted ?? []).filter((g) => g.qos >= 0x80);
          if (err) log.error("fleet subscribe failed; commands will not arrive", { err });
          else if (refused.length > 0) {
            log.error(
              "the broker refused fleet subscriptions; commands will not arrive. Check the " +
                "broker's ACL for this device (its username or certificate CN must be the deviceId)",
              { refused: refused.map((g) => ({ topic: g.topic, reasonCode: g.qos })) },
            );
          } else subscribed = client.connected;
        });
        // Its own state, live only (retain handling 2, retain flag as delivered): an offline
        // message there while connected is a late Will to answer with the birth (onState).
        client.subscribe(topics.state, { qos: 1, rap: false, rh: 2 }, (err) => {
          if (err) {
            log.warn("fleet state subscription failed; late Wills are not repaired", { err });
          }
        });
        publishBirth(client);
        pump.start({
          publish: (topic, payload, opts, done) => {
            client.publish(
              topic,
              Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
              opts,
              (err) => done(err ?? undefined),
            );
          },
        }, brokerMaxPacket);
      },
      onClose() {
        subscribed = false;
        pump.pause();
      },
      onMessage,
    },
  );

  // Health, fingerprint, analytics: producers that never overlap themselves.
  let lastHealth: HealthData | undefined;
  let healthBusy = false;
  /**
   * A periodic sample came due while another health sample was being taken (e.g. a change
   * check): it is taken as soon as that one ends, never skipped. On a slow box (QEMU TCG, a
   * loaded Pi, smartctl waking a disk) one sample can take longer than the change-check period;
   * the checks then ran back to back and every periodic tick found one running, so no periodic
   * health left the box at all (image test of 18:04: segments written, no health for 5 min).
   */
  let periodicDue = false;
  const publishHealth = async (reason: HealthReason, sample?: HealthData) => {
    const health = sample ?? await deps.health();
    const licence = deps.licenceStatus ? await deps.licenceStatus() : null;
    lastHealth = health;
    await enqueueJson(topics.health, false, "sample", { reason, health, licence });
  };
  const guarded = (what: string, work: () => Promise<void>) => async () => {
    if (healthBusy || stopped) return;
    healthBusy = true;
    try {
      await work();
    } catch (err) {
      log.warn(`fleet ${what} failed`, { err });
    } finally {
      healthBusy = false;
    }
    if (periodicDue && !stopped) await periodicHealth();
  };
  /** The periodic sample: now, or right after the sample being taken (periodicDue). */
  const periodicHealth = async () => {
    periodicDue = true;
    await guarded("health", () => {
      periodicDue = false;
      return publishHealth("periodic");
    })();
  };
  const checkChange = guarded("health change check", async () => {
    if (!deps.significantChange || lastHealth === undefined) return;
    const sample = await deps.health();
    if (deps.significantChange(lastHealth, sample)) await publishHealth("change", sample);
  });

  let lastFingerprint: string | null = null;
  const publishFingerprint = async (force: boolean) => {
    const fingerprint = await deps.fingerprint();
    const key = canonicalJson(fingerprint);
    if (!force && key === lastFingerprint) return;
    lastFingerprint = key;
    const camerasHash = await camerasHashOfData(fingerprint);
    await enqueueJson(topics.fingerprint, true, "latest", { fingerprint, camerasHash });
    log.info("fleet fingerprint queued", { reason: force ? "boot" : "changed" });
  };

  let install: string | null = null;
  let droppedAtLastReport = 0;
  const publishAnalytics = async () => {
    if (!shadow.config.analytics.enabled || stopped) return;
    install ??= await anonymousInstallId(kv, deps.deviceId);
    const dropped = queue.stats().dropped;
    const report = analyticsReport({
      install,
      now: now(),
      version: deps.version,
      uptimeMs: now() - startedAt,
      config: shadow.config,
      commands: counts.commands,
      events: counts.events,
      queueDropped: dropped - droppedAtLastReport,
    });
    droppedAtLastReport = dropped;
    counts.commands.clear();
    counts.events.clear();
    await queue.enqueue(
      { topic: ANALYTICS_TOPIC, retain: false, cls: "sample" },
      () => encoder.encode(JSON.stringify(report)),
    );
  };

  const timers = [
    setInterval(periodicHealth, timing.healthMs),
    setInterval(() => {
      publishFingerprint(false).catch((err) => log.warn("fleet fingerprint failed", { err }));
    }, timing.fingerprintCheckMs),
    setInterval(() => {
      publishAnalytics().catch((err) => log.warn("fleet analytics failed", { err }));
    }, timing.analyticsMs),
    ...(deps.significantChange ? [setInterval(checkChange, timing.changeCheckMs)] : []),
  ];

  connection.start();
  log.info("fleet link started", {
    broker: withoutCredentials(url),
    deviceId: deps.deviceId,
    clientId,
    queued: queue.stats().messages,
  });
  // On boot: the fingerprint and a first health sample.
  const boot = Promise.allSettled([
    publishFingerprint(true).catch((err) => log.warn("fleet fingerprint failed", { err })),
    periodicHealth(),
  ]);

  return {
    deviceId: deps.deviceId,
    topics,
    async publishEvent(kind, detail) {
      if (stopped) throw new FleetLinkError(`fleet link stopped; event ${kind} not queued`);
      if (!EVENT_KINDS.includes(kind)) {
        throw new FleetLinkError(`unknown event kind '${kind}'; known: ${EVENT_KINDS.join(", ")}`);
      }
      bump(counts.events, kind);
      await enqueueJson(topics.events, false, "keep", { kind, detail });
    },
    async publishHealthNow(reason = "request") {
      if (stopped) throw new FleetLinkError("fleet link stopped; health not queued");
      await publishHealth(reason);
    },
    async publishFingerprintNow(force = false) {
      if (stopped) throw new FleetLinkError("fleet link stopped; fingerprint not queued");
      await publishFingerprint(force);
    },
    publishState() {
      if (!stopped && connection.connected) publishBirth(connection.client);
    },
    config: () => shadow.config,
    localChange: (config) => shadow.local(config),
    status: () => ({
      deviceId: deps.deviceId,
      clientId,
      broker: withoutCredentials(url),
      connected: connection.connected,
      subscribed,
      since: connection.since,
      connects: connection.connects,
      lastError: connection.lastError,
      queue: queue.stats(),
      inflight: pump.inflight,
      sent: pump.sent,
      configVersion: shadow.version,
      analytics: shadow.config.analytics.enabled,
    }),
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers) clearInterval(t);
      // Boot work and commands in progress get stopGraceMs, then the link stops regardless.
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise((r) => graceTimer = setTimeout(r, timing.stopGraceMs));
      await Promise.race([Promise.all([boot, commands.idle()]), grace]);
      clearTimeout(graceTimer);
      await queue.flush();
      if (connection.connected) {
        await pump.drained(timing.stopGraceMs);
        pump.pause();
        const offline: StateMessage = {
          state: "offline",
          ts: now(),
          bootId,
          bdSeq,
          reason: "stopped",
        };
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timing.stopGraceMs);
          connection.client.publish(
            topics.state,
            JSON.stringify(offline),
            { qos: 1, retain: true },
            () => {
              clearTimeout(timer);
              resolve();
            },
          );
        });
      }
      pump.pause();
      await connection.stop();
      await queue.close();
      ownKv?.close();
      log.info("fleet link stopped", { queued: queue.stats().messages });
    },
    async kill() {
      if (stopped) return;
      stopped = true;
      for (const t of timers) clearInterval(t);
      pump.pause();
      const killed = connection.kill();
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise((r) => graceTimer = setTimeout(r, timing.stopGraceMs));
      await Promise.race([Promise.all([boot, commands.idle()]), grace]);
      clearTimeout(graceTimer);
      await killed;
      await queue.close();
      ownKv?.close();
      log.info("fleet link killed", { queued: queue.stats().messages });
    },
  };
}

async function readTlsFiles(
  mqtt: MqttConfig,
): Promise<{ ca?: string; cert?: string; key?: string }> {
  const out: { ca?: string; cert?: string; key?: string } = {};
  const read = async (key: "caFile" | "certFile" | "keyFile", path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound
        ? "the file does not exist"
        : err instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : (err as Error).message;
      throw new FleetLinkError(
        `mqtt.${key}: cannot read ${path}: ${why}; fix the path or the file's permissions`,
      );
    }
  };
  if (mqtt.caFile) out.ca = await read("caFile", mqtt.caFile);
  if (mqtt.certFile) out.cert = await read("certFile", mqtt.certFile);
  if (mqtt.keyFile) out.key = await read("keyFile", mqtt.keyFile);
  return out;
}

function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.href;
  } catch {
    return url;
  }
}
