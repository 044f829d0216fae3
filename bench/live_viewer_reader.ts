/**
 * A live.ws viewer for bench/live_viewers.ts that reads and discards, counting what it got: bytes
 * and WebSocket messages (after the init message and segment, one binary message is one frame's
 * moof+mdat, playback/live_viewer.ts), so the bench can count frames delivered, not only bytes.
 * It answers the server's pings as a browser does: Deno's server WebSocket pings an idle client
 * and closes the connection when no pong comes (`idleTimeout`, 30 s by default), which is what
 * cut the bench's earlier readers off 30 s after they joined ("the connection failed" in the
 * daemon's log) and showed as 20–43 % of the frames lost at 4 and 8 viewers.
 *
 * Run alone (`deno run -A bench/live_viewer_reader.ts <port> <camera> <cookie> <cert.pem>`) it is
 * one viewer in its own process and prints its counts as a JSON line every 250 ms, so the bench
 * can tell the daemon's side from a reader starved of CPU in the bench's own process.
 */
import { upgrade } from "../runtime/testing/live_ws_client.ts";

/** Counts a server's (unmasked) WebSocket frames as bytes arrive; payloads are skipped, not kept. */
export class WsCounter {
  bytes = 0;
  binary = 0;
  text = 0;
  pings = 0;
  #head = new Uint8Array(14);
  #headLen = 0;
  #skip = 0;
  /** A ping's payload being collected (pings carry at most 125 bytes), else null. */
  #ping: number[] | null = null;
  /** Called with each whole ping's payload: answer it with a pong. */
  onPing: (payload: Uint8Array) => void = () => {};

  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#ping?.push(...chunk.subarray(i, i + n));
        this.#skip -= n;
        i += n;
        if (this.#skip === 0) this.#pinged();
        continue;
      }
      this.#head[this.#headLen++] = chunk[i++]!;
      if (this.#headLen < 2) continue;
      const len7 = this.#head[1]! & 0x7f;
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
      if (this.#headLen < need) continue;
      const view = new DataView(this.#head.buffer);
      const payload = len7 === 126
        ? view.getUint16(2)
        : len7 === 127
        ? Number(view.getBigUint64(2))
        : len7;
      const opcode = this.#head[0]! & 0x0f;
      if (opcode === 2) this.binary++;
      else if (opcode === 1) this.text++;
      this.#headLen = 0;
      this.#skip = payload;
      if (opcode === 9) {
        this.#ping = [];
        if (payload === 0) this.#pinged();
      }
    }
  }

  #pinged(): void {
    if (!this.#ping) return;
    this.pings++;
    this.onPing(new Uint8Array(this.#ping));
    this.#ping = null;
  }
}

/** A client's pong frame (masked, as RFC 6455 requires of a client) for a ping's payload. */
export function pongFrame(payload: Uint8Array): Uint8Array {
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const out = new Uint8Array(6 + payload.length);
  out[0] = 0x8a; // FIN + pong
  out[1] = 0x80 | payload.length;
  out.set(mask, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i % 4]!;
  return out;
}

/** Reads `conn` until it closes, into `counter`, answering pings; resolves at the end. */
export async function drain(conn: Deno.Conn, counter: WsCounter, start: Uint8Array): Promise<void> {
  counter.onPing = (payload) => void conn.write(pongFrame(payload)).catch(() => {});
  counter.push(start);
  const buf = new Uint8Array(256 * 1024);
  try {
    for (;;) {
      const got = await conn.read(buf);
      if (got === null) break;
      counter.push(buf.subarray(0, got));
    }
  } catch { /* closed at the end */ }
}

if (import.meta.main) {
  const [port, camera, cookie, certFile] = Deno.args;
  if (!port || !camera || !cookie || !certFile) {
    throw new Error("usage: live_viewer_reader.ts <port> <camera> <cookie> <cert.pem>");
  }
  const certPem = await Deno.readTextFile(certFile);
  const target = {
    daemon: {
      listen: { scheme: "https" as const, hostname: "127.0.0.1", port: Number(port) },
      tls: { certPem, fingerprint: "" },
    },
    dir: "",
  };
  const { conn, head, rest } = await upgrade(
    target,
    camera,
    { Cookie: cookie, Origin: `https://127.0.0.1:${port}` },
    "h265",
  );
  if (!/^HTTP\/1\.1 101/.test(head)) throw new Error(`viewer refused: ${head}`);
  const counter = new WsCounter();
  const report = setInterval(() => {
    console.log(JSON.stringify({ bytes: counter.bytes, binary: counter.binary }));
  }, 250);
  await drain(conn, counter, rest);
  clearInterval(report);
  console.log(JSON.stringify({ bytes: counter.bytes, binary: counter.binary }));
}
