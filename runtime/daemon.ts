/**
 * The daemon as a value: started from a validated config, stopped in reverse order. main.ts
 * wires it to the process (arguments, environment, signals); tests start it in-process.
 */
import type { NvrConfig } from "./config/types.ts";
import type { Logger } from "./log.ts";
import { createApp } from "./api/app.ts";
import { type CameraStatus, CameraSupervisor, type SupervisorOptions } from "./recorder/mod.ts";
import { ensureWritable, indexPath, SegmentIndex, StorageUnavailableError } from "./storage/mod.ts";

export interface Daemon {
  /** Address the API listens on, e.g. "127.0.0.1:8080". */
  readonly listen: { hostname: string; port: number };
  cameras(): CameraStatus[];
  /** Stops cameras (finishing open segments), the API, then the index. */
  stop(): Promise<void>;
}

export interface DaemonDeps {
  readonly log: Logger;
  readonly now?: () => number;
  /** Retry pauses and jitter of camera supervisors (tests shorten them). */
  readonly supervisor?: SupervisorOptions;
}

export async function startDaemon(config: NvrConfig, deps: DaemonDeps): Promise<Daemon> {
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const controller = new AbortController();

  const index = lazyIndex(config.storage.dataDir);
  try {
    await ensureWritable(config.storage.dataDir);
    index();
  } catch (err) {
    // Recording waits for the disk; the rest of the daemon runs and says what is wrong.
    log.error("storage unavailable", { module: "storage", err });
  }

  const supervisors = config.cameras.map((camera) =>
    new CameraSupervisor(camera, {
      dataDir: config.storage.dataDir,
      segmentSeconds: config.storage.segmentSeconds,
      index,
      log: log.child({ module: "recorder", camera: camera.id }),
      now,
    }, deps.supervisor)
  );
  const runs = supervisors.map((s) => s.run(controller.signal));

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
    cameras: () => supervisors.map((s) => s.status()),
    async stop() {
      controller.abort();
      await Promise.all(runs);
      await server.finished;
      index.close();
      log.info("stopped", { module: "daemon" });
    },
  };
}

function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(":");
  return [listen.slice(0, i).replace(/^\[(.*)\]$/, "$1"), listen.slice(i + 1)];
}

/** Opens the index on first use, so a disk mounted after start-up is picked up. */
function lazyIndex(dataDir: string): (() => SegmentIndex) & { close(): void } {
  let index: SegmentIndex | null = null;
  const get = () => {
    if (index) return index;
    try {
      index = SegmentIndex.open(indexPath(dataDir));
    } catch (err) {
      throw new StorageUnavailableError(dataDir, `the index cannot be opened (${err})`, {
        cause: err,
      });
    }
    return index;
  };
  return Object.assign(get, { close: () => index?.close() });
}
