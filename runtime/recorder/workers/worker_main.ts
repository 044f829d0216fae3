/**
 * A recorder worker process: records the cameras the daemon hands it, so that a crash in one
 * GStreamer pipeline (a segfault in a parser, say) takes down only this process's cameras and
 * never the API, the fleet link or other cameras. Speaks worker_protocol.ts over stdin/stdout;
 * logs go to stderr as JSON lines. Exits when its stdin closes (the daemon is gone) or on SIGTERM.
 */
import { ClockTrust } from "../../lib/clock_trust.ts";
import { createLogger } from "../../lib/log.ts";
import { storageAccess } from "../../storage/mod.ts";
import { RecorderSet } from "../supervisor/recorder_set.ts";
import { serveLiveSocket } from "./live_socket.ts";
import { encodeBase64, type FromWorker, jsonLines, type ToWorker } from "./worker_protocol.ts";

const STATUS_EVERY_MS = 500;
/**
 * How often the process logs its memory (RSS, V8 heap, ArrayBuffers): where a recorder's memory
 * goes is otherwise invisible from outside (/proc shows only RSS); one line a minute.
 */
const MEMORY_EVERY_MS = 60_000;
const encoder = new TextEncoder();

function send(message: FromWorker): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(message) + "\n"));
}

async function main(): Promise<void> {
  const lines = jsonLines(Deno.stdin.readable);
  const first = (await lines.next()).value as ToWorker | undefined;
  if (!first || first.type !== "init") throw new Error("recorder worker: expected an init line");
  const { config, cameras, liveSocket, clock: clockInit } = first;
  const log = createLogger({
    level: config.log.level,
    sink: (line) => Deno.stderr.writeSync(encoder.encode(line + "\n")),
    fields: { module: "recorder", worker: Deno.pid },
  });
  const storage = storageAccess(config.storage);
  const controller = new AbortController();
  const pendingSpace = new Map<number, (freed: number) => void>();
  let nextId = 1;
  // The daemon re-stamps; a worker only flags what it finishes while the clock is not trusted.
  const clock = clockInit ? new ClockTrust(clockInit) : undefined;
  if (clock) {
    try {
      clock.raiseFloor(storage.index().newestEnd(clock.bootId));
    } catch (err) {
      log.warn("index not readable for the clock's floor; estimates start at the build date", {
        err,
      });
    }
  }
  const recorders = new RecorderSet(cameras, {
    config,
    index: storage.index,
    checkStorage: storage.checkStorage,
    log,
    now: Date.now,
    ...(clock ? { clock } : {}),
    onDiskFull: () => {
      const id = nextId++;
      const freed = new Promise<number>((resolve) => pendingSpace.set(id, resolve));
      send({ type: "disk-full", id });
      return freed;
    },
    onSegmentClosed: () => send({ type: "segment-closed" }),
    // At once, not at the next status tick: the daemon's status (API, health, fleet) said
    // "retrying" for up to STATUS_EVERY_MS after a camera was back (seen: resumed 2279 ms after
    // a camera's return, of which up to 500 ms were this wait, under load in CI).
    onRecording: () => send({ type: "status", cameras: recorders.cameras() }),
  });
  const stop = () => controller.abort();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  const status = setInterval(
    () => send({ type: "status", cameras: recorders.cameras() }),
    STATUS_EVERY_MS,
  );
  const memory = setInterval(
    () => log.info("recorder process memory", memoryFields(cameras.length)),
    MEMORY_EVERY_MS,
  );
  const running = recorders.run(controller.signal);
  const serving = liveSocket
    ? serveLiveSocket(liveSocket, (camera) => recorders.live(camera), log, controller.signal)
      .catch((err) => log.error("live socket failed; live view from this worker is off", { err }))
    : Promise.resolve();
  (async () => {
    for await (const raw of lines) {
      const message = raw as ToWorker;
      if (message.type === "space-freed") {
        pendingSpace.get(message.id)?.(message.freedBytes);
        pendingSpace.delete(message.id);
      } else if (message.type === "restart") {
        recorders.restartCamera(message.camera).catch((err) =>
          log.warn("restart refused", { camera: message.camera, err })
        );
      } else if (message.type === "trigger") {
        recorders.trigger(String(message.camera), message.held === true);
      } else if (message.type === "snapshot") {
        recorders.snapshot(message.camera).then(
          (jpeg) => send({ type: "snapshot", id: message.id, jpeg: encodeBase64(jpeg) }),
          (err) => send({ type: "snapshot", id: message.id, error: (err as Error).message }),
        );
      }
    }
    stop(); // stdin closed: the daemon is gone
  })().catch((err) => {
    log.error("bad line from the daemon; stopping", { err });
    stop();
  });
  await running;
  await serving;
  clearInterval(status);
  clearInterval(memory);
  send({ type: "status", cameras: recorders.cameras() });
  storage.close();
  for (const resolve of pendingSpace.values()) resolve(0);
}

/** Deno.memoryUsage() in MiB (one decimal), for the memory line. */
function memoryFields(cameras: number): Record<string, number> {
  const mib = (bytes: number) => Math.round(bytes / 2 ** 20 * 10) / 10;
  const m = Deno.memoryUsage();
  return {
    cameras,
    rssMiB: mib(m.rss),
    heapTotalMiB: mib(m.heapTotal),
    heapUsedMiB: mib(m.heapUsed),
    externalMiB: mib(m.external),
  };
}

if (import.meta.main) {
  await main();
  Deno.exit(0);
}
