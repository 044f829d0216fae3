/**
 * Recorder worker processes, each recording a group of cameras (recording.camerasPerProcess).
 * The pool restarts a worker that crashes or hangs, after a short pause, and only that worker's
 * cameras notice. It relays status, snapshots and "disk full" between workers and the daemon.
 */
import type { NvrConfig } from "../../config/types.ts";
import type { Logger } from "../../lib/log.ts";
import { sleep } from "../../lib/sleep.ts";
import type { CameraStatus } from "../supervisor/camera_status.ts";
import { EMPTY_STATS } from "../supervisor/camera_stats.ts";
import {
  type PlannedCamera,
  type Recorders,
  UnknownCameraError,
} from "../supervisor/recorder_set.ts";
import { SnapshotUnavailableError } from "../snapshot.ts";
import type { LiveSource } from "../../media/restream/feed.ts";
import { RemoteLive } from "./live_socket.ts";
import {
  decodeBase64,
  type FromWorker,
  jsonLines,
  type ToWorker,
  type WorkerClock,
} from "./worker_protocol.ts";

const WORKER_MAIN = new URL("./worker_main.ts", import.meta.url).pathname;
// FFI can do anything the process can; narrower flags would only pretend to sandbox a worker,
// and Deno refuses /proc/<pid>/ reads (the mount guard) without --allow-all.
// --unstable-net: RTP over UDP reads Deno.DatagramConn sockets (deno.json says so too).
const PERMISSIONS = ["--allow-all", "--unstable-net"];
// No V8 flags: capping the young generation (--max-semi-space-size=2) saved 85 MiB of a
// 32-camera process but cost 18 % more of its CPU (same run, docs/benchmarks.md, "Where a
// 64-stream tree's memory goes"); issue 15 wants the memory at no CPU cost.
const RESTART_MS: readonly number[] = [500, 1_000, 1_500];
const STOP_GRACE_MS = 10_000;
const SNAPSHOT_TIMEOUT_MS = 5_000;
/**
 * Triggers for one camera go to its worker at most this often (a flood of events costs one line
 * a second, also when it flips between on and off); the latest one held back goes with the
 * worker's first status line (every 0.5 s) after the second has passed, so an "off" is at most
 * 1.5 s late and never lost.
 */
const TRIGGER_EVERY_MS = 1_000;

export interface WorkerPoolDeps {
  readonly config: NvrConfig;
  readonly log: Logger;
  readonly onDiskFull: () => Promise<number>;
  /** How workers judge the wall clock (lib/clock_trust.ts); absent: taken as it is. */
  readonly clock?: WorkerClock;
  /** A worker indexed a segment (the retention loop checks the byte budget). */
  readonly onSegmentClosed?: () => void;
  /** A crash or hang of a worker, for the event log. */
  readonly onWorkerLost?: (cameras: readonly string[], reason: string) => void;
  /** No status line for this long means the worker hangs: it is killed and restarted. */
  readonly hangMs?: number;
  /**
   * Before its first line the worker is still loading its modules, which on a slow box takes far
   * longer than hangMs (over a minute under QEMU TCG): only this much silence after the start
   * counts as a hang then (default 180 s).
   */
  readonly startMs?: number;
  /** The worker's entry module (default worker_main.ts; tests give a stand-in). */
  readonly workerMain?: string;
}

/**
 * Cameras split into recorder processes: those the built-in remuxer records (`builtin(camera)`)
 * in groups of `builtinSize`, the others (GStreamer pipelines, whose native crashes the grouping
 * contains) in groups of `size`. Fewer, fuller processes cost less CPU: a Deno process that
 * wakes for every packet pays for each wake-up, and a second stream's packets come almost free
 * (measured: one worker with 8 streams 14 ms/s of CPU, two with 4 each 20 ms/s).
 */
export function groupCameras(
  cameras: readonly PlannedCamera[],
  size: number,
  builtinSize = size,
  builtin: (camera: PlannedCamera) => boolean = () => false,
): PlannedCamera[][] {
  const chunks = (list: readonly PlannedCamera[], n: number) => {
    const out: PlannedCamera[][] = [];
    for (let i = 0; i < list.length; i += Math.max(1, n)) {
      out.push(list.slice(i, i + Math.max(1, n)));
    }
    return out;
  };
  return [
    ...chunks(cameras.filter(builtin), builtinSize),
    ...chunks(cameras.filter((c) => !builtin(c)), size),
  ];
}

export class WorkerPool implements Recorders {
  readonly #groups: Worker[];
  /** The workers' live sockets (live_socket.ts): a private folder, 0700. */
  readonly #liveDir: string;
  readonly #live = new Map<string, RemoteLive>();

  constructor(groups: readonly PlannedCamera[][], deps: WorkerPoolDeps) {
    this.#liveDir = Deno.makeTempDirSync({ prefix: "nvr-live-" });
    this.#groups = groups.map((cameras, i) =>
      new Worker(cameras, deps, `${this.#liveDir}/worker-${i}.sock`)
    );
  }

  live(camera: string): LiveSource | null {
    const worker = this.#groups.find((w) => w.has(camera));
    if (!worker) return null;
    let remote = this.#live.get(camera);
    if (!remote) {
      remote = new RemoteLive(() => worker.liveSocket, camera);
      this.#live.set(camera, remote);
    }
    return remote;
  }

  cameras(): CameraStatus[] {
    return this.#groups.flatMap((w) => w.statuses());
  }

  snapshot(camera: string): Promise<Uint8Array> {
    const worker = this.#groups.find((w) => w.has(camera));
    if (!worker) return Promise.reject(new UnknownCameraError(camera));
    return worker.snapshot(camera);
  }

  restartCamera(camera: string): Promise<void> {
    const worker = this.#groups.find((w) => w.has(camera));
    if (!worker) return Promise.reject(new UnknownCameraError(camera));
    return worker.restart(camera);
  }

  trigger(camera: string, held: boolean): void {
    this.#groups.find((w) => w.has(camera))?.trigger(camera, held);
  }

  /** Trigger lines written to the recorder processes, by camera (for tests and diagnostics). */
  triggerLines(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const w of this.#groups) Object.assign(out, w.triggerLines());
    return out;
  }

  /** PIDs of the running workers, by camera (for tests and diagnostics). */
  pids(): Record<string, number | null> {
    const out: Record<string, number | null> = {};
    for (const w of this.#groups) for (const id of w.ids) out[id] = w.pid;
    return out;
  }

  async run(signal: AbortSignal): Promise<void> {
    try {
      await Promise.all(this.#groups.map((w) => w.run(signal)));
    } finally {
      await Deno.remove(this.#liveDir, { recursive: true }).catch(() => {});
    }
  }
}

class Worker {
  readonly ids: string[];
  readonly #cameras: readonly PlannedCamera[];
  readonly #deps: WorkerPoolDeps;
  #statuses: CameraStatus[];
  #child: Deno.ChildProcess | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #nextId = 1;
  readonly #snapshots = new Map<number, (m: FromWorker & { type: "snapshot" }) => void>();
  #restarts = 0;
  readonly #liveSocket: string;
  /** Per camera: when a trigger was last sent, the one held back (if any), lines written. */
  readonly #triggers = new Map<
    string,
    { sentMs: number; pending: boolean | null; lines: number }
  >();

  constructor(cameras: readonly PlannedCamera[], deps: WorkerPoolDeps, liveSocket: string) {
    this.#liveSocket = liveSocket;
    this.#cameras = cameras;
    this.#deps = deps;
    this.ids = cameras.map((c) => c.camera.id);
    this.#statuses = cameras.map(({ camera, plan, fault }) => ({
      id: camera.id,
      state: fault ? "failed" : camera.enabled ? "starting" : "disabled",
      lastError: fault ?? null,
      restarts: 0,
      segments: 0,
      lastSegmentEndMs: null,
      plan: { mode: plan.mode, codec: plan.codec, reason: plan.reason },
      stats: EMPTY_STATS,
    }));
  }

  /** The running worker's live socket, or null while none runs. */
  get liveSocket(): string | null {
    return this.#child ? this.#liveSocket : null;
  }

  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  has(camera: string): boolean {
    return this.ids.includes(camera);
  }

  statuses(): CameraStatus[] {
    return this.#statuses;
  }

  snapshot(camera: string): Promise<Uint8Array> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#snapshots.delete(id);
        reject(new SnapshotUnavailableError(camera, "its recorder process did not answer"));
      }, SNAPSHOT_TIMEOUT_MS);
      this.#snapshots.set(id, (m) => {
        clearTimeout(timer);
        if (m.jpeg) resolve(decodeBase64(m.jpeg));
        else reject(new SnapshotUnavailableError(camera, m.error ?? "no picture"));
      });
      this.#send({ type: "snapshot", id, camera }).catch((err) => {
        clearTimeout(timer);
        this.#snapshots.delete(id);
        reject(new SnapshotUnavailableError(camera, `its recorder process is down (${err})`));
      });
    });
  }

  restart(camera: string): Promise<void> {
    return this.#send({ type: "restart", camera });
  }

  trigger(camera: string, held: boolean): void {
    const last = this.#triggers.get(camera);
    // Within the second, whatever it says (on, off, a moment) waits as the latest: a camera or
    // plugin flipping on and off thousands of times a second must not cost a line each.
    if (last && Date.now() - last.sentMs < TRIGGER_EVERY_MS) {
      last.pending = held;
      return;
    }
    this.#sendTrigger(camera, held);
  }

  triggerLines(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [camera, t] of this.#triggers) out[camera] = t.lines;
    return out;
  }

  #sendTrigger(camera: string, held: boolean): void {
    const lines = (this.#triggers.get(camera)?.lines ?? 0) + 1;
    this.#triggers.set(camera, { sentMs: Date.now(), pending: null, lines });
    this.#send({ type: "trigger", camera, held }).catch(() => {/* no worker: it is restarting */});
  }

  /** Sends the triggers held back (called on each status line of the worker). */
  #flushTriggers(): void {
    for (const [camera, t] of this.#triggers) {
      if (t.pending === null || Date.now() - t.sentMs < TRIGGER_EVERY_MS) continue;
      this.#sendTrigger(camera, t.pending);
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    if (this.#cameras.every(({ camera, fault }) => !camera.enabled || fault)) return;
    let failures = 0;
    while (!signal.aborted) {
      const startedAt = Date.now();
      const reason = await this.#runOnce(signal);
      if (signal.aborted) break;
      if (Date.now() - startedAt > 60_000) failures = 0;
      const pause = RESTART_MS[Math.min(failures++, RESTART_MS.length - 1)] ?? 1_000;
      this.#restarts++;
      const message = `Recorder process of ${this.ids.join(", ")} ${reason}; restarting it`;
      this.#deps.log.error("recorder process lost", {
        cameras: this.ids,
        reason,
        retryInMs: pause,
      });
      this.#deps.onWorkerLost?.(this.ids, reason);
      this.#statuses = this.#statuses.map((s) =>
        s.state === "failed" || s.state === "disabled"
          ? s
          : { ...s, state: "retrying", lastError: message, restarts: s.restarts + 1 }
      );
      await sleep(pause, signal);
    }
  }

  /** Runs one worker until it exits; returns why it ended. */
  async #runOnce(signal: AbortSignal): Promise<string> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMISSIONS, this.#deps.workerMain ?? WORKER_MAIN],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const logs = this.#forwardLogs(child.stderr);
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    const hangMs = this.#deps.hangMs ?? 15_000;
    const startMs = Math.max(hangMs, this.#deps.startMs ?? 180_000);
    let lastHeard = Date.now();
    let heard = false;
    let hung = false;
    const onAbort = () => kill(child, "SIGTERM");
    signal.addEventListener("abort", onAbort);
    const watchdog = setInterval(() => {
      if (Date.now() - lastHeard > (heard ? hangMs : startMs)) {
        hung = true;
        kill(child, "SIGKILL");
      }
    }, 1_000);
    let stopTimer: ReturnType<typeof setTimeout> | undefined;
    const onStop = () => {
      stopTimer = setTimeout(() => kill(child, "SIGKILL"), STOP_GRACE_MS);
    };
    signal.addEventListener("abort", onStop, { once: true });
    try {
      await this.#send({
        type: "init",
        config: this.#deps.config,
        cameras: [...this.#cameras],
        liveSocket: this.#liveSocket,
        ...(this.#deps.clock ? { clock: this.#deps.clock } : {}),
      });
      for await (const raw of jsonLines(child.stdout)) {
        lastHeard = Date.now();
        heard = true;
        this.#receive(raw as FromWorker);
      }
    } catch (err) {
      this.#deps.log.warn("recorder process stream broke", { cameras: this.ids, err });
    } finally {
      clearInterval(watchdog);
      signal.removeEventListener("abort", onAbort);
    }
    const status = await child.status;
    await logs;
    clearTimeout(stopTimer);
    signal.removeEventListener("abort", onStop);
    this.#writer.releaseLock();
    await child.stdin.close().catch(() => {});
    this.#child = null;
    this.#writer = null;
    for (const answer of this.#snapshots.values()) {
      answer({ type: "snapshot", id: 0, error: "its recorder process stopped" });
    }
    this.#snapshots.clear();
    if (hung && !heard) {
      return `said nothing for ${Math.round(startMs / 1000)} s after it started and was killed`;
    }
    if (hung) return `stopped answering for ${Math.round(hangMs / 1000)} s and was killed`;
    return status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
  }

  /** The worker's log lines join the daemon's log; anything else it prints is wrapped. */
  async #forwardLogs(stderr: ReadableStream<Uint8Array>): Promise<void> {
    let buffered = "";
    const emit = (line: string) => {
      if (!line.trim()) return;
      try {
        const record = JSON.parse(line);
        if (typeof record === "object" && record !== null && "level" in record) {
          return this.#deps.log.forward(record);
        }
      } catch { /* not one of our log lines */ }
      this.#deps.log.warn("recorder process output", { cameras: this.ids, output: line });
    };
    try {
      for await (const chunk of stderr.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        lines.forEach(emit);
      }
      emit(buffered);
    } catch { /* the process is gone */ }
  }

  #receive(message: FromWorker): void {
    switch (message.type) {
      case "status":
        this.#statuses = message.cameras.map((s) => ({
          ...s,
          restarts: s.restarts + this.#restarts,
        }));
        this.#flushTriggers();
        break;
      case "snapshot":
        this.#snapshots.get(message.id)?.(message);
        this.#snapshots.delete(message.id);
        break;
      case "segment-closed":
        this.#deps.onSegmentClosed?.();
        break;
      case "disk-full":
        this.#deps.onDiskFull().catch(() => 0).then((freedBytes) =>
          this.#send({ type: "space-freed", id: message.id, freedBytes }).catch(() => {})
        );
        break;
    }
  }

  async #send(message: ToWorker): Promise<void> {
    if (!this.#writer) throw new Error("no recorder process running");
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(message) + "\n"));
  }
}

function kill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch { /* already gone */ }
}
