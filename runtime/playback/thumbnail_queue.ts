/**
 * Thumbnails made when segments close (recording.thumbnails "on-close"), never at the recorders'
 * expense: each close notification looks in the index for the segments added since the last one,
 * a bounded queue holds them (the oldest waiting are dropped, and counted, when the box cannot
 * keep up: a segment without a thumbnail still gets one on hover, thumbnails.ts), and ONE process
 * makes them one at a time under `nice -n 19` and `chrt --idle 0` (SCHED_IDLE: it runs only on
 * CPU time nobody else wants). The process is started at the first job and ends after a minute
 * without one. The cheapest decode: the segment's first keyframe only (thumbnails.ts).
 */
import type { Logger } from "../lib/log.ts";
import { type IndexedSegment, type SegmentIndex, thumbnailPath } from "../storage/mod.ts";
import type { Thumbnails } from "./thumbnails.ts";

const WORKER_MAIN = new URL("./thumbnail_worker_main.ts", import.meta.url).pathname;
// GStreamer runs through FFI in the worker, which can do anything the process can; narrower
// flags would only pretend to sandbox it (as for the recorder workers, worker_pool.ts).
const PERMISSIONS = ["--allow-all"];

export interface ThumbnailQueueOptions {
  readonly dataDir: string;
  readonly index: () => SegmentIndex;
  /** Read at every close: false ("on-demand") makes nothing and empties the queue. */
  readonly enabled: () => boolean;
  /** The hover cache, told of every thumbnail made here so its size cap counts them. */
  readonly thumbnails?: Thumbnails;
  readonly log: Logger;
  /** Segments waiting at most; beyond it the oldest are dropped. Default 32. */
  readonly maxPending?: number;
  /** Default 160 px, as on hover. */
  readonly width?: number;
  /** Longest one thumbnail may take in the worker (it runs last in line). Default 20 s. */
  readonly timeoutMs?: number;
  /** The worker ends after this long without a job. Default 60 s. */
  readonly idleMs?: number;
  /** Command words before `deno run …`; default `lowPriority()`. */
  readonly prefix?: readonly string[];
  /**
   * The recording disk's check (storage.requireMount and the rest): rejects when the data folder
   * is not on it. A job is sent only after it passes, with the folder's device, which the worker
   * checks again before it writes.
   */
  readonly checkStorage?: () => Promise<void>;
}

export interface ThumbnailQueueStats {
  /** Waiting now. */
  readonly pending: number;
  /** Made since the daemon started. */
  readonly made: number;
  /**
   * Dropped unmade because the queue was full or the recording disk was not there (they are made
   * on hover instead).
   */
  readonly dropped: number;
  /** The decoder failed or took too long. */
  readonly failed: number;
}

/** `nice -n 19` and `chrt --idle 0` where the system has them (util-linux, coreutils). */
export function lowPriority(path = Deno.env.get("PATH") ?? "/usr/bin:/bin"): string[] {
  const has = (cmd: string) =>
    path.split(":").some((dir) => {
      try {
        return Deno.statSync(`${dir}/${cmd}`).isFile;
      } catch {
        return false;
      }
    });
  return [
    ...(has("nice") ? ["nice", "-n", "19"] : []),
    ...(has("chrt") ? ["chrt", "--idle", "0"] : []),
  ];
}

interface Reply {
  id: number;
  bytes?: number;
  error?: string;
}

export class ThumbnailQueue {
  readonly #o: Required<Omit<ThumbnailQueueOptions, "thumbnails">> & {
    thumbnails?: Thumbnails;
  };
  #lastId: number | null = null;
  #pending: IndexedSegment[] = [];
  #made = 0;
  #dropped = 0;
  #failed = 0;
  #running: Promise<void> | null = null;
  #collectQueued = false;
  #closed = false;
  #child: Deno.ChildProcess | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #reading: Promise<void> | null = null;
  #waiter: ((r: Reply) => void) | null = null;
  #idle: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: ThumbnailQueueOptions) {
    this.#o = {
      maxPending: 32,
      width: 160,
      timeoutMs: 20_000,
      idleMs: 60_000,
      prefix: opts.prefix ?? lowPriority(),
      checkStorage: () => Promise.resolve(),
      ...opts,
    };
    // Only segments closed from now on: the history keeps getting its thumbnails on hover.
    try {
      this.#lastId = this.#o.index().maxId();
    } catch { /* no index yet (disk missing): taken at the first close */ }
  }

  stats(): ThumbnailQueueStats {
    return {
      pending: this.#pending.length,
      made: this.#made,
      dropped: this.#dropped,
      failed: this.#failed,
    };
  }

  /** A segment closed (any camera): cheap and synchronous; the work happens later. */
  segmentClosed(): void {
    if (this.#closed || this.#collectQueued) return;
    this.#collectQueued = true;
    queueMicrotask(() => {
      this.#collectQueued = false;
      try {
        this.#collect();
      } catch (err) {
        this.#o.log.warn("thumbnails: closed segments not read from the index", { err });
      }
    });
  }

  #collect(): void {
    if (this.#closed) return;
    const index = this.#o.index();
    if (this.#lastId === null) this.#lastId = index.maxId();
    const max = this.#o.maxPending;
    const { segments, total } = index.newestAfter(this.#lastId, max);
    if (segments.length === 0) return;
    this.#lastId = segments[0]!.id;
    if (!this.#o.enabled()) {
      this.#pending = [];
      return;
    }
    // More closed than the queue holds: those never fetched are dropped as the oldest are.
    this.#dropped += total - segments.length;
    this.#pending.push(...segments.reverse());
    const over = this.#pending.length - max;
    if (over > 0) {
      this.#pending.splice(0, over);
      this.#dropped += over;
    }
    if (total > segments.length || over > 0) {
      this.#o.log.debug("thumbnails: queue full, oldest dropped", { dropped: this.#dropped });
    }
    this.#running ??= this.#drain().finally(() => this.#running = null);
  }

  async #drain(): Promise<void> {
    clearTimeout(this.#idle);
    for (let seg = this.#pending.shift(); seg; seg = this.#pending.shift()) {
      if (this.#closed) return;
      if (!this.#o.enabled()) {
        this.#pending = [];
        break;
      }
      await this.#one(seg);
    }
    if (!this.#closed) this.#idle = setTimeout(() => void this.#stopWorker(), this.#o.idleMs);
  }

  async #one(seg: IndexedSegment): Promise<void> {
    const out = thumbnailPath(this.#o.dataDir, seg.camera, seg.id);
    const source = `${this.#o.dataDir}/${seg.path}`;
    // Made on hover meanwhile, or deleted by retention meanwhile: nothing to do.
    if (await exists(out) || !(await exists(source))) return;
    // Never onto the root filesystem: only while the recording disk is there (as recorders).
    const dev = await this.#checkedDevice();
    if (dev === null) return;
    const reply = await this.#ask({
      id: seg.id,
      source,
      codec: seg.codec,
      out,
      width: this.#o.width,
      timeoutMs: this.#o.timeoutMs,
      dataDir: this.#o.dataDir,
      dev,
    });
    if (reply.bytes !== undefined) {
      this.#made++;
      await this.#o.thumbnails?.adopt(out, reply.bytes);
      // Retention may have deleted the segment while its picture was made: not kept then.
      if (!(await exists(source))) await Deno.remove(out).catch(() => {});
    } else {
      this.#failed++;
      this.#o.log.debug("thumbnail not made", {
        camera: seg.camera,
        segment: seg.id,
        err: reply.error,
      });
    }
  }

  /** The data folder's device once the disk check passes; null (skipped) when it fails. */
  async #checkedDevice(): Promise<number | null> {
    try {
      await this.#o.checkStorage?.();
      return (await Deno.stat(this.#o.dataDir)).dev;
    } catch {
      this.#dropped++; // as a full queue's: made on hover once the disk is back
      return null;
    }
  }

  /** Sends one job and waits for its answer (the first one also waits for the worker's start). */
  async #ask(job: Record<string, unknown> & { id: number }): Promise<Reply> {
    if (!this.#child) this.#startWorker();
    const answered = new Promise<Reply>((resolve) => this.#waiter = resolve);
    // Start-up (Deno and GStreamer at the lowest priority on a busy box) counts too: generous.
    const timer = setTimeout(() => {
      this.#waiter?.({ id: job.id, error: "no answer in time; the thumbnail process restarts" });
      this.#child && kill(this.#child);
    }, this.#o.timeoutMs * 3);
    try {
      await this.#writer!.write(new TextEncoder().encode(JSON.stringify(job) + "\n"));
    } catch (err) {
      this.#waiter?.({ id: job.id, error: `thumbnail process gone: ${(err as Error).message}` });
    }
    try {
      return await answered;
    } finally {
      clearTimeout(timer);
      this.#waiter = null;
    }
  }

  #startWorker(): void {
    const [cmd, ...args] = [...this.#o.prefix, Deno.execPath(), "run", ...PERMISSIONS, WORKER_MAIN];
    const child = new Deno.Command(cmd!, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reading = (async () => {
      let buffered = "";
      try {
        for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
          buffered += chunk;
          for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            try {
              this.#waiter?.(JSON.parse(line) as Reply);
            } catch { /* not a reply line */ }
          }
        }
      } catch { /* killed */ }
      await child.status;
      if (this.#child === child) {
        this.#child = null;
        this.#writer = null;
        this.#waiter?.({ id: -1, error: "the thumbnail process ended" });
      }
    })();
  }

  async #stopWorker(): Promise<void> {
    const child = this.#child;
    const writer = this.#writer;
    const reading = this.#reading;
    if (!child) return;
    // A job after this starts a new worker.
    this.#child = null;
    this.#writer = null;
    await writer?.close().catch(() => {}); // the worker ends when its stdin closes
    const killer = setTimeout(() => kill(child), 5_000);
    await reading;
    clearTimeout(killer);
  }

  /** Stops taking segments, ends the worker (the one being made is given up). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idle);
    this.#pending = [];
    if (this.#child) kill(this.#child);
    await this.#running;
    await this.#stopWorker();
    await this.#reading;
    await this.#writer?.close().catch(() => {});
  }
}

function exists(path: string): Promise<boolean> {
  return Deno.stat(path).then(() => true, () => false);
}

function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch { /* already gone */ }
}
