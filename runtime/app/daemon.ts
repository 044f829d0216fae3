/**
 * The daemon as a value: started from a validated config, stopped in reverse order. main.ts
 * wires it to the process (arguments, environment, signals); tests start it in-process.
 */
import type { CameraConfig, NvrConfig } from "../config/types.ts";
import { ConfigStore } from "../config/store.ts";
import { keepLocked } from "../config/remote_keys.ts";
import { recordersChange, runningConfig } from "../config/applies.ts";
import type { Logger } from "../lib/log.ts";
import { createApp } from "../api/app.ts";
import { listenerCertificate, serveRedirect, splitListen } from "../api/listener.ts";
import { cachedOwnNames } from "../api/own_names.ts";
import {
  type BoardInfo,
  type BoardProfile,
  detectBoard,
  type ElementRegistry,
  GstRegistry,
  loadProfile,
  type VideoPlan,
} from "../board/mod.ts";
import { chooseEngine } from "../recorder/engine.ts";
import { planSource, readSourceFormats } from "../recorder/source.ts";
import {
  type CameraStatus,
  groupCameras,
  type PlannedCamera,
  type Recorders,
  RecorderSet,
  type SupervisorOptions,
  WorkerPool,
} from "../recorder/mod.ts";
import { ownerOnly, restrictMode } from "../storage/data_dir.ts";
import {
  keepReserve,
  requiredFreeBytes,
  retentionPolicy,
  runRetention,
  type StorageAccess,
  storageAccess,
} from "../storage/mod.ts";

/** How often an unavailable users database is tried again, and sessions/audit are pruned. */
const PEOPLE_RETRY_MS = 30_000;
import type { FleetLink, ProvisioningState } from "../fleet/mod.ts";
import type { FingerprintSources } from "../fingerprint/mod.ts";
import { type FleetWiring, startFleet, type UpdateHooks } from "./fleet_wiring.ts";
import { collectFingerprint, deriveDeviceId, fingerprintHash } from "../fingerprint/mod.ts";
import { LicenceKeeper } from "./licence_keeper.ts";
import { UserStore } from "../users/user_store.ts";
import { SETUP_CODE_FILE, SetupCode } from "../users/setup_code.ts";
import { IdentityStore } from "../fleet/identity_store.ts";
import {
  enrol,
  enrolledMqtt,
  type EnrolTiming,
  type FirstBootOutcome,
  takeProvisioningFile,
} from "../fleet/enrol.ts";
import { collectHealth } from "../health/mod.ts";
import { type AuditInput, AuditLog } from "../audit/audit_log.ts";
import { ExportJobs } from "../playback/export_jobs.ts";
import { SharedSubStream } from "../playback/sub_stream.ts";
import { LiveRelay } from "../media/restream/relay.ts";
import { chooseLive } from "../playback/live_choice.ts";
import { LiveViewerLimit } from "../playback/live_stream.ts";
import {
  planTranscode,
  type TranscodeCap,
  transcodeCapacity,
  type TranscodePlan,
} from "../board/transcode_plan.ts";
import { SharedTranscode } from "../playback/live_transcode.ts";
import { TranscodeSlots } from "../playback/transcode_slots.ts";
import { RangeTranscodes } from "../playback/range_transcode.ts";
import { ThumbnailQueue } from "../playback/thumbnail_queue.ts";
import { Thumbnails } from "../playback/thumbnails.ts";
import { PluginHost, type PluginHostOptions } from "../plugins/mod.ts";
import type { ClockTrustOptions } from "../lib/clock_trust.ts";
import { type ClockKeeper, startClockKeeper } from "./clock_keeper.ts";
import { startCameraClockKeeper } from "./camera_clock_keeper.ts";
import { checkPluginSettings } from "./plugin_config.ts";
import { PluginAdminImpl } from "./plugin_admin.ts";
import { CameraEvents, type CameraEventsTiming } from "./camera_events.ts";
import { AlarmKeeper } from "./alarm_keep.ts";
import { EventTriggers } from "./event_triggers.ts";
import type { CameraEventsHealth } from "../health/mod.ts";
import { fleetCameras } from "./fleet_cameras.ts";
import { createPtz, fleetPtz } from "./ptz_wiring.ts";
import { type BoxNtp, startBoxNtp } from "./box_ntp.ts";

export interface Daemon {
  /** Where the API listens, e.g. https on 127.0.0.1:8080 (http only when http.tls is "off"). */
  readonly listen: { scheme: "https" | "http"; hostname: string; port: number };
  /** The plain-HTTP redirect listener (http.redirectListen), or null. */
  readonly redirect: { hostname: string; port: number } | null;
  /** The HTTPS certificate and its SHA-256 fingerprint ("AB:CD:…"); null without HTTPS. */
  readonly tls: { certPem: string; fingerprint: string } | null;
  readonly board: BoardInfo;
  /** The cameras' recorders: in this process, or a pool of worker processes. */
  readonly recorders: Recorders;
  /** The fleet link, when mqtt.url is set and it started. */
  readonly fleet: FleetLink | null;
  /**
   * Applies a validated configuration from the fleet (apply-config): keys outside the allowlist
   * of config/remote_keys.ts keep their running values.
   */
  applyConfig(config: NvrConfig): Promise<void>;
  /** A change made on the box (local API): read-modify-write under the config file's lock. */
  updateConfig(change: (current: NvrConfig) => NvrConfig | Promise<NvrConfig>): Promise<NvrConfig>;
  /** The licence and the cameras it allows. */
  readonly licence: LicenceKeeper;
  /**
   * Sensor plugins installed in `<dataDir>/plugins/`, run as the `plugins` config section says
   * (applied at start and on every change); their `sensor-alarm` events go to the index (and from
   * there to the fleet).
   */
  readonly plugins: PluginHost;
  /** This box's stable id. */
  readonly deviceId: string;
  /** Where the cameras' NTP server listens (ntp.listen, ports bound); empty when it is off. */
  ntpAddrs(): readonly Deno.NetAddr[];
  /**
   * For the systemd watchdog: not stopping, and the recorders answer for every configured camera
   * (recorder processes that hang are killed and restarted by the pool; this is the daemon's own
   * state, and it is asked from the daemon's event loop, so a blocked loop misses the ping).
   */
  healthy(): boolean;
  cameras(): CameraStatus[];
  /** Each camera's ONVIF events state (cameras with an ONVIF address), by camera id. */
  cameraEvents(): ReadonlyMap<string, CameraEventsHealth>;
  /** JPEG of a camera's latest keyframe. Throws SnapshotUnavailableError. */
  snapshot(camera: string): Promise<Uint8Array>;
  /** Stops cameras (finishing open segments), retention, the API, then the index. */
  stop(): Promise<void>;
}

export interface DaemonDeps {
  readonly log: Logger;
  /**
   * Command words before the thumbnail worker (default `lowPriority()`: nice 19, SCHED_IDLE, so
   * it runs only on idle CPU). Tests that wait for thumbnails on a saturated machine pass [].
   */
  readonly thumbnailPriority?: readonly string[];
  readonly now?: () => number;
  /** Retry pauses and jitter of camera supervisors (tests shorten them). */
  readonly supervisor?: SupervisorOptions;
  /** Where board facts are read; tests point these at fixture trees. */
  readonly boardRoots?: { sysRoot: string; procRoot: string };
  /** The element registry; default: the live GStreamer registry. */
  readonly registry?: ElementRegistry;
  /** /proc for the mount guard; tests point it at fixtures. */
  readonly procRoot?: string;
  /** The config file, rewritten when the fleet applies a configuration. */
  readonly configPath?: string | null;
  /** Fingerprint sources; tests point them at fixture trees. */
  readonly fingerprintSources?: FingerprintSources;
  /** A recorder process silent this long is killed and restarted; default 15 s. */
  readonly workerHangMs?: number;
  /** Enrolment timings (tests make the retries quick). */
  readonly enrolTiming?: Partial<EnrolTiming>;
  /** Parts of the updater to replace (tests: rauc with a test keyring, reboot, timings). */
  readonly update?: UpdateHooks;
  /** Plugin host options: /sys and /dev roots (tests: fixture trees, socat ptys), limits. */
  readonly plugins?:
    & Pick<
      PluginHostOptions,
      "sysRoot" | "procRoot" | "serial" | "devRoot" | "limits" | "restartMs"
    >
    & {
      /** Plugins the image ships, installable by name; default the repository's plugins/. */
      readonly shippedDir?: string;
    };
  /**
   * Judge the wall clock (app/clock_keeper.ts): segments made before it is trusted are flagged
   * and re-stamped once it is. main.ts passes `{}` (the real clock, /run, /sys, /proc); tests pass
   * a fake wall clock and fixture roots. Absent: the wall clock is taken as it is.
   */
  readonly clock?: Omit<ClockTrustOptions, "trust" | "onChange"> & { readonly pollMs?: number };
  /** Timings of the cameras' ONVIF event subscriptions (tests make them quick). */
  readonly cameraEvents?: CameraEventsTiming;
  /** When the cameras' clocks are checked (app/camera_clock_keeper.ts); tests make it quick. */
  readonly cameraClock?: { readonly firstMs?: number; readonly intervalMs?: number };
}

export async function startDaemon(config: NvrConfig, deps: DaemonDeps): Promise<Daemon> {
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const controller = new AbortController();
  const { dataDir } = config.storage;

  const board = await detectBoard(deps.boardRoots);
  const profile = loadProfile(board.id);
  const registry = deps.registry ?? new GstRegistry();
  log.info("board", { module: "board", id: board.id, model: board.model, source: board.source });

  const storage = storageAccess(config.storage, deps.procRoot);
  // Room for the index on a full disk (disk_reserve.ts); made again whenever there is space
  // beyond the free-space minimum, so it never takes back room retention keeps for recording.
  const reserveRoom = {
    leaveFree: (total: number) => requiredFreeBytes(retentionPolicy(config), total),
  };
  const keepIndexReserve = () =>
    keepReserve(dataDir, undefined, undefined, reserveRoom)
      .catch((err) => log.warn("index reserve", { module: "storage", err }));
  // Checked once here; what depends on the disk at start-up (users, the fleet queue) reads this.
  let diskReady = false;
  try {
    await storage.checkStorage();
    storage.index();
    diskReady = true;
    await keepIndexReserve();
  } catch (err) {
    // Recording waits for the disk; the rest of the daemon runs and says what is wrong.
    log.error("storage unavailable", { module: "storage", err });
  }
  const retention = runRetention({
    index: storage.index,
    dataDir,
    policy: retentionPolicy(config),
    log: log.child({ module: "retention" }),
    now,
  }, controller.signal);
  const onDiskFull = async () => (await retention.trigger()).bytes;
  // A plugin's alarms marked on its cameras and their recordings kept around them (alarm_keep.ts).
  let pluginConfigs = config.plugins;
  const alarmKeeper = new AlarmKeeper({
    index: storage.index,
    now,
    log: log.child({ module: "plugins" }),
    maxSegmentMs: config.storage.segmentSeconds * 1000,
  });
  if (diskReady) {
    try {
      alarmKeeper.rearm();
    } catch (err) {
      log.warn("kept windows of earlier sensor alarms not re-armed", { module: "plugins", err });
    }
  }
  // Timeline thumbnails: made on hover, and (recording.thumbnails "on-close") in one background
  // process at the lowest priority as segments close; the hover cache counts both.
  const thumbnails = new Thumbnails({ dataDir, checkStorage: storage.checkStorage });
  const thumbnailQueue = new ThumbnailQueue({
    dataDir,
    index: storage.index,
    enabled: () => current.recording.thumbnails === "on-close",
    thumbnails,
    checkStorage: storage.checkStorage,
    log: log.child({ module: "thumbnails" }),
    ...(deps.thumbnailPriority ? { prefix: deps.thumbnailPriority } : {}),
  });
  // Each closed segment: the open alarm windows kept, then the byte budget checked, then its
  // thumbnail queued.
  const onSegmentClosed = () => {
    alarmKeeper.segmentClosed();
    retention.segmentClosed();
    thumbnailQueue.segmentClosed();
  };
  let fleet: FleetWiring | null = null;
  const clockKeeper: ClockKeeper | null = deps.clock
    ? await startClockKeeper({
      trust: config.clock.trust,
      options: deps.clock,
      ...(deps.clock.pollMs ? { pollMs: deps.clock.pollMs } : {}),
      index: storage.index,
      log,
      publish: (kind, detail) => {
        fleet?.link.publishEvent(kind, detail as never).catch(() => {});
        fleet?.link.publishState(); // `clock` in state changed
      },
    })
    : null;

  // Who this box is: the device id and the fingerprint hash a licence binds (cameras left out:
  // they do not bind the licence, and asking them over ONVIF would slow the start).
  const { cameras: _cameras, ...hardwareSources } = deps.fingerprintSources ?? {};
  const hardware = await collectFingerprint(hardwareSources);
  const identity = await deriveDeviceId(hardware, { dataDir });
  const hash = await fingerprintHash(hardware);
  log.info("identity", { module: "daemon", deviceId: identity.deviceId, basis: identity.basis });
  // First boot: the provisioning file into the identity store (on `state`), then wiped.
  const identityStore = new IdentityStore(config.provision.identityDir);
  const firstBoot = await takeProvisioningFile({
    file: config.provision.file,
    store: identityStore,
    allowInsecure: config.provision.allowInsecure,
    log: log.child({ module: "provision" }),
    now,
  });

  let rebuild: () => Promise<void> = () => Promise.resolve();
  const licence = await LicenceKeeper.open({
    config: config.licence,
    dataDir,
    deviceId: identity.deviceId,
    fingerprintHash: hash,
    log,
    now,
    onChange: (from, to) => {
      fleet?.link.publishEvent("licence-change", {
        from: from?.state ?? null,
        to: to.state,
        reason: to.reason,
      }).catch(() => {});
      void rebuild();
    },
  });

  /** Builds and starts the recorders for a configuration; returns how to stop them. */
  const startRecorders = async (cfg: NvrConfig) => {
    const limit = licence.limit(cfg.cameras.filter((c) => c.enabled).map((c) => c.id));
    if (limit && limit.refused.length > 0) {
      log.warn("cameras not licensed", {
        module: "licence",
        refused: limit.refused,
        reason: limit.reason,
      });
    }
    const planned = await Promise.all(
      cfg.cameras.map(async (camera) => {
        const p = await planFor(camera, cfg, profile, registry);
        return limit?.refused.includes(camera.id)
          ? { ...p, fault: `Not licensed: ${limit.reason}` }
          : p;
      }),
    );
    const perProcess = cfg.recording.camerasPerProcess;
    const recorders: Recorders = perProcess === 0
      ? new RecorderSet(planned, {
        config: cfg,
        index: storage.index,
        checkStorage: storage.checkStorage,
        log,
        now,
        ...(clockKeeper ? { clock: clockKeeper.clock } : {}),
        onDiskFull,
        onSegmentClosed,
        ...(deps.supervisor ? { supervisor: deps.supervisor } : {}),
      })
      : new WorkerPool(
        groupCameras(
          planned,
          perProcess,
          cfg.recording.builtinCamerasPerProcess,
          (p) => !p.fault && chooseEngine(p.camera, p.plan, cfg.recording.remux) === "builtin",
        ),
        {
          config: cfg,
          log: log.child({ module: "recorder" }),
          onDiskFull,
          onSegmentClosed,
          ...(clockKeeper ? { clock: clockKeeper.workerOptions } : {}),
          ...(deps.workerHangMs ? { hangMs: deps.workerHangMs } : {}),
          onWorkerLost: (cameras, reason) => {
            for (const camera of cameras) {
              try {
                storage.index().addEvent({
                  camera,
                  tsMs: now(),
                  kind: "recorder-lost",
                  detail: { reason },
                });
              } catch { /* the log has it */ }
            }
          },
        },
      );
    const stopping = new AbortController();
    const running = recorders.run(AbortSignal.any([controller.signal, stopping.signal]));
    return { recorders, stop: () => (stopping.abort(), running) };
  };
  // Cameras in record.mode "events" record around their events and plugin alarms (event_triggers.ts).
  let recordersStarted = false; // events before the recorders start find no pre-roll anyway
  const eventTriggers = new EventTriggers((camera, held) => {
    if (recordersStarted) live.recorders.trigger(camera, held);
  });
  eventTriggers.apply(config.cameras);
  // Sensor plugins, each in its own sandboxed process (runtime/plugins/), as `plugins` says.
  const pluginsDir = `${dataDir}/plugins`;
  const { shippedDir = new URL("../../plugins", import.meta.url).pathname, ...hostOptions } =
    deps.plugins ?? {};
  const plugins = new PluginHost({
    log: log.child({ module: "plugins" }),
    dir: pluginsDir,
    ...hostOptions,
    now,
    onEvent: (plugin, detail) => {
      try {
        eventTriggers.alarm(pluginConfigs[plugin]?.cameras ?? []);
        alarmKeeper.alarm(plugin, detail, pluginConfigs[plugin]);
      } catch (err) {
        log.warn("sensor-alarm not indexed", { module: "plugins", plugin, err });
      }
    },
  });
  if (diskReady) void plugins.apply(config.plugins);
  // The cameras' own events (motion, inputs, …) over ONVIF, into the index (app/camera_events.ts).
  const cameraEvents = new CameraEvents({
    index: storage.index,
    log,
    now,
    ...(deps.cameraEvents ? { timing: deps.cameraEvents } : {}),
    onEvent: (camera, e) => eventTriggers.cameraEvent(camera, e),
  });
  cameraEvents.apply(config.cameras);

  let current = config;
  let live = await startRecorders(config);
  recordersStarted = true;
  // The cameras' clocks against the box's: a health warning and an event when they drift; with
  // cameras[].onvif.setNtp the camera is told its NTP server, audited (the log opens below).
  let clockAudit: () => AuditLog | null = () => null;
  /** SetNTP calls made before the audit log opened (the first check may come first); bounded. */
  const clockAuditQueue: AuditInput[] = [];
  const auditClock = (e?: AuditInput) => {
    if (e && clockAuditQueue.length < 100) clockAuditQueue.push(e);
    const audit = clockAudit();
    try {
      if (audit) { for (const q of clockAuditQueue.splice(0)) audit.record(q); }
    } catch (err) {
      log.warn("camera.set-ntp not audited", { module: "camera-clock", err });
    }
  };
  // The cameras' NTP server (ntp.listen): time only while the box's clock is believed. A port it
  // cannot bind is logged and leaves it off (setNtp "box" then fails, audited); recording goes on.
  let boxNtp: BoxNtp | null = null;
  if (config.ntp.listen.length > 0) {
    try {
      boxNtp = startBoxNtp({
        listen: config.ntp.listen,
        ...(clockKeeper ? { clock: () => clockKeeper.status() } : {}),
        log,
        now,
      });
    } catch (err) {
      log.error("NTP server not started", { module: "ntp", err });
    }
  }
  const cameraClocks = startCameraClockKeeper({
    cameras: () => current.cameras,
    thresholdMs: () => current.clock.cameraDriftSeconds * 1000,
    index: storage.index,
    log,
    now,
    ...(clockKeeper ? { boxClockTrusted: () => clockKeeper.status().trusted } : {}),
    ...deps.cameraClock,
    boxNtp: () => boxNtp,
    onSetNtp: (e) =>
      auditClock({
        tsMs: now(),
        userId: null,
        userName: "camera clock check",
        action: "camera.set-ntp",
        target: `camera:${e.camera} ntp:${e.host}${e.box ? " (box)" : ""}`,
        ip: "",
        userAgent: "",
        outcome: e.error === null ? "ok" : "failed",
      }),
  });
  /** One shared sub-stream session per camera for live viewers (playback/sub_stream.ts). */
  const subStreams = new Map<string, SharedSubStream>();
  /**
   * Live viewers of a camera's main stream hold its relay, which follows the recorders across
   * rebuilds (media/restream/relay.ts): a configuration change pauses them, never drops them.
   */
  const mainRelays = new Map<string, LiveRelay>();
  const mainRelay = (id: string) => {
    let relay = mainRelays.get(id);
    if (!relay) {
      relay = new LiveRelay(() => {
        const camera = current.cameras.find((c) => c.id === id);
        const remux = camera &&
          chooseEngine(camera, { mode: "passthrough" }, current.recording.remux) === "builtin";
        return remux ? live.recorders.live(id) : null;
      });
      mainRelays.set(id, relay);
    }
    return relay;
  };
  /** Live viewers now, against the limits of the configuration in force (changeable remotely). */
  const liveLimit = new LiveViewerLimit(
    () => current.http.liveViewersPerCamera,
    () => current.http.liveViewersTotal,
  );
  /**
   * H.265 → H.264 transcodes for browsers without H.265 (live and recorded ranges) under one cap
   * per box (http.transcodesMax, else the board profile's); one shared live transcode per camera
   * (live_transcode.ts). The board's plan is made once, at the first need (or the first look at
   * the cap); a board that cannot is said once in the log.
   */
  const transcodeCap = (): TranscodeCap => {
    const set = current.http.transcodesMax;
    if (set !== null) {
      return { maxSessions: set, source: "http.transcodesMax (configuration)", basis: "" };
    }
    transcodeLaunch();
    return transcodeCapacity(profile, transcodePlan ?? null);
  };
  const transcodeSlots = new TranscodeSlots(
    () => transcodeCap().maxSessions,
    () => transcodeCap().source,
  );
  const transcodes = new Map<string, SharedTranscode>();
  let transcodePlan: TranscodePlan | null | undefined;
  const transcodeLaunch = (): string | null => {
    if (transcodePlan === undefined) {
      try {
        const plan = planTranscode(profile, registry);
        transcodePlan = plan;
        log.info("transcode plan", {
          module: "live",
          decoder: plan.decoder,
          encoder: plan.encoder,
        });
      } catch (err) {
        transcodePlan = null;
        log.warn("no H.265 to H.264 transcode on this board", { module: "live", err });
      }
    }
    return transcodePlan?.launch ?? null;
  };
  const rangeTranscodes = new RangeTranscodes({
    chain: () => (transcodeLaunch(), transcodePlan?.chain ?? null),
    slots: transcodeSlots,
  });
  let rebuilding: Promise<void> = Promise.resolve();
  rebuild = () =>
    rebuilding = rebuilding.then(async () => {
      if (controller.signal.aborted) return;
      await live.stop();
      live = await startRecorders(current);
      for (const relay of mainRelays.values()) relay.follow();
      for (const sub of subStreams.values()) sub.follow();
    });

  /**
   * A new configuration (already validated): cameras and recording settings take effect now —
   * every camera finishes its open segment and starts again, about a second of recording per
   * camera; storage, http and mqtt settings at the next start. It is written to the config file
   * (store.ts: one lock around read-modify-write), so a restart keeps it.
   */
  const store = new ConfigStore(deps.configPath ?? null, config);
  if (deps.configPath) {
    // It holds camera and broker passwords: the daemon's user only, also for a file made by hand.
    await restrictMode(deps.configPath, 0o600).then((changed) => {
      if (changed) {
        log.warn("config file was readable by others; now 0600", { path: deps.configPath });
      }
    }, (err) => log.warn("config file mode not checked", { path: deps.configPath, err }));
  }
  const takeEffect = async (next: NvrConfig) => {
    pluginConfigs = next.plugins;
    const before = current;
    // storage, http and mqtt at the next start, but the live viewer and transcode limits from the
    // next viewer on (config/applies.ts, which the Settings page reads too).
    current = runningConfig(config, next);
    // Only the recorders read the rest: a change of viewer limits or plugins alone records on
    // undisturbed.
    await plugins.apply(current.plugins);
    cameraEvents.apply(current.cameras);
    eventTriggers.apply(current.cameras);
    // recording.thumbnails is read at every close: no restart for it (applies.ts).
    if (recordersChange(before, current)) await rebuild();
    if (JSON.stringify(before.cameras) !== JSON.stringify(current.cameras)) {
      void cameraClocks.checkNow(); // a camera added or changed: its clock at once
      // …and who it is: the fleet sees a new or swapped camera now, not at the 10-minute check.
      fleet?.link.publishFingerprintNow().catch((err) =>
        log.warn("fingerprint not re-sent after a camera change", { module: "fleet", err })
      );
    }
    log.info("configuration applied", { module: "daemon", cameras: next.cameras.length });
  };
  // From the fleet: the shadow has refused locked keys already; they are kept here regardless.
  const applyConfig = async (next: NvrConfig) => {
    await store.update(
      (cur) => checkPluginSettings(cur, keepLocked(cur, next), pluginsDir),
      takeEffect,
    );
  };
  // On the box: the fleet is told (config/reported, status "local").
  const updateConfig = (change: (cur: NvrConfig) => NvrConfig | Promise<NvrConfig>) =>
    store.update(
      async (cur) => checkPluginSettings(cur, await change(cur), pluginsDir),
      async (next) => {
        await takeEffect(next);
        await fleet?.link.localChange(next).catch((err) =>
          log.warn("local config change not reported to the fleet", { module: "fleet", err })
        );
      },
    );

  const pluginAdmin = new PluginAdminImpl({
    host: plugins,
    dir: pluginsDir,
    shippedDir,
    config: () => current,
    updateConfig,
    ...(config.mqtt.caFile ? { caFiles: [config.mqtt.caFile] } : {}),
  });

  // Pan/tilt/zoom of ONVIF cameras, for the API and the fleet `ptz` command.
  const ptz = createPtz(() => current);
  // The fleet's PTZ moves are audited: refused until the audit log (opened below, once the
  // recording disk is there) can take them.
  let ptzAudit: (() => AuditLog | null) | null = null;

  // HTTPS first: its certificate's fingerprint goes to the fleet in `state`.
  const [hostname = "0.0.0.0", port = "8080"] = splitListen(config.http.listen);
  const ownNames = cachedOwnNames({ listenHost: hostname, extra: config.http.allowedHosts });
  const tls = await listenerCertificate(config.http, {
    dataDir,
    diskReady,
    names: ownNames(),
    commonName: `nvr ${config.device.name}`,
    log,
  });
  if (tls) {
    log.info(`https certificate sha256: ${tls.fingerprint}`, {
      module: "api",
      fingerprint: tls.fingerprint,
      file: tls.certFile,
      created: tls.created,
    });
  }

  // The offline queue lives on the recording disk; while that is missing it is kept in memory
  // (the link still reports the fault) rather than written to the root filesystem.
  const startFleetAs = (fleetConfig: NvrConfig, deviceId: string) =>
    startFleet({
      config: fleetConfig,
      deviceId,
      provisioning: () => provisioningState(firstBoot),
      ...(diskReady ? {} : { kvPath: ":memory:" }),
      log,
      recorders: () => live.recorders,
      plugins: () => plugins.statuses(),
      cameraEvents: () => cameraEvents.statuses(),
      plugin: (command) => pluginAdmin.command(command),
      ptz: fleetPtz(ptz, () => ptzAudit?.() ?? null),
      addByOnvif: fleetCameras({
        config: () => current,
        updateConfig,
        audit: () => ptzAudit?.() ?? null,
      }),
      storage,
      startedAt,
      applyConfig,
      ...(licence.enabled
        ? {
          licenceStatus: () => Promise.resolve(JSON.parse(JSON.stringify(licence.status()))),
          installLicence: (l: unknown) => licence.install(l),
        }
        : {}),
      ...(deps.fingerprintSources ? { fingerprintSources: deps.fingerprintSources } : {}),
      ...(tls ? { httpsFingerprint: tls.fingerprint } : {}),
      ...(deps.update ? { update: deps.update } : {}),
      ...(clockKeeper ? { clock: () => clockKeeper.status() } : {}),
      cameraClocks: cameraClocks.get,
      cameras: () => current.cameras,
      now,
    }).catch((err) => {
      log.error("fleet link not started; recording goes on without it", { module: "fleet", err });
      return null;
    });
  // The fleet: mqtt.url from the config file, else the identity the box enrolled for (mutual TLS
  // as itself), else enrolment first, in the background (recording does not wait for it).
  let enrolling: Promise<void> = Promise.resolve();
  const provisioned = firstBoot.identity;
  if (config.mqtt.url) {
    fleet = await startFleetAs(config, identity.deviceId);
  } else if (provisioned?.fleetUrl) {
    const fleetUrl = provisioned.fleetUrl;
    const asItself = (deviceId: string) =>
      startFleetAs(
        { ...config, mqtt: enrolledMqtt(config.mqtt, identityStore, fleetUrl) },
        deviceId,
      );
    if (await identityStore.enrolled().catch(() => false)) {
      fleet = await asItself(provisioned.deviceId!);
    } else {
      enrolling = enrol({
        store: identityStore,
        deviceId: identity.deviceId,
        serial: hardware.board.serial?.value ?? null,
        fingerprintHash: hash,
        log: log.child({ module: "enrol" }),
        signal: controller.signal,
        ...(deps.enrolTiming ? { timing: deps.enrolTiming } : {}),
      }).then(async (enrolled) => {
        if (enrolled && !controller.signal.aborted) fleet = await asItself(identity.deviceId);
      }).catch((err) => log.error("enrolment stopped", { module: "enrol", err }));
    }
  }

  // Users and the audit log live beside the recordings, so they wait for the recording disk
  // like everything else written there; until then the API serves only /healthz, and the app
  // is rebuilt once they open.
  const openUsers = (checked = false) =>
    openPeople(storage, dataDir, log, firstBoot.identity?.setupCode ?? null, checked);
  let people = diskReady ? await openUsers(true) : null;
  ptzAudit = () => people?.audit ?? null;
  clockAudit = () => people?.audit ?? null;
  auditClock();
  // Export jobs (playback/export_jobs.ts) live on the data disk too: opened with the users, so
  // jobs queued before a restart run again; a job ends without a request, so it audits here.
  let exportJobs: ExportJobs | null = null;
  const openExports = () =>
    exportJobs ??= ExportJobs.open({
      dataDir,
      index: storage.index,
      audit: (e) => people?.audit.record({ ...e, ip: "", userAgent: "export job" }),
      released: () => void retention.trigger().then(keepIndexReserve).catch(() => {}),
    });
  const buildApp = () =>
    createApp({
      uptimeSeconds: () => Math.round((now() - startedAt) / 1000),
      allowedHosts: ownNames,
      ...(people
        ? {
          auth: {
            ...people,
            onEvent: (kind: string, detail: Record<string, unknown>) => {
              if (kind !== "suspicious-login") return;
              const why = [
                detail.newIp ? "new address" : "",
                detail.newBrowser ? "new browser" : "",
              ]
                .filter(Boolean).join(" and ");
              fleet?.link.publishEvent("suspicious-login", {
                // A pseudonym (audit_log.ts subjectFor), never the person's name.
                user: typeof detail.subject === "string" ? detail.subject : null,
                address: String(detail.ip ?? "unknown"),
                reason: `login from a ${why || "new place"}`,
              }).catch(() => {});
            },
          },
          recordings: {
            dataDir,
            index: storage.index,
            thumbnails,
            cameras: () => live.recorders.cameras(),
            snapshot: (camera: string) => live.recorders.snapshot(camera),
            subUrl: (id: string) => current.cameras.find((c) => c.id === id)?.subUrl ?? null,
            liveLimit,
            liveChoice: (id, accept) => {
              const camera = current.cameras.find((c) => c.id === id);
              const remux = camera &&
                chooseEngine(camera, { mode: "passthrough" }, current.recording.remux) ===
                  "builtin";
              let sub = subStreams.get(id);
              if (!sub && camera?.subUrl) {
                sub = new SharedSubStream(
                  id,
                  () => current.cameras.find((c) => c.id === id)?.subUrl ?? null,
                  log.child({ module: "live" }),
                );
                subStreams.set(id, sub);
              }
              let transcode = transcodes.get(id);
              const launch = remux && camera?.codec === "h265" ? transcodeLaunch() : null;
              if (!transcode && launch !== null) {
                transcode = new SharedTranscode(id, mainRelay(id), {
                  launch: () => transcodeLaunch() ?? launch,
                  slots: transcodeSlots,
                  log: log.child({ module: "live" }),
                });
                transcodes.set(id, transcode);
              }
              const tc = transcode;
              return chooseLive({
                camera: id,
                mainCodec: camera?.codec ?? "h265",
                main: remux ? mainRelay(id) : null,
                sub: camera?.subUrl ? sub ?? null : null,
                ...(tc && launch !== null
                  ? {
                    transcode: {
                      source: tc,
                      refusal: () => transcodeSlots.refusal(`the live view of camera '${id}'`),
                    },
                  }
                  : {}),
              }, accept);
            },
            log: log.child({ module: "live" }),
            released: () => void retention.trigger().then(keepIndexReserve).catch(() => {}),
            exports: openExports,
            rangeTranscodes,
            ptz: (id) => ptz.mayHave(id),
          },
          system: {
            health: async () => {
              const cap = transcodeCap();
              return {
                ...await collectHealth({
                  cameras: live.recorders.cameras(),
                  cameraEvents: cameraEvents.statuses(),
                  plugins: plugins.statuses(),
                  cameraClocks: cameraClocks.get,
                  diskPaths: [{ label: "recordings", path: dataDir }, { label: "root", path: "/" }],
                  smartctl: null,
                }),
                thumbnails: { mode: current.recording.thumbnails, ...thumbnailQueue.stats() },
                transcodes: {
                  max: cap.maxSessions,
                  source: cap.source,
                  basis: cap.basis === "" ? null : cap.basis,
                  running: transcodeSlots.running,
                  refused: transcodeSlots.refused,
                },
              };
            },
            config: () => current,
            updateConfig,
            index: storage.index,
            plugins: pluginAdmin,
            ptz,
          },
        }
        : {}),
    });
  let app = buildApp();
  const startExports = () => {
    try {
      openExports();
    } catch (err) {
      log.error("export jobs not opened; exports are refused until restart", {
        module: "api",
        err,
      });
    }
  };
  if (people) startExports();
  const housekeeping = setInterval(async () => {
    // Only on the checked recording disk: never onto the root filesystem.
    await storage.checkStorage().then(keepIndexReserve, () => {});
    if (!people) {
      people = await openUsers();
      if (people) app = buildApp(), startExports();
    }
    await people?.users.keepReserve(reserveRoom).catch(() => {});
    people?.users.pruneExpiredSessions(now());
    people?.users.logins.prune(
      config.http.loginHistoryDays,
      config.http.auditRetentionDays,
      now(),
    );
    people?.audit.pruneOlderThan(config.http.auditRetentionDays, now());
  }, PEOPLE_RETRY_MS);
  const server = Deno.serve({
    hostname,
    port: Number(port),
    signal: controller.signal,
    onListen: () => {},
    ...(tls ? { cert: tls.certPem, key: tls.keyPem } : {}),
  }, (request, info) => app.fetch(request, info));
  const addr = server.addr;
  const scheme = tls ? "https" : "http";
  log.info("listening", { module: "api", url: `${scheme}://${addr.hostname}:${addr.port}/` });
  const redirect = tls && config.http.redirectListen
    ? serveRedirect({
      listen: config.http.redirectListen,
      httpsPort: addr.port,
      allowedHosts: ownNames,
      healthz: (request) => app.fetch(request),
      signal: controller.signal,
    })
    : null;
  if (redirect) {
    const r = redirect.addr;
    log.info("plain http redirects to https", {
      module: "api",
      url: `http://${r.hostname}:${r.port}/`,
    });
  }

  return {
    listen: { scheme, hostname: addr.hostname, port: addr.port },
    redirect: redirect ? { hostname: redirect.addr.hostname, port: redirect.addr.port } : null,
    tls: tls ? { certPem: tls.certPem, fingerprint: tls.fingerprint } : null,
    board,
    get recorders() {
      return live.recorders;
    },
    get fleet() {
      return fleet?.link ?? null;
    },
    cameras: () => live.recorders.cameras(),
    cameraEvents: () => cameraEvents.statuses(),
    snapshot: (id) => live.recorders.snapshot(id),
    applyConfig,
    updateConfig,
    licence,
    plugins,
    deviceId: identity.deviceId,
    ntpAddrs: () => boxNtp?.server.addrs ?? [],
    healthy() {
      if (controller.signal.aborted) return false;
      try {
        return live.recorders.cameras().length === current.cameras.length;
      } catch {
        return false;
      }
    },
    async stop() {
      for (const sub of subStreams.values()) sub.close();
      await Promise.all([...transcodes.values()].map((t) => t.stop()));
      // Recorders first: under Ctrl-C or systemd's stop the recorder processes get the signal too
      // and exit on their own; once aborted, the pool takes that for the stop it is, not a crash
      // to restart (the fleet link's goodbye can take seconds when the broker goes down with us).
      licence.close();
      clearInterval(housekeeping);
      clockKeeper?.stop();
      controller.abort();
      await cameraClocks.stop();
      await boxNtp?.close();
      await rebuilding;
      await plugins.close();
      await ptz.close(); // a move still running is stopped
      await live.stop();
      await thumbnailQueue.close();
      await cameraEvents.close();
      await retention.done;
      await server.finished;
      await redirect?.finished;
      await enrolling; // aborted with the controller
      await fleet?.stop(); // the recorders' last events are sent, or queued for the next start
      await exportJobs?.close();
      people?.users.close();
      people?.audit.close();
      storage.close();
      log.info("stopped", { module: "daemon" });
    },
  };
}

/** The camera's source and video plan, or why it cannot be recorded on this board. */
async function planFor(
  camera: CameraConfig,
  config: NvrConfig,
  profile: BoardProfile,
  registry: ElementRegistry,
): Promise<PlannedCamera> {
  try {
    const formats = await readSourceFormats(camera);
    const plan = planSource(camera, formats, {
      profile,
      registry,
      fallback: config.recording.encodeFallback,
    });
    return { camera, plan };
  } catch (err) {
    const reason = (err as Error).message;
    const plan: VideoPlan = {
      mode: "passthrough",
      codec: camera.codec,
      encoder: null,
      decoder: null,
      reason,
      launch: "",
    };
    return { camera, plan, fault: reason };
  }
}

/**
 * The users and audit databases, beside the recordings. Without them the API serves only
 * /healthz (and says why in the log): nobody can reach anything without an account.
 */
async function openPeople(
  storage: StorageAccess,
  dataDir: string,
  log: Logger,
  provisionedSetupCode: string | null,
  checked = false,
): Promise<{ users: UserStore; audit: AuditLog; setupCode: SetupCode | null } | null> {
  try {
    if (!checked) await storage.checkStorage();
    const users = UserStore.open(`${dataDir}/users.sqlite`, { reserveDir: dataDir });
    await users.keepReserve().catch(() => {});
    const audit = AuditLog.open(`${dataDir}/audit.sqlite`);
    await ownerOnly(`${dataDir}/users.sqlite`);
    await ownerOnly(`${dataDir}/audit.sqlite`);
    let setupCode: SetupCode | null = null;
    if (users.count() === 0) {
      // Printed for whoever has the console or the journal: only they can claim the box.
      setupCode = await SetupCode.prepare(dataDir, provisionedSetupCode).catch((err) => {
        log.error("no setup code: first-run setup is refused until this is fixed", {
          module: "api",
          err,
        });
        return null;
      });
      if (setupCode) {
        log.info(`setup code: ${setupCode.code}`, { module: "api", file: setupCode.path });
      }
    } else {
      await Deno.remove(`${dataDir}/${SETUP_CODE_FILE}`).catch(() => {});
    }
    return { users, audit, setupCode };
  } catch (err) {
    log.warn(
      "users database unavailable until the recording disk is; the API serves only /healthz",
      {
        module: "api",
        err,
      },
    );
    return null;
  }
}

/** What the fleet `state` says about first-boot provisioning; absent when all is well. */
function provisioningState(o: FirstBootOutcome): ProvisioningState | null {
  if (!o.refused && !o.wipeProblem) return null;
  return {
    ...(o.refused ? { refused: o.refused } : {}),
    ...(o.wipeProblem ? { fileNotWiped: o.wipeProblem } : {}),
  };
}
