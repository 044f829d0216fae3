/**
 * Live pictures from a recorder worker process to the daemon, so that viewers share the worker's
 * one RTSP session to the camera. The worker listens on a Unix socket in a folder only the daemon's
 * user can enter (0700); the daemon connects once per watched camera (however many viewers it
 * has), writes the camera id and a newline, and reads frames until it hangs up.
 *
 * A frame: u32 length of the rest, u8 flags (1 keyframe, 2 track follows), f64 timestamp,
 * f64 wall ms, u32 duration, [track: u8 codec (0 H.264, 1 H.265), u32 clock rate, then VPS, SPS,
 * PPS each as u32 length + bytes], u16 NAL count, each NAL as u32 length + bytes. Every keyframe
 * carries its track, so each connection stands alone.
 *
 * The worker never waits for the daemon: frames queue per connection up to MAX_QUEUED bytes, then
 * are dropped up to the next keyframe. Recording goes on whatever the reader does.
 */
import {
  LiveFanout,
  type LiveFrame,
  type LiveSource,
  type LiveSubscriber,
  type LiveTrack,
  liveTrack,
} from "../../media/restream/feed.ts";
import type { Logger } from "../../lib/log.ts";
import { writeAll } from "../../std/io/write_all.ts";

/** Per connection, about 2 s of a 4 Mbit/s stream. */
const MAX_QUEUED = 1024 * 1024;
const MAX_FRAME = 32 * 1024 * 1024;
const RECONNECT_MS = 1_000;
const encoder = new TextEncoder();

export function encodeFrame(track: LiveTrack, frame: LiveFrame): Uint8Array {
  const withTrack = frame.keyframe;
  const params = [track.vps ?? new Uint8Array(0), track.sps, track.pps];
  let size = 4 + 1 + 8 + 8 + 4 + 2;
  if (withTrack) size += 1 + 4 + params.reduce((n, p) => n + 4 + p.length, 0);
  for (const n of frame.nals) size += 4 + n.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let p = 0;
  view.setUint32(p, size - 4);
  out[4] = (frame.keyframe ? 1 : 0) | (withTrack ? 2 : 0);
  view.setFloat64(5, frame.ts);
  view.setFloat64(13, frame.wallMs);
  view.setUint32(21, frame.duration);
  p = 25;
  if (withTrack) {
    out[p++] = track.codec === "h265" ? 1 : 0;
    view.setUint32(p, track.clockRate);
    p += 4;
    for (const b of params) {
      view.setUint32(p, b.length);
      out.set(b, p + 4);
      p += 4 + b.length;
    }
  }
  view.setUint16(p, frame.nals.length);
  p += 2;
  for (const n of frame.nals) {
    view.setUint32(p, n.length);
    out.set(n, p + 4);
    p += 4 + n.length;
  }
  return out;
}

/** Reads frames off a byte stream; keeps the track between keyframes. */
export class FrameDecoder {
  #buffer = new Uint8Array(0);
  #track: LiveTrack | null = null;

  /** Frames completed by `chunk`; throws on a malformed frame. */
  push(chunk: Uint8Array): { track: LiveTrack; frame: LiveFrame }[] {
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    const out: { track: LiveTrack; frame: LiveFrame }[] = [];
    let at = 0;
    while (joined.length - at >= 4) {
      const view = new DataView(joined.buffer, at);
      const length = view.getUint32(0);
      if (length > MAX_FRAME || length < 23) throw new Error(`bad live frame length ${length}`);
      if (joined.length - at < 4 + length) break;
      const decoded = this.#frame(joined.subarray(at + 4, at + 4 + length));
      if (decoded) out.push(decoded);
      at += 4 + length;
    }
    this.#buffer = joined.slice(at);
    return out;
  }

  #frame(b: Uint8Array): { track: LiveTrack; frame: LiveFrame } | null {
    const view = new DataView(b.buffer, b.byteOffset, b.length);
    const flags = b[0]!;
    const ts = view.getFloat64(1);
    const wallMs = view.getFloat64(9);
    const duration = view.getUint32(17);
    let p = 21;
    const take = () => {
      const n = view.getUint32(p);
      const bytes = b.subarray(p + 4, p + 4 + n);
      if (bytes.length !== n) throw new Error("truncated live frame");
      p += 4 + n;
      return bytes;
    };
    if (flags & 2) {
      const codec = b[p++] === 1 ? "h265" : "h264";
      const clockRate = view.getUint32(p);
      p += 4;
      const vps = take().slice();
      const sps = take().slice();
      const pps = take().slice();
      const track = liveTrack(codec, clockRate, { vps: vps.length ? vps : null, sps, pps });
      if (!track) throw new Error("live frame with unreadable parameter sets");
      const old = this.#track;
      const same = old !== null && old.codec === track.codec &&
        old.clockRate === track.clockRate && eq(old.sps, track.sps) && eq(old.pps, track.pps) &&
        eq(old.vps, track.vps);
      if (!same) this.#track = track;
    }
    const count = view.getUint16(p);
    p += 2;
    const nals: Uint8Array[] = [];
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const nal = take();
      nals.push(nal);
      bytes += nal.length;
    }
    if (!this.#track) return null;
    return {
      track: this.#track,
      frame: { nals, ts, duration, keyframe: (flags & 1) !== 0, wallMs, bytes },
    };
  }
}

function eq(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Worker side: serves `live(camera)` on the Unix socket at `path` until `signal` aborts.
 * Resolves once the listener is closed.
 */
export async function serveLiveSocket(
  path: string,
  live: (camera: string) => LiveSource | null,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  await Deno.remove(path).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path });
  await Deno.chmod(path, 0o600);
  const conns = new Set<Deno.Conn>();
  signal.addEventListener("abort", () => {
    listener.close();
    for (const c of conns) closeQuietly(c);
  }, { once: true });
  const handling: Promise<void>[] = [];
  try {
    for await (const conn of listener) {
      conns.add(conn);
      handling.push(
        serveOne(conn, live).catch((err) => log.debug("live socket client ended", { err }))
          .finally(() => {
            conns.delete(conn);
            closeQuietly(conn);
          }),
      );
    }
  } catch (err) {
    if (!signal.aborted) log.warn("live socket closed", { err });
  }
  await Promise.all(handling);
  await Deno.remove(path).catch(() => {});
}

async function serveOne(
  conn: Deno.Conn,
  live: (camera: string) => LiveSource | null,
): Promise<void> {
  const camera = await readLine(conn);
  const source = live(camera);
  if (!source) return;
  const queue: Uint8Array[] = [];
  let queued = 0;
  let waitKeyframe = false;
  let wake = null as (() => void) | null;
  let closed = false;
  const subscriber: LiveSubscriber = {
    frame(track, frame) {
      if (closed) return;
      if (frame.keyframe) waitKeyframe = false;
      if (waitKeyframe) return;
      const bytes = encodeFrame(track, frame);
      if (queued + bytes.length > MAX_QUEUED) {
        waitKeyframe = true; // the daemon is slow: drop up to the next keyframe
        return;
      }
      queue.push(bytes);
      queued += bytes.length;
      wake?.();
    },
  };
  const unsubscribe = source.subscribe(subscriber);
  // The daemon hangs up by closing: a read that ends tells us.
  const hangup = (async () => {
    const buf = new Uint8Array(64);
    try {
      while ((await conn.read(buf)) !== null) { /* nothing else is sent */ }
    } catch { /* closed */ }
    closed = true;
    wake?.();
  })();
  try {
    while (!closed) {
      const next = queue.shift();
      if (!next) {
        await new Promise<void>((resolve) => wake = resolve);
        wake = null;
        continue;
      }
      queued -= next.length;
      await writeAll(conn, next);
    }
  } finally {
    closed = true;
    unsubscribe();
    closeQuietly(conn);
    await hangup;
  }
}

async function readLine(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(256);
  let text = "";
  while (!text.includes("\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("live socket: closed before the camera id");
    text += new TextDecoder().decode(buf.subarray(0, n));
    if (text.length > 200) throw new Error("live socket: camera id too long");
  }
  return text.slice(0, text.indexOf("\n"));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/**
 * Daemon side: one camera's pictures from its worker, shared by every viewer in the daemon. It
 * connects when the first viewer subscribes and hangs up when the last one leaves; while watched,
 * a broken connection (the worker restarting) is retried every second.
 */
export class RemoteLive implements LiveSource {
  readonly #path: () => string | null;
  readonly #camera: string;
  readonly #fanout = new LiveFanout();
  #stop: AbortController | null = null;

  constructor(path: () => string | null, camera: string) {
    this.#path = path;
    this.#camera = camera;
  }

  subscribe(subscriber: LiveSubscriber): () => void {
    const off = this.#fanout.subscribe(subscriber);
    if (!this.#stop) {
      const stop = new AbortController();
      this.#stop = stop;
      this.#run(stop.signal).catch(() => {});
    }
    return () => {
      off();
      if (this.#fanout.subscribers === 0 && this.#stop) {
        this.#stop.abort();
        this.#stop = null;
        this.#fanout.reset();
      }
    };
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const path = this.#path();
      if (path) {
        let conn: Deno.UnixConn | null = null;
        const onAbort = () => conn && closeQuietly(conn);
        signal.addEventListener("abort", onAbort, { once: true });
        try {
          conn = await Deno.connect({ transport: "unix", path });
          if (signal.aborted) break;
          await writeAll(conn, encoder.encode(this.#camera + "\n"));
          const decoder = new FrameDecoder();
          const buf = new Uint8Array(256 * 1024);
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            for (const { track, frame } of decoder.push(buf.subarray(0, n))) {
              this.#fanout.publish(track, frame);
            }
          }
        } catch {
          /* the worker is restarting, or we hung up */
        } finally {
          signal.removeEventListener("abort", onAbort);
          if (conn) closeQuietly(conn);
          this.#fanout.reset();
        }
      }
      if (signal.aborted) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, RECONNECT_MS);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  }
}
