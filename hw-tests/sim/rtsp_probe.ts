/**
 * A tiny RTSP/1.0 request helper (one request per TCP connection) for tests and
 * health checks: OPTIONS/DESCRIBE a URL and read the status, headers and body.
 */

export interface RtspReply {
  readonly status: number;
  readonly reason: string;
  /** Header names lower-cased; repeated headers are all kept in order. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

export interface RtspRequestOptions {
  /** Full Authorization header value, e.g. "Basic dTpw". */
  readonly authorization?: string;
  /** Default 5000 ms. */
  readonly timeoutMs?: number;
}

/** "Basic base64(user:password)". */
export function basicAuth(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * Sends one request (`OPTIONS`, `DESCRIBE`, …) and returns the reply. Rejects
 * when the connection is refused or reset, or after `timeoutMs`.
 */
export async function rtspRequest(
  url: string,
  method: string,
  opts: RtspRequestOptions = {},
): Promise<RtspReply> {
  const u = new URL(url);
  if (u.protocol !== "rtsp:") throw new Error(`not an rtsp:// URL: ${url}`);
  const clean = `rtsp://${u.host}${u.pathname}${u.search}`;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port || 554) });
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* already closed */ }
  }, timeoutMs);
  try {
    const lines = [`${method} ${clean} RTSP/1.0`, "CSeq: 1", "User-Agent: nvr-sim-probe"];
    if (method === "DESCRIBE") lines.push("Accept: application/sdp");
    if (opts.authorization !== undefined) lines.push(`Authorization: ${opts.authorization}`);
    const req = new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
    let off = 0;
    while (off < req.length) off += await conn.write(req.subarray(off));

    const dec = new TextDecoder();
    const buf = new Uint8Array(4096);
    let text = "";
    let headEnd = -1;
    let need = Infinity;
    while (text.length < need) {
      const n = await conn.read(buf).catch((e: unknown) => {
        throw new Error(`RTSP ${method} ${clean}: connection failed while reading (${String(e)})`);
      });
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n), { stream: true });
      if (headEnd < 0) {
        headEnd = text.indexOf("\r\n\r\n");
        if (headEnd >= 0) {
          const len = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, headEnd))?.[1];
          need = headEnd + 4 + Number(len ?? 0);
        }
      }
    }
    if (headEnd < 0) {
      throw new Error(`RTSP ${method} ${clean}: no complete reply (got ${JSON.stringify(text)})`);
    }
    const [statusLine = "", ...headerLines] = text.slice(0, headEnd).split("\r\n");
    const m = /^RTSP\/1\.0 (\d{3}) ?(.*)$/.exec(statusLine);
    if (m === null) {
      throw new Error(`RTSP ${method} ${clean}: bad status line ${JSON.stringify(statusLine)}`);
    }
    const headers = headerLines.map((l): [string, string] => {
      const i = l.indexOf(":");
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
    });
    return { status: Number(m[1]), reason: m[2] ?? "", headers, body: text.slice(headEnd + 4) };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timeout */ }
  }
}
