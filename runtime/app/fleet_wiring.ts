/**
 * The daemon's side of the fleet link: who this box is (device id from the board serial), what it
 * reports (fingerprint, health with the recorders' stats, events from the index), and what it
 * obeys (restart a camera, snapshot, apply a configuration). The link itself is runtime/fleet/.
 */
import type { NvrConfig } from "../config/types.ts";
import type { ClockStatus as ClockState } from "../lib/clock_trust.ts";
import type { Logger } from "../lib/log.ts";
import {
  type EventKind,
  type FleetLink,
  type Json,
  type PluginCommand,
  type ProvisioningState,
  type PtzCommand,
  startFleetLink,
} from "../fleet/mod.ts";
import {
  cachedSmartctl,
  collectFingerprint,
  type FingerprintSources,
  systemSmartctl,
} from "../fingerprint/mod.ts";
import { type CameraClockHealth, collectHealth, significantChange } from "../health/mod.ts";
import type { CameraEventsHealth, PluginStatus } from "../health/types.ts";
import type { Recorders } from "../recorder/mod.ts";
import type { StorageAccess } from "../storage/mod.ts";
import { softwareVersion } from "../lib/version.ts";
import { rebootBox } from "../fleet/commands.ts";
import type { FleetCameras } from "./fleet_cameras.ts";
import { discoverCameras } from "../onvif/discover.ts";
import { discoverRequest, knownCameras } from "../api/camera_admin.ts";
import { raucCli, readBootId, readCompatible, Updater, type UpdaterDeps } from "../update/mod.ts";

/** What the updater uses of the system; tests replace parts (the box uses the real ones). */
export type UpdateHooks = Partial<
  Pick<
    UpdaterDeps,
    | "rauc"
    | "compatible"
    | "bootId"
    | "reboot"
    | "rebootWindow"
    | "dir"
    | "download"
    | "gate"
    | "rebootDelayMs"
    | "version"
  >
>;

export interface FleetWiringDeps {
  readonly config: NvrConfig;
  /** This box's stable id (derived from the board serial by the daemon). */
  readonly deviceId: string;
  readonly log: Logger;
  /** The recorders now (they are replaced when a configuration is applied). */
  readonly recorders: () => Recorders;
  readonly storage: StorageAccess;
  readonly startedAt: number;
  readonly applyConfig: (config: NvrConfig) => Promise<void>;
  readonly licenceStatus?: () => Promise<Json>;
  readonly installLicence?: (licence: Json) => Promise<unknown>;
  /** Fingerprint sources; tests point them at fixtures. */
  readonly fingerprintSources?: FingerprintSources;
  /** Deno KV path of the offline queue; default in the data folder. */
  readonly kvPath?: string;
  readonly now?: () => number;
  /** SHA-256 of the local HTTPS certificate, reported in the fleet `state`. */
  readonly httpsFingerprint?: string;
  /** Whether the wall clock is trusted (app/clock_keeper.ts), for `state`. */
  readonly clock?: () => ClockState;
  /** Parts of the updater to replace (tests). */
  readonly update?: UpdateHooks;
  /** A first-boot provisioning problem for the `state` message. */
  readonly provisioning?: () => ProvisioningState | null;
  /** The plugin host's statuses, for health. */
  readonly plugins?: () => readonly PluginStatus[];
  /** The cameras' ONVIF events states, for health (app/camera_events.ts). */
  readonly cameraEvents?: () => ReadonlyMap<string, CameraEventsHealth>;
  /** Runs a `plugin` command (app/plugin_admin.ts). */
  readonly plugin?: (command: PluginCommand) => Promise<Json>;
  /** Runs a `ptz` command (app/ptz_wiring.ts). */
  readonly ptz?: (command: PtzCommand) => Promise<Json>;
  /** `onvif-profiles` and `add-camera` (app/fleet_cameras.ts); absent: refused. */
  readonly addByOnvif?: FleetCameras;
  /** The last clock check of each camera (app/camera_clock_keeper.ts), for health. */
  readonly cameraClocks?: (id: string) => CameraClockHealth | undefined;
  /**
   * The cameras as the daemon runs them now (local changes included), for the fingerprint;
   * default the link's configuration.
   */
  readonly cameras?: () => NvrConfig["cameras"];
}

export interface FleetWiring {
  readonly link: FleetLink;
  readonly updater: Updater;
  /** The after-boot work of a pending update (health gate); resolves when done. */
  readonly gate: Promise<void>;
  stop(): Promise<void>;
}

const RELAY_EVERY_MS = 2_000;
/**
 * SMART in health: each disk asked at most this often. Health is sampled every 5 s to catch
 * changes; a smartctl per disk each time cost seconds of CPU under QEMU TCG and made one sample
 * slower than that period (fleet/link.ts, periodicDue).
 */
const SMART_EVERY_MS = 10 * 60_000;

export async function startFleet(deps: FleetWiringDeps): Promise<FleetWiring> {
  const { config, log } = deps;
  const now = deps.now ?? Date.now;
  const sources = (): FingerprintSources => ({
    ...deps.fingerprintSources,
    cameras: (deps.cameras?.() ?? (late.link?.config() ?? config).cameras).map((c) => ({
      id: c.id,
      url: c.url,
      onvifUrl: c.onvif?.url ?? null,
      // ONVIF credentials default to the camera's (most cameras have one account for both).
      username: c.onvif?.username ?? c.username,
      password: c.onvif?.username ? c.onvif.password : c.password,
    })),
  });
  const version = await softwareVersion();
  const smartctl = cachedSmartctl(systemSmartctl(), SMART_EVERY_MS);
  // The updater and the link need each other: the updater reaches the link once it is started.
  const late: { link?: FleetLink } = {};
  const hooks = deps.update ?? {};
  const updater = await Updater.open({
    dataDir: config.storage.dataDir,
    version: version.version,
    log: log.child({ module: "update" }),
    rauc: raucCli({ log: log.child({ module: "update" }) }),
    compatible: () => readCompatible(),
    bootId: () => readBootId(),
    reboot: () => rebootBox(),
    rebootWindow: () => (late.link?.config() ?? config).update.rebootWindow,
    progress: (detail) => {
      late.link?.publishEvent("update-progress", detail).catch((err) =>
        log.warn("update progress not queued", { module: "update", err })
      );
    },
    changed: () => late.link?.publishState(),
    diskReady: () => deps.kvPath !== ":memory:",
    // Bundles may come from the fleet's own servers: trust its CA as the broker link does.
    ...(config.mqtt.caFile ? { download: { caFiles: [config.mqtt.caFile] } } : {}),
    ...(deps.now ? { now: deps.now } : {}),
    ...hooks,
  });
  const running = late.link = await startFleetLink({
    config,
    deviceId: deps.deviceId,
    version: version.version,
    ...(deps.httpsFingerprint ? { httpsFingerprint: deps.httpsFingerprint } : {}),
    log: log.child({ module: "fleet" }),
    fingerprint: async () => toJson(await collectFingerprint(sources())),
    health: async () =>
      toJson(
        await collectHealth({
          cameras: deps.recorders().cameras(),
          ...(deps.cameraEvents ? { cameraEvents: deps.cameraEvents() } : {}),
          plugins: deps.plugins?.() ?? [],
          ...(deps.cameraClocks ? { cameraClocks: deps.cameraClocks } : {}),
          diskPaths: [{ label: "recordings", path: config.storage.dataDir }],
          software: version,
          smartctl,
        }),
      ),
    significantChange: (previous, current) =>
      // deno-lint-ignore no-explicit-any
      significantChange(previous as any, current as any) !== null,
    restartCamera: (camera) => deps.recorders().restartCamera(camera),
    snapshot: (camera) => deps.recorders().snapshot(camera),
    discoverCameras: async ({ cmd: _cmd, expiresAt: _e, ...req }) =>
      toJson(
        await discoverCameras(
          discoverRequest(req as Record<string, unknown>),
          knownCameras(late.link?.config() ?? config),
        ),
      ),
    applyConfig: deps.applyConfig,
    ...(deps.licenceStatus ? { licenceStatus: deps.licenceStatus } : {}),
    ...(deps.installLicence ? { installLicence: deps.installLicence } : {}),
    startedAt: deps.startedAt,
    ...(deps.kvPath ? { kvPath: deps.kvPath } : {}),
    update: (command) => updater.update(command).then((r) => ({ ...r })),
    ...(deps.plugin ? { plugin: deps.plugin } : {}),
    ...(deps.ptz ? { ptz: deps.ptz } : {}),
    ...(deps.addByOnvif
      ? { onvifProfiles: deps.addByOnvif.onvifProfiles, addCamera: deps.addByOnvif.addCamera }
      : {}),
    lastUpdate: () => updater.lastUpdate(),
    ...(deps.provisioning ? { provisioning: deps.provisioning } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(hooks.version ? { version: hooks.version } : {}),
    now,
  });

  // A trial boot of a new slot: the health gate decides whether it stays.
  const enabled = () => running.config().cameras.filter((c) => c.enabled).map((c) => c.id);
  const gate = updater.afterBoot({
    serviceUp: () => deps.recorders().cameras().length === running.config().cameras.length,
    fleetConnected: () => running.status().connected,
    cameras: () => {
      const states = new Map(deps.recorders().cameras().map((c) => [c.id, c.state]));
      return enabled().map((id) => ({ id, state: states.get(id) ?? "missing" }));
    },
  }).catch((err) => log.error("update: after-boot check failed", { module: "update", err }));

  const stopRelay = relayEvents(running, deps.storage, log, now);
  return {
    link: running,
    updater,
    gate,
    async stop() {
      updater.stop();
      await gate;
      await stopRelay();
      await running.stop();
    },
  };
}

/**
 * Events written to the index (by the recorders, in whatever process) go to the fleet: camera
 * up/down, a recorder process lost, recording gaps. Only events from this run on are relayed.
 */
function relayEvents(
  link: FleetLink,
  storage: StorageAccess,
  log: Logger,
  now: () => number,
): () => Promise<void> {
  let since = now();
  let lastId = 0;
  let busy: Promise<void> = Promise.resolve();
  const tick = async () => {
    let events;
    try {
      events = storage.index().events(since - 1, now() + 1);
    } catch {
      return; // storage unavailable: the recorders report it
    }
    for (const event of events) {
      if (event.id <= lastId) continue;
      lastId = event.id;
      since = Math.max(since, event.tsMs);
      const mapped = fleetEvent(event.kind, event.camera, event.detail);
      if (!mapped) continue;
      try {
        await link.publishEvent(mapped.kind, mapped.detail as never);
      } catch (err) {
        log.warn("could not queue a fleet event", { module: "fleet", err });
      }
    }
  };
  const timer = setInterval(() => {
    busy = busy.then(tick);
  }, RELAY_EVERY_MS);
  return async () => {
    clearInterval(timer);
    await busy;
    await tick();
  };
}

/** The fleet's name and detail for an index event, or null for events the fleet does not get. */
export function fleetEvent(
  kind: string,
  camera: string | null,
  detail: Record<string, unknown>,
): { kind: EventKind; detail: Record<string, unknown> } | null {
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  switch (kind) {
    case "camera-up":
      return camera ? { kind, detail: { camera } } : null;
    case "camera-down":
      return camera ? { kind, detail: { camera, reason: text(detail.error) } } : null;
    case "recorder-lost":
      return camera
        ? {
          kind: "camera-down",
          detail: { camera, reason: `recorder process ${text(detail.reason)}` },
        }
        : null;
    case "recording-gap":
      return camera
        ? {
          kind,
          detail: {
            camera,
            fromMs: Number(detail.fromMs),
            toMs: Number(detail.toMs),
            reason: text(detail.reason),
          },
        }
        : null;
    case "file-quarantined":
      return {
        kind: "disk-fault",
        detail: { disk: "recordings", reason: `foreign file moved aside: ${text(detail.path)}` },
      };
    case "retention":
      return detail.error || Number(detail.shortBytes) > 0
        ? {
          kind: "disk-fault",
          detail: {
            disk: "recordings",
            reason: text(detail.error) ||
              `still ${detail.shortBytes} bytes short of the free-space minimum`,
          },
        }
        : null;
    case "camera-clock-drift":
      return camera
        ? {
          kind,
          detail: {
            camera,
            driftMs: Number(detail.driftMs),
            thresholdMs: Number(detail.thresholdMs),
            boxClockTrusted: detail.boxClockTrusted !== false,
          },
        }
        : null;
    case "sensor-alarm":
      return {
        kind,
        detail: {
          sensor: `${text(detail.plugin)}/${text(detail.sensor)}`,
          reason: text(detail.reason),
          ...(["number", "string", "boolean"].includes(typeof detail.value)
            ? { value: detail.value }
            : {}),
        },
      };
    case "camera-event":
      return camera
        ? {
          kind,
          detail: {
            camera,
            type: text(detail.type),
            active: typeof detail.active === "boolean" ? detail.active : null,
            topic: text(detail.topic),
          },
        }
        : null;
    default:
      return null;
  }
}

function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}
