/**
 * A live.ws client for tests against the real daemon, over a real TLS socket with the upgrade
 * written by hand, so that the Origin, the cookie and whether the client ever reads are the
 * test's to choose (a browser's WebSocket always reads).
 */
import { assertEquals } from "./assert.ts";
import { daemonHttps } from "./https_client.ts";
import type { Daemon } from "../app/daemon.ts";

/** What a test needs of the daemon and its folder. */
export interface LiveTarget {
  readonly daemon: Pick<Daemon, "listen" | "tls">;
  readonly dir: string;
}

/** Creates the first admin (setup code from the data folder) and signs in; the cookie pair. */
export async function signIn(h: LiveTarget): Promise<string> {
  using https = daemonHttps(h.daemon);
  const setupCode = (await Deno.readTextFile(`${h.dir}/data/setup-code`)).trim();
  const res = await https.fetch("/api/setup", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name: "Ada",
      email: "ada@example.com",
      password: "correct horse battery",
      acceptPrivacyNotice: true,
      setupCode,
    }),
  });
  await res.body?.cancel();
  assertEquals(res.status, 201);
  const login = await https.fetch("/api/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "ada@example.com", password: "correct horse battery" }),
  });
  await login.body?.cancel();
  assertEquals(login.status, 200);
  return (login.headers.get("set-cookie") ?? "").split(";")[0]!;
}

/** Opens a TLS socket, sends the upgrade; returns the socket and the answer's head. */
export async function upgrade(
  h: LiveTarget,
  camera: string,
  headers: Record<string, string>,
  codecs = "h264",
): Promise<{ conn: Deno.TlsConn; head: string; rest: Uint8Array }> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: h.daemon.listen.port,
    caCerts: [h.daemon.tls!.certPem],
  });
  const lines = [
    `GET /api/cameras/${camera}/live.ws?codecs=${codecs} HTTP/1.1`,
    `Host: 127.0.0.1:${h.daemon.listen.port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
  let got = new Uint8Array(0);
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const text = new TextDecoder().decode(got);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      return { conn, head: text.slice(0, end), rest: got.slice(end + 4) };
    }
    if (Date.now() > deadline) throw new Error("no answer to the upgrade");
    const n = await conn.read(buf);
    if (n === null) throw new Error(`closed before an answer: ${text}`);
    const next = new Uint8Array(got.length + n);
    next.set(got);
    next.set(buf.subarray(0, n), got.length);
    got = next;
  }
}

export interface ReadResult {
  readonly texts: string[];
  readonly binary: number;
  readonly firstBinary: Uint8Array | null;
  readonly closed: boolean;
  /** The close frame's code, when one came. */
  readonly closeCode: number | null;
  /** Bytes read past the last whole frame: the `start` of the next call. */
  readonly leftover: Uint8Array;
}

/**
 * Reads server frames (unmasked) until `stop` holds, the server closes, or `timeoutMs` passes;
 * texts are collected. `stop` sees what was read so far.
 */
export async function readFrames(
  conn: Deno.Conn,
  start: Uint8Array,
  stop: number | ((r: ReadResult) => boolean),
  timeoutMs = 20_000,
): Promise<ReadResult> {
  const done = typeof stop === "number" ? (r: ReadResult) => r.binary >= stop : stop;
  let data = start;
  const texts: string[] = [];
  let binary = 0;
  let firstBinary: Uint8Array | null = null;
  const result = (closed: boolean, closeCode: number | null = null): ReadResult => ({
    texts,
    binary,
    firstBinary,
    closed,
    closeCode,
    leftover: data,
  });
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (;;) {
      if (data.length < 2) break;
      const op = data[0]! & 0x0f;
      let len = data[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (data.length < 4) break;
        len = (data[2]! << 8) | data[3]!;
        at = 4;
      } else if (len === 127) {
        if (data.length < 10) break;
        len = Number(new DataView(data.buffer, data.byteOffset + 2, 8).getBigUint64(0));
        at = 10;
      }
      if (data.length < at + len) break;
      const payload = data.slice(at, at + len);
      if (op === 1) texts.push(new TextDecoder().decode(payload));
      if (op === 2) {
        firstBinary ??= payload;
        binary += len;
      }
      if (op === 8) return result(true, len >= 2 ? (payload[0]! << 8) | payload[1]! : null);
      data = data.slice(at + len);
    }
    if (done(result(false)) || Date.now() > deadline) return result(false);
    const n = await conn.read(buf);
    if (n === null) return result(true);
    const next = new Uint8Array(data.length + n);
    next.set(data);
    next.set(buf.subarray(0, n), data.length);
    data = next;
  }
}
