/**
 * The daemon as a value: started from a validated config, stopped in reverse order. main.ts
 * wires it to the process (arguments, environment, signals); tests start it in-process.
 */
import type { CameraConfig, NvrConfig } from "./config/types.ts";
import type { Logger } from "./log.ts";
import { createApp } from "./api/app.ts";
import {
  type BoardInfo,
  type BoardProfile,
  detectBoard,
  type ElementRegistry,
  GstRegistry,
  loadProfile,
  type VideoPlan,
} from "./board/mod.ts";
import { planSource, readSourceFormats } from "./recorder/source.ts";
import {
  type CameraStatus,
  groupCameras,
  type PlannedCamera,
  type Recorders,
  RecorderSet,
  type SupervisorOptions,
  WorkerPool,
} from "./recorder/mod.ts";
import { retentionPolicy, runRetention, storageAccess } from "./storage/mod.ts";

export interface Daemon {
  /** Address the API listens on, e.g. "127.0.0.1:8080". */
  readonly listen: { hostname: string; port: number };
  readonly board: BoardInfo;
  /** The cameras' recorders: in this process, or a pool of worker processes. */
  readonly recorders: Recorders;
  cameras(): CameraStatus[];
  /** JPEG of a camera's latest keyframe. Throws SnapshotUnavailableError. */
  snapshot(camera: string): Promise<Uint8Array>;
  /** Stops cameras (finishing open segments), retention, the API, then the index. */
  stop(): Promise<void>;
}

export interface DaemonDeps {
  readonly log: Logger;
  readonly now?: () => number;
  /** Retry pauses and jitter of camera supervisors (tests shorten them). */
  readonly supervisor?: SupervisorOptions;
  /** Where board facts are read; tests point these at fixture trees. */
  readonly boardRoots?: { sysRoot: string; procRoot: string };
  /** The element registry; default: the live GStreamer registry. */
  readonly registry?: ElementRegistry;
  /** /proc for the mount guard; tests point it at fixtures. */
  readonly procRoot?: string;
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
  try {
    await storage.checkStorage();
    storage.index();
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

  const planned = await Promise.all(
    config.cameras.map((camera) => planFor(camera, config, profile, registry)),
  );
  const perProcess = config.recording.camerasPerProcess;
  const recorders: Recorders = perProcess === 0
    ? new RecorderSet(planned, {
      config,
      index: storage.index,
      checkStorage: storage.checkStorage,
      log,
      now,
      onDiskFull,
      ...(deps.supervisor ? { supervisor: deps.supervisor } : {}),
    })
    : new WorkerPool(groupCameras(planned, perProcess), {
      config,
      log: log.child({ module: "recorder" }),
      onDiskFull,
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
    });
  const recording = recorders.run(controller.signal);

  const [hostname = "0.0.0.0", port = "8080"] = splitListen(config.http.listen);
  const app = createApp({ uptimeSeconds: () => Math.round((now() - startedAt) / 1000) });
  const server = Deno.serve({
    hostname,
    port: Number(port),
    signal: controller.signal,
    onListen: () => {},
  }, app.fetch);
  const addr = server.addr;
  log.info("listening", { module: "api", url: `http://${addr.hostname}:${addr.port}/` });

  return {
    listen: { hostname: addr.hostname, port: addr.port },
    board,
    recorders,
    cameras: () => recorders.cameras(),
    snapshot: (id) => recorders.snapshot(id),
    async stop() {
      controller.abort();
      await recording;
      await retention.done;
      await server.finished;
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

function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(":");
  return [listen.slice(0, i).replace(/^\[(.*)\]$/, "$1"), listen.slice(i + 1)];
}
