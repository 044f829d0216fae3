/**
 * The durable offline queue of the fleet link, in Deno KV. Every outbound message is written
 * here first and removed only after the broker's PUBACK (`ack`), so a message survives a broker
 * outage and a daemon restart, and is delivered in the order it was queued.
 *
 * Keys: ["q","m",seq] → {topic, retain, class, chunks, bytes}; ["q","p",seq,i] → payload chunk i
 * (64,000 bytes at most: a KV value holds 64 KiB); ["q","next"] → the next seq. Writes are
 * batched (one atomic commit for a burst of messages and acks) and serialised, so commits land
 * in seq order and a reader never sees seq n+1 without n.
 *
 * Bounded by `maxMessages`: when full, the oldest `sample` (health) is dropped first, and only
 * when there is none, the oldest message of any class. A `latest` message (fingerprint,
 * config/reported) replaces the queued one of the same topic.
 */
import type { Logger } from "../lib/log.ts";
import type { FleetKv } from "./fleet_kv.ts";
import { concat } from "../std/bytes/concat.ts";

/** How the queue treats a message when it is full or superseded. */
export type MessageClass = "sample" | "keep" | "latest";

export interface OutboundMessage {
  readonly topic: string;
  readonly retain: boolean;
  readonly cls: MessageClass;
  readonly payload: Uint8Array;
}

export interface QueuedMessage extends OutboundMessage {
  readonly seq: number;
}

export interface QueueStats {
  /** Messages queued (written or being written), not yet acknowledged by the broker. */
  readonly messages: number;
  readonly samples: number;
  readonly bytes: number;
  /** Dropped because the queue was full, since it was opened. */
  readonly dropped: number;
  /** Replaced by a newer `latest` message of the same topic, since it was opened. */
  readonly superseded: number;
  readonly nextSeq: number;
  /** Atomic KV commits made since it was opened (a burst of messages is one or a few). */
  readonly commits: number;
}

export interface QueueOptions {
  readonly maxMessages: number;
  /** Largest payload accepted, in bytes (640 KiB at most: one atomic KV commit). */
  readonly maxPayloadBytes?: number;
  readonly log: Logger;
}

export class QueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueueError";
  }
}

const CHUNK = 64_000;
const MAX_MUTATIONS = 900;
const MAX_COMMIT_BYTES = 700_000;
const ACK_FLUSH_MS = 20;
/** One message is written in one atomic commit, whose total size Deno KV caps at 800 KiB. */
export const MAX_PAYLOAD = 640 * 1024;

interface Meta {
  readonly t: string;
  readonly r: boolean;
  readonly c: MessageClass;
  /** Number of payload chunks. */
  readonly n: number;
  readonly b: number;
}

interface Pending {
  readonly seq: number;
  readonly meta: Meta;
  readonly payload: Uint8Array;
  readonly done: PromiseWithResolvers<number>;
}

export class DurableQueue {
  readonly #kv: FleetKv;
  readonly #max: number;
  readonly #maxPayload: number;
  readonly #log: Logger;
  /** Every live message, by seq, in seq order. */
  readonly #index = new Map<number, Meta>();
  /** Seqs in order, with stale (removed) ones skipped lazily. */
  #order: number[] = [];
  readonly #samples = new Set<number>();
  readonly #latest = new Map<string, number>();
  /** Payloads written recently, so a reader that keeps up never reads KV. */
  readonly #cache = new Map<number, Uint8Array>();
  #cacheBytes = 0;
  readonly #cacheLimit = 8 * 2 ** 20;
  #bytes = 0;
  #pending: Pending[] = [];
  readonly #deletes = new Map<number, number>();
  #nextSeq: number;
  #committed: number;
  #dropped = 0;
  #superseded = 0;
  #commits = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #writing: Promise<void> = Promise.resolve();
  #waiters: (() => void)[] = [];
  #closed = false;

  private constructor(kv: FleetKv, options: QueueOptions, nextSeq: number) {
    this.#kv = kv;
    this.#max = options.maxMessages;
    this.#maxPayload = Math.min(options.maxPayloadBytes ?? MAX_PAYLOAD, MAX_PAYLOAD);
    this.#log = options.log;
    this.#nextSeq = nextSeq;
    this.#committed = nextSeq - 1;
  }

  /** Reads the queue's index from `kv` (which the caller owns and closes after `close()`). */
  static async open(kv: FleetKv, options: QueueOptions): Promise<DurableQueue> {
    if (!Number.isInteger(options.maxMessages) || options.maxMessages < 1) {
      throw new QueueError(
        `maxMessages must be a whole number of at least 1, got ${options.maxMessages}`,
      );
    }
    const stored = (await kv.get<number>(["q", "next"])).value ?? 0;
    const metas: [number, Meta][] = [];
    for await (const e of kv.list<Meta>({ prefix: ["q", "m"] })) {
      metas.push([e.key[2] as number, e.value]);
    }
    const last = metas.at(-1)?.[0] ?? -1;
    const queue = new DurableQueue(kv, options, Math.max(stored, last + 1));
    for (const [seq, meta] of metas) queue.#add(seq, meta);
    return queue;
  }

  /**
   * Queues a message; `body(seq)` makes its payload (so the payload can carry its seq). Resolves
   * with the seq once it is written to disk. Never blocks on the broker.
   */
  enqueue(
    message: { topic: string; retain: boolean; cls: MessageClass },
    body: (seq: number) => Uint8Array,
  ): Promise<number> {
    if (this.#closed) return Promise.reject(new QueueError("the fleet queue is closed"));
    const seq = this.#nextSeq++;
    const payload = body(seq);
    if (payload.byteLength > this.#maxPayload) {
      return Promise.reject(
        new QueueError(
          `message for ${message.topic} is ${payload.byteLength} bytes; at most ` +
            `${this.#maxPayload} bytes can be queued`,
        ),
      );
    }
    if (message.cls === "latest") {
      const previous = this.#latest.get(message.topic);
      if (previous !== undefined) {
        this.#remove(previous);
        this.#superseded++;
      }
    }
    let dropped = 0;
    while (this.#index.size >= this.#max) {
      const victim = this.#samples.values().next().value ?? this.#oldest();
      if (victim === undefined) break;
      if (!this.#samples.has(victim)) {
        this.#log.warn("fleet queue full: dropped a message that is not a health sample", {
          seq: victim,
          topic: this.#index.get(victim)?.t,
        });
      }
      this.#remove(victim);
      dropped++;
    }
    if (dropped > 0) this.#dropped += dropped;
    const meta: Meta = {
      t: message.topic,
      r: message.retain,
      c: message.cls,
      n: Math.ceil(payload.byteLength / CHUNK),
      b: payload.byteLength,
    };
    this.#add(seq, meta);
    this.#cachePut(seq, payload);
    const done = Promise.withResolvers<number>();
    this.#pending.push({ seq, meta, payload, done });
    this.#schedule(0);
    return done.promise;
  }

  /** Whether `seq` is still queued (not acknowledged, dropped or superseded). */
  has(seq: number): boolean {
    return this.#index.has(seq);
  }

  /** Highest seq written to disk; every queued seq up to it can be read. */
  get committedSeq(): number {
    return this.#committed;
  }

  /** Up to `limit` written messages with seq > `after`, in order. */
  async read(after: number, limit: number): Promise<QueuedMessage[]> {
    const seqs: number[] = [];
    let i = this.#firstAfter(after);
    for (; i < this.#order.length && seqs.length < limit; i++) {
      const seq = this.#order[i] as number;
      if (seq > this.#committed) break;
      if (this.#index.has(seq)) seqs.push(seq);
    }
    if (seqs.length === 0) return [];
    const missing = seqs.filter((s) => !this.#cache.has(s));
    const loaded = new Map<number, Uint8Array>();
    if (missing.length > 0) {
      const first = missing[0] as number;
      const last = missing.at(-1) as number;
      const chunks = new Map<number, Uint8Array[]>();
      for await (
        const e of this.#kv.list<Uint8Array>({
          start: ["q", "p", first],
          end: ["q", "p", last + 1],
        })
      ) {
        const seq = e.key[2] as number;
        const list = chunks.get(seq) ?? [];
        list.push(e.value);
        chunks.set(seq, list);
      }
      for (const seq of missing) {
        const parts = chunks.get(seq) ?? [];
        loaded.set(seq, parts.length === 1 ? parts[0] as Uint8Array : concat(parts));
      }
    }
    const out: QueuedMessage[] = [];
    for (const seq of seqs) {
      const meta = this.#index.get(seq);
      const payload = this.#cache.get(seq) ?? loaded.get(seq);
      if (!meta || !payload) continue; // removed while reading
      if (payload.byteLength !== meta.b) {
        this.#log.error("fleet queue: a stored message is damaged; dropped", {
          seq,
          topic: meta.t,
          expected: meta.b,
          found: payload.byteLength,
        });
        this.#remove(seq);
        continue;
      }
      out.push({ seq, topic: meta.t, retain: meta.r, cls: meta.c, payload });
    }
    return out;
  }

  /** Resolves when a message with seq > `after` is written, or at once after close(). */
  waitForMore(after: number): Promise<void> {
    if (this.#closed || this.#committed > after && this.#firstLiveAfter(after)) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Whether a live message newer than `seq` waits on `topic` (to coalesce health samples). */
  newerOnTopic(seq: number, topic: string): boolean {
    for (const other of this.#samples) {
      if (other > seq && this.#index.get(other)?.t === topic) return true;
    }
    return false;
  }

  /** The broker acknowledged `seq`: it is deleted (in the next batched write). */
  ack(seq: number): void {
    if (this.#closed) return;
    this.#remove(seq);
  }

  /** Drops a message that can never be delivered (e.g. larger than the broker accepts). */
  discard(seq: number, why: string): void {
    const meta = this.#index.get(seq);
    if (!meta) return;
    this.#log.error("fleet queue: dropped a message that cannot be delivered", {
      seq,
      topic: meta.t,
      why,
    });
    this.#remove(seq);
  }

  stats(): QueueStats {
    return {
      messages: this.#index.size,
      samples: this.#samples.size,
      bytes: this.#bytes,
      dropped: this.#dropped,
      superseded: this.#superseded,
      nextSeq: this.#nextSeq,
      commits: this.#commits,
    };
  }

  /** Writes everything pending now. */
  async flush(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#writing = this.#writing.then(() => this.#write());
    await this.#writing;
  }

  /** Writes what is pending and stops; the caller closes the KV afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w();
  }

  #add(seq: number, meta: Meta): void {
    this.#index.set(seq, meta);
    this.#order.push(seq);
    this.#bytes += meta.b;
    if (meta.c === "sample") this.#samples.add(seq);
    if (meta.c === "latest") this.#latest.set(meta.t, seq);
  }

  #remove(seq: number): void {
    const meta = this.#index.get(seq);
    if (!meta) return;
    this.#index.delete(seq);
    this.#samples.delete(seq);
    if (this.#latest.get(meta.t) === seq) this.#latest.delete(meta.t);
    this.#bytes -= meta.b;
    this.#cacheDrop(seq);
    const pending = this.#pending.findIndex((p) => p.seq === seq);
    if (pending >= 0) {
      const [p] = this.#pending.splice(pending, 1);
      p?.done.resolve(seq); // queued, then dropped before it was written
    } else {
      this.#deletes.set(seq, meta.n);
      this.#schedule(ACK_FLUSH_MS);
    }
    if (this.#order.length > 2 * this.#index.size + 1024) {
      this.#order = this.#order.filter((s) => this.#index.has(s));
    }
  }

  #oldest(): number | undefined {
    for (const seq of this.#order) if (this.#index.has(seq)) return seq;
    return undefined;
  }

  /** Index into #order of the first seq > after (binary search; #order is ascending). */
  #firstAfter(after: number): number {
    let lo = 0;
    let hi = this.#order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#order[mid] as number) <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #firstLiveAfter(after: number): boolean {
    for (let i = this.#firstAfter(after); i < this.#order.length; i++) {
      const seq = this.#order[i] as number;
      if (seq > this.#committed) return false;
      if (this.#index.has(seq)) return true;
    }
    return false;
  }

  #cachePut(seq: number, payload: Uint8Array): void {
    if (this.#cacheBytes + payload.byteLength > this.#cacheLimit) return;
    this.#cache.set(seq, payload);
    this.#cacheBytes += payload.byteLength;
  }

  #cacheDrop(seq: number): void {
    const payload = this.#cache.get(seq);
    if (!payload) return;
    this.#cache.delete(seq);
    this.#cacheBytes -= payload.byteLength;
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    if (this.#timer !== null) {
      if (ms > 0) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#writing = this.#writing.then(() => this.#write());
    }, ms);
  }

  /** One batch: the pending messages and deletes, in as few atomic commits as the limits let. */
  async #write(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    const deletes = [...this.#deletes];
    this.#deletes.clear();
    let op = this.#kv.atomic();
    let mutations = 0;
    let size = 0;
    let inOp: Pending[] = [];
    let deletesInOp: [number, number][] = [];
    const commit = async () => {
      if (mutations === 0) return;
      const seqs = inOp;
      const dels = deletesInOp;
      const maxSeq = seqs.at(-1)?.seq;
      if (maxSeq !== undefined) op.set(["q", "next"], maxSeq + 1);
      try {
        const result = await op.commit();
        if (!result.ok) throw new QueueError("the atomic write was refused");
        this.#commits++;
        if (maxSeq !== undefined) this.#committed = Math.max(this.#committed, maxSeq);
        for (const p of seqs) p.done.resolve(p.seq);
      } catch (err) {
        this.#log.error("fleet queue: writing to Deno KV failed", { err });
        for (const p of seqs) {
          this.#remove(p.seq);
          p.done.reject(new QueueError(`could not queue the message: ${(err as Error).message}`));
        }
        for (const [seq, n] of dels) this.#deletes.set(seq, n); // try again next time
      }
      op = this.#kv.atomic();
      mutations = 0;
      size = 0;
      inOp = [];
      deletesInOp = [];
      this.#wake();
    };
    for (const [seq, n] of deletes) {
      if (mutations + n + 1 > MAX_MUTATIONS) await commit();
      op.delete(["q", "m", seq]);
      for (let i = 0; i < n; i++) op.delete(["q", "p", seq, i]);
      mutations += n + 1;
      deletesInOp.push([seq, n]);
    }
    for (const p of pending) {
      const bytes = p.payload.byteLength + p.meta.t.length + 64;
      if (mutations + p.meta.n + 2 > MAX_MUTATIONS || size + bytes > MAX_COMMIT_BYTES) {
        await commit();
      }
      op.set(["q", "m", p.seq], p.meta);
      for (let i = 0; i < p.meta.n; i++) {
        op.set(["q", "p", p.seq, i], p.payload.subarray(i * CHUNK, (i + 1) * CHUNK));
      }
      mutations += p.meta.n + 1;
      size += bytes;
      inOp.push(p);
    }
    await commit();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}
