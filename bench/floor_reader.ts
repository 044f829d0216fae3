/**
 * The floor of the recording bench (issue 15): the least a process can do to record a camera on
 * this runtime. Per stream it makes the RTSP handshake (DESCRIBE, SETUP of every track, PLAY),
 * then only receives the stream's bytes and appends them to a file: the interleaved RTSP bytes as
 * read (TCP, TLS), or the datagrams (UDP). No parsing, no depacketizing, no MP4.
 *
 *   deno run -A --unstable-net bench/floor_reader.ts --out DIR [--transport tcp|udp|tls]
 *     [--ca FILE] URL...
 *
 * Writes DIR/cam00.bin, DIR/cam01.bin… (streamId order); runs until SIGTERM or SIGINT.
 */
import { parseSdp } from "../runtime/media/rtsp/sdp.ts";
import { controlUrl } from "../runtime/media/rtsp/session.ts";
import { bindPortPair, type UdpPair } from "../runtime/media/rtsp/udp.ts";
import { streamId } from "./recorders.ts";

const READ_BYTES = 256 * 1024;
const FLUSH_BYTES = 192 * 1024;
const KEEPALIVE_MS = 20_000;
const HEADER_END = new TextEncoder().encode("\r\n\r\n");

interface Args {
  out: string;
  transport: "tcp" | "udp" | "tls";
  ca: string | null;
  urls: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { out: "", transport: "tcp", ca: null, urls: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--out") args.out = argv[++i] ?? "";
    else if (a === "--ca") args.ca = argv[++i] ?? null;
    else if (a === "--transport") {
      const t = argv[++i];
      if (t !== "tcp" && t !== "udp" && t !== "tls") throw new Error("--transport tcp|udp|tls");
      args.transport = t;
    } else args.urls.push(a);
  }
  if (args.out === "" || args.urls.length === 0) {
    throw new Error(
      "usage: floor_reader.ts --out DIR [--transport tcp|udp|tls] [--ca FILE] URL...",
    );
  }
  return args;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

/** One RTSP stream: handshake, then bytes to the file until the process ends. */
class FloorStream {
  #cseq = 0;
  #pending = new Uint8Array(0);
  #session: string | null = null;
  readonly #pairs: UdpPair[] = [];

  constructor(
    readonly conn: Deno.Conn,
    readonly url: string,
    readonly file: Deno.FsFile,
    readonly udp: boolean,
  ) {}

  async #send(method: string, uri: string, headers: Record<string, string> = {}) {
    const all = { CSeq: String(++this.#cseq), ...headers };
    if (this.#session !== null) Object.assign(all, { Session: this.#session });
    const text = `${method} ${uri} RTSP/1.0\r\n` +
      Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
    const bytes = new TextEncoder().encode(text);
    for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
  }

  /** Reads one answer (head and body); what follows it stays in #pending. */
  async #answer(): Promise<{ status: number; headers: Map<string, string>; body: string }> {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const end = indexOf(this.#pending, HEADER_END);
      if (end >= 0) {
        const head = new TextDecoder().decode(this.#pending.subarray(0, end)).split("\r\n");
        const headers = new Map<string, string>();
        for (const line of head.slice(1)) {
          const c = line.indexOf(":");
          if (c > 0) headers.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim());
        }
        const length = Number(headers.get("content-length") ?? 0);
        const bodyAt = end + 4;
        if (this.#pending.length >= bodyAt + length) {
          const body = new TextDecoder().decode(this.#pending.subarray(bodyAt, bodyAt + length));
          this.#pending = this.#pending.slice(bodyAt + length);
          return { status: Number(head[0]!.split(" ")[1]), headers, body };
        }
      }
      const n = await this.conn.read(buf);
      if (n === null) throw new Error(`${this.url}: closed during the handshake`);
      const next = new Uint8Array(this.#pending.length + n);
      next.set(this.#pending);
      next.set(buf.subarray(0, n), this.#pending.length);
      this.#pending = next;
    }
  }

  async #request(method: string, uri: string, headers: Record<string, string> = {}) {
    await this.#send(method, uri, headers);
    const r = await this.#answer();
    if (r.status !== 200) throw new Error(`${this.url}: ${method} answered ${r.status}`);
    return r;
  }

  async start(): Promise<void> {
    const described = await this.#request("DESCRIBE", this.url, { Accept: "application/sdp" });
    const base = described.headers.get("content-base") ?? this.url;
    let channel = 0;
    for (const media of parseSdp(described.body)) {
      let transport = `RTP/AVP/TCP;unicast;interleaved=${channel}-${channel + 1}`;
      if (this.udp) {
        const pair = bindPortPair((this.conn.localAddr as Deno.NetAddr).hostname, this.url);
        this.#pairs.push(pair);
        transport = `RTP/AVP;unicast;client_port=${pair.port}-${pair.port + 1}`;
      }
      const r = await this.#request("SETUP", controlUrl(media.control, base), {
        Transport: transport,
      });
      this.#session ??= (r.headers.get("session") ?? "").split(";")[0]!.trim();
      channel += 2;
    }
    await this.#request("PLAY", base, { Range: "npt=0.000-" });
  }

  /** Appends everything that comes until the connection or the process ends. */
  async run(): Promise<void> {
    const keepalive = setInterval(
      () => void this.#send("OPTIONS", this.url).catch(() => {}),
      KEEPALIVE_MS,
    );
    try {
      if (this.udp) {
        await Promise.all(
          this.#pairs.flatMap((p) => [p.rtp, p.rtcp]).map((s) => this.#datagrams(s)),
        );
      } else {
        if (this.#pending.length > 0) this.file.writeSync(this.#pending);
        const buf = new Uint8Array(READ_BYTES);
        for (;;) {
          const n = await this.conn.read(buf);
          if (n === null) break;
          this.file.writeSync(buf.subarray(0, n));
        }
      }
    } finally {
      clearInterval(keepalive);
    }
  }

  async #datagrams(socket: Deno.DatagramConn): Promise<void> {
    const buf = new Uint8Array(READ_BYTES + 64 * 1024);
    let fill = 0;
    for (;;) {
      const [packet] = await socket.receive(buf.subarray(fill));
      fill += packet.length;
      if (fill >= FLUSH_BYTES) {
        this.file.writeSync(buf.subarray(0, fill));
        fill = 0;
      }
    }
  }
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const caCerts = args.ca === null ? [] : [await Deno.readTextFile(args.ca)];
  const streams: FloorStream[] = [];
  for (const [i, url] of args.urls.entries()) {
    const u = new URL(url);
    const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(u.port) || (u.protocol === "rtsps:" ? 322 : 554);
    const conn = u.protocol === "rtsps:"
      ? await Deno.connectTls({ hostname, port, caCerts })
      : await Deno.connect({ hostname, port });
    const file = await Deno.open(`${args.out}/${streamId(i)}.bin`, {
      write: true,
      create: true,
      truncate: true,
    });
    const stream = new FloorStream(conn, url, file, args.transport === "udp");
    await stream.start();
    streams.push(stream);
  }
  const stop = () => Deno.exit(0);
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  await Promise.all(streams.map((s) => s.run()));
}

if (import.meta.main) await main();
