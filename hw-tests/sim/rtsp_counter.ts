/**
 * What a camera sees of its clients, counted per mount: a plain TCP relay in front of an RTSP
 * server that reads the requests going to it (never the answers) and counts, per mount ("/main",
 * "/sub"), the PLAY requests ever made and the sessions playing now (a connection that sent PLAY
 * and has neither sent TEARDOWN nor closed). Used by the virtual camera (`countSessions`), so a
 * test can check that N live viewers do not open N sessions to the camera.
 *
 * Requests are parsed as RTSP 1.0 sends them: a request line, headers, a body of Content-Length
 * bytes; RTP/RTCP interleaved on the same connection (`$`, channel, 16-bit length) is skipped. A
 * connection that sends something else is counted as far as it parsed and then only relayed.
 */
import { relayTo } from "./relay_conn.ts";

export interface MountCount {
  /** PLAY requests ever made for this mount. */
  readonly plays: number;
  /** Sessions playing now. */
  readonly playing: number;
}

export interface RtspCounterOptions {
  /** The RTSP server's port on 127.0.0.1. */
  readonly target: number;
  /** Default 0: a free port. */
  readonly port?: number;
}

export interface RtspCounter extends AsyncDisposable {
  readonly port: number;
  /** Counts per mount, e.g. {"/sub": {plays: 1, playing: 1}}. */
  counts(): Record<string, MountCount>;
  close(): Promise<void>;
}

/** "/sub" of rtsp://h:p/sub/trackID=0 (the mount is the first path segment). */
export function mountOf(url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    path = url.startsWith("/") ? url : `/${url}`;
  }
  return `/${path.split("/").filter(Boolean)[0] ?? ""}`;
}

const CRLF2 = "\r\n\r\n";
const MAX_HEAD = 64 * 1024;

/**
 * The client→server half of one connection: feeds bytes, reports each request's method and URL.
 * Returns false once it cannot make sense of the stream (then it is only relayed).
 */
export class RequestReader {
  #buf = new Uint8Array(0);
  #skip = 0;
  #broken = false;
  readonly #onRequest: (method: string, url: string) => void;

  constructor(onRequest: (method: string, url: string) => void) {
    this.#onRequest = onRequest;
  }

  feed(chunk: Uint8Array): boolean {
    if (this.#broken) return false;
    if (this.#skip >= chunk.length) {
      this.#skip -= chunk.length;
      return true;
    }
    const rest = chunk.subarray(this.#skip);
    this.#skip = 0;
    const joined = new Uint8Array(this.#buf.length + rest.length);
    joined.set(this.#buf);
    joined.set(rest, this.#buf.length);
    let at = 0;
    for (;;) {
      if (at >= joined.length) break;
      if (joined[at] === 0x24) { // '$': interleaved RTP/RTCP
        if (joined.length - at < 4) break;
        const len = ((joined[at + 2] ?? 0) << 8) | (joined[at + 3] ?? 0);
        const end = at + 4 + len;
        if (end > joined.length) {
          this.#skip = end - joined.length;
          at = joined.length;
          break;
        }
        at = end;
        continue;
      }
      const text = new TextDecoder("latin1").decode(joined.subarray(at, at + MAX_HEAD));
      const headEnd = text.indexOf(CRLF2);
      if (headEnd < 0) {
        if (joined.length - at >= MAX_HEAD) this.#broken = true;
        break;
      }
      const head = text.slice(0, headEnd);
      const [line = "", ...headers] = head.split("\r\n");
      const m = /^([A-Z_]+) (\S+) RTSP\/1\.\d$/.exec(line);
      if (!m) {
        this.#broken = true;
        return false;
      }
      const lengthHeader = headers.find((h) => /^content-length\s*:/i.test(h));
      const bodyLength = lengthHeader ? Number(lengthHeader.split(":")[1]?.trim()) || 0 : 0;
      this.#onRequest(m[1] ?? "", m[2] ?? "");
      const end = at + headEnd + CRLF2.length + bodyLength;
      if (end > joined.length) {
        this.#skip = end - joined.length;
        at = joined.length;
        break;
      }
      at = end;
    }
    this.#buf = joined.slice(at);
    return !this.#broken;
  }
}

export function startRtspCounter(options: RtspCounterOptions): RtspCounter {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port ?? 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const plays = new Map<string, number>();
  const playing = new Map<string, number>();
  const open = new Set<Deno.Conn>();
  const pipes = new Set<Promise<void>>();
  const add = (map: Map<string, number>, mount: string, n: number) =>
    map.set(mount, (map.get(mount) ?? 0) + n);

  const relay = async (client: Deno.Conn) => {
    /** Mounts this connection plays now. */
    const mine = new Set<string>();
    const stopPlaying = (mount: string) => {
      if (mine.delete(mount)) add(playing, mount, -1);
    };
    const reader = new RequestReader((method, url) => {
      const mount = mountOf(url);
      if (method === "PLAY") {
        add(plays, mount, 1);
        if (!mine.has(mount)) {
          mine.add(mount);
          add(playing, mount, 1);
        }
      } else if (method === "TEARDOWN") stopPlaying(mount);
    });
    const counting = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        reader.feed(chunk);
        controller.enqueue(chunk);
      },
    });
    try {
      await relayTo(client, options.target, open, counting);
    } finally {
      for (const mount of [...mine]) stopPlaying(mount);
    }
  };
  const accepting = (async () => {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch {
        return; // closed
      }
      open.add(client);
      const p = relay(client);
      pipes.add(p);
      p.finally(() => pipes.delete(p));
    }
  })();
  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      listener.close();
      await accepting;
      for (const c of open) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await Promise.all(pipes);
    })();
  return {
    port,
    counts() {
      const out: Record<string, MountCount> = {};
      for (const mount of new Set([...plays.keys(), ...playing.keys()])) {
        out[mount] = { plays: plays.get(mount) ?? 0, playing: playing.get(mount) ?? 0 };
      }
      return out;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
