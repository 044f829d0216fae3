/**
 * live.ws against the real daemon over real TLS sockets, the upgrade written by hand so that the
 * Origin, the cookie and whether the client ever reads are the test's to choose.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { daemonHttps } from "../testing/https_client.ts";

type Harness = Awaited<ReturnType<typeof startHarness>>;

async function signIn(h: Harness): Promise<string> {
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
async function upgrade(
  h: Harness,
  camera: string,
  headers: Record<string, string>,
): Promise<{ conn: Deno.TlsConn; head: string; rest: Uint8Array }> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: h.daemon.listen.port,
    caCerts: [h.daemon.tls!.certPem],
  });
  const lines = [
    `GET /api/cameras/${camera}/live.ws?codecs=h264 HTTP/1.1`,
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

/** Reads server frames (unmasked) until `want` binary bytes or a deadline; texts collected. */
async function readFrames(conn: Deno.Conn, start: Uint8Array, wantBinary: number) {
  let data = start;
  const texts: string[] = [];
  let binary = 0;
  let firstBinary: Uint8Array | null = null;
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + 20_000;
  while (binary < wantBinary && Date.now() < deadline) {
    // Parse what we have.
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
      if (op === 8) return { texts, binary, firstBinary, closed: true };
      data = data.slice(at + len);
    }
    const n = await conn.read(buf);
    if (n === null) return { texts, binary, firstBinary, closed: true };
    const next = new Uint8Array(data.length + n);
    next.set(data);
    next.set(buf.subarray(0, n), data.length);
    data = next;
  }
  return { texts, binary, firstBinary, closed: false };
}

async function withLane(fn: (h: Harness, cookie: string, origin: string) => Promise<void>) {
  await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
  await using h = await startHarness({
    cameras: [{ id: "lane", url: cam.rtspUrl, codec: "h264" }],
  });
  await h.until("lane", (s) => s.state === "recording", "lane records");
  await fn(h, await signIn(h), `https://127.0.0.1:${h.daemon.listen.port}`);
}

Deno.test("attack: live WebSocket from another origin — refused", async () => {
  await withLane(async (h, cookie) => {
    // Same-site pages (another port, a sibling name) would carry the SameSite cookie.
    const { conn, head } = await upgrade(h, "lane", {
      Cookie: cookie,
      Origin: "https://evil.example",
    });
    conn.close();
    assertMatch(head, /^HTTP\/1\.1 403/);
  });
});

Deno.test("attack: live WebSocket without a session — refused", async () => {
  await withLane(async (h, _cookie, origin) => {
    const { conn, head } = await upgrade(h, "lane", { Origin: origin });
    conn.close();
    assertMatch(head, /^HTTP\/1\.1 401/);
  });
});

Deno.test("live.ws: the recorder's session restreamed as an init segment, then a fragment a frame", async () => {
  await withLane(async (h, cookie, origin) => {
    const { conn, head, rest } = await upgrade(h, "lane", { Cookie: cookie, Origin: origin });
    assertMatch(head, /^HTTP\/1\.1 101/);
    const seen = await readFrames(conn, rest, 20_000);
    conn.close();
    const init = JSON.parse(seen.texts[0] ?? "{}");
    assertEquals([init.type, init.source], ["init", "main"]);
    assertMatch(init.codec, /^avc1\./);
    assertEquals(new TextDecoder().decode(seen.firstBinary?.subarray(4, 8)), "ftyp");
    assert(seen.texts.some((t) => JSON.parse(t).type === "time"), "time messages for latency");
  });
});
