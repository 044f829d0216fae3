/**
 * What an RTSP camera sends, asked before its pipeline is built: one DESCRIBE (Basic or Digest
 * auth, redirects followed) and the SDP's media lines. The recording pipeline needs this up front:
 * splitmuxsink waits for every input it was given, so an audio input must exist only when the
 * camera really has audio.
 */
import { createHash } from "node:crypto";
import { writeAll } from "../../std/io/write_all.ts";
import { concat } from "../../std/bytes/concat.ts";

/** One `m=` section of the SDP. */
export interface SdpMedia {
  /** "video", "audio", "application", … */
  readonly media: string;
  /** The first payload type of the `m=` line. */
  readonly payloadType: number;
  /** RTP encoding name in upper case ("H265", "MPEG4-GENERIC", "PCMA"), "" when unknown. */
  readonly encoding: string;
  readonly clockRate: number | null;
  readonly channels: number | null;
  /** The `a=fmtp` parameters of that payload type, e.g. "mode=AAC-hbr;config=1408". */
  readonly fmtp: string;
  /** From the camera's side: "recvonly" is a back channel (audio to the camera's speaker). */
  readonly direction: "sendrecv" | "sendonly" | "recvonly" | "inactive";
  /** The media's `a=control:` URL as written (relative or absolute, "*"), null when absent. */
  readonly control: string | null;
}

export class RtspDescribeError extends Error {
  /** The RTSP status when the camera answered, e.g. 401. */
  readonly status: number | null;
  constructor(url: string, detail: string, status: number | null = null, options?: ErrorOptions) {
    super(`RTSP DESCRIBE ${url}: ${detail}`, options);
    this.name = "RtspDescribeError";
    this.status = status;
  }
}

export interface DescribeOptions {
  readonly user?: string | null;
  readonly password?: string | null;
  /** For the whole exchange, default 3000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Static RTP payload types a camera may send without an rtpmap line (RFC 3551). */
const STATIC_PAYLOADS: Readonly<Record<number, [string, number, number]>> = {
  0: ["PCMU", 8000, 1],
  8: ["PCMA", 8000, 1],
  14: ["MPA", 90000, 1],
  26: ["JPEG", 90000, 1],
};
const MAX_RESPONSE_BYTES = 64 * 1024;
const MAX_REDIRECTS = 2;
const DEFAULT_PORTS: Record<string, number> = { "rtsp:": 554, "rtsps:": 322 };

/**
 * DESCRIBE `url` (credentials in the URL or in options) and parse the SDP. Throws
 * RtspDescribeError: refused, timed out, not RTSP, 401 with no or wrong credentials, no SDP.
 */
export async function describeRtsp(
  url: string,
  options: DescribeOptions = {},
): Promise<SdpMedia[]> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), options.timeoutMs ?? 3000);
  const signal = options.signal
    ? AbortSignal.any([options.signal, deadline.signal])
    : deadline.signal;
  try {
    return await describeWithin(new URL(url), options, signal);
  } finally {
    clearTimeout(timer);
  }
}

async function describeWithin(
  url: URL,
  options: DescribeOptions,
  signal: AbortSignal,
): Promise<SdpMedia[]> {
  let target = url;
  const user = options.user ?? (decodeURIComponent(target.username) || null);
  const password = options.password ?? (decodeURIComponent(target.password) || null);
  let authorization: string | null = null;
  let cseq = 1;
  let redirects = 0;
  let challenged = false;
  for (;;) {
    const requestUri = withoutCredentials(target);
    const request = describeRequest(requestUri, cseq++, authorization);
    const response = await exchange(target, request, { signal, shown: requestUri });
    if (response.status === 200) {
      if (!/application\/sdp/i.test(response.headers.get("content-type")?.[0] ?? "")) {
        throw new RtspDescribeError(requestUri, "the answer is not an SDP", 200);
      }
      return parseSdp(response.body);
    }
    if (response.status === 401 && !challenged) {
      challenged = true;
      if (user === null) {
        throw new RtspDescribeError(requestUri, "401 Unauthorized: no credentials given", 401);
      }
      authorization = authorize(response.headers.get("www-authenticate") ?? [], {
        user,
        password: password ?? "",
        method: "DESCRIBE",
        uri: requestUri,
      });
      if (authorization === null) {
        throw new RtspDescribeError(requestUri, "401 without a Basic or Digest challenge", 401);
      }
      continue;
    }
    const location = response.headers.get("location")?.[0];
    if (response.status >= 300 && response.status < 400 && location && redirects < MAX_REDIRECTS) {
      redirects++;
      const next = new URL(location, target);
      if (!next.username && target.username) {
        next.username = target.username;
        next.password = target.password;
      }
      target = next;
      challenged = false;
      authorization = null;
      continue;
    }
    throw new RtspDescribeError(
      requestUri,
      `${response.status} ${response.reason}`.trim(),
      response.status,
    );
  }
}

/** The `m=` sections of an SDP, each with its first payload type's rtpmap, fmtp and direction. */
export function parseSdp(text: string): SdpMedia[] {
  const sections: { media: string; payloadType: number; attrs: string[] }[] = [];
  const session: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const m = /^m=(\S+)\s+\S+\s+\S+\s+(\d+)/.exec(line);
    if (m) {
      sections.push({ media: m[1] ?? "", payloadType: Number(m[2]), attrs: [] });
      continue;
    }
    if (!line.startsWith("a=")) continue;
    (sections.at(-1)?.attrs ?? session).push(line.slice(2));
  }
  const direction = (attrs: string[]) =>
    attrs.find((a) => /^(sendrecv|sendonly|recvonly|inactive)$/.test(a)) as
      | SdpMedia["direction"]
      | undefined;
  const sessionDirection = direction(session) ?? "sendrecv";
  return sections.map(({ media, payloadType, attrs }) => {
    const value = (name: string) => {
      const prefix = `${name}:${payloadType} `;
      return attrs.find((a) => a.startsWith(prefix))?.slice(prefix.length).trim() ?? null;
    };
    const rtpmap = value("rtpmap")?.split("/");
    const fixed = STATIC_PAYLOADS[payloadType];
    const [encoding, clock, channels] = rtpmap
      ? [rtpmap[0] ?? "", Number(rtpmap[1]) || null, Number(rtpmap[2]) || null]
      : fixed ?? ["", null, null];
    return {
      media,
      payloadType,
      encoding: encoding.toUpperCase(),
      clockRate: clock,
      channels: channels ?? (media === "audio" && clock !== null ? 1 : null),
      fmtp: value("fmtp") ?? "",
      direction: direction(attrs) ?? sessionDirection,
      control: attrs.find((a) => a.startsWith("control:"))?.slice(8).trim() ?? null,
    };
  });
}

interface Response {
  readonly status: number;
  readonly reason: string;
  /** Lower-case names; a header may come more than once (WWW-Authenticate). */
  readonly headers: Map<string, string[]>;
  readonly body: string;
}

function describeRequest(uri: string, cseq: number, authorization: string | null): string {
  return [
    `DESCRIBE ${uri} RTSP/1.0`,
    `CSeq: ${cseq}`,
    "Accept: application/sdp",
    "User-Agent: nvr",
    ...(authorization ? [`Authorization: ${authorization}`] : []),
    "",
    "",
  ].join("\r\n");
}

/** One request on a fresh connection (some cameras close it after a 401), one response. */
async function exchange(
  target: URL,
  request: string,
  ctx: { signal: AbortSignal; shown: string },
): Promise<Response> {
  const fail = (detail: string, cause?: unknown) =>
    new RtspDescribeError(ctx.shown, detail, null, cause === undefined ? undefined : { cause });
  const port = Number(target.port) || DEFAULT_PORTS[target.protocol];
  if (port === undefined) throw fail(`scheme ${target.protocol} is not RTSP`);
  if (ctx.signal.aborted) throw fail("timed out");
  const hostname = target.hostname.replace(/^\[(.*)\]$/, "$1");
  const connecting: Promise<Deno.Conn> = target.protocol === "rtsps:"
    ? Deno.connectTls({ hostname, port })
    : Deno.connect({ hostname, port });
  let conn: Deno.Conn;
  try {
    conn = await untilAborted(connecting, ctx.signal);
  } catch (err) {
    // A connection that opens after the timeout must still be closed.
    connecting.then((c) => c.close(), () => {});
    throw ctx.signal.aborted ? fail("timed out") : fail(`cannot connect: ${message(err)}`, err);
  }
  const onAbort = () => conn.close();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    await writeAll(conn, new TextEncoder().encode(request));
    return await readResponse(conn, fail);
  } catch (err) {
    if (err instanceof RtspDescribeError) throw err;
    throw ctx.signal.aborted ? fail("timed out") : fail(message(err), err);
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    if (!ctx.signal.aborted) conn.close();
  }
}

/** `promise`, or a rejection as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(new Error("aborted"));
    signal.addEventListener("abort", stop, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
  });
}

async function readResponse(
  conn: Deno.Conn,
  fail: (detail: string) => RtspDescribeError,
): Promise<Response> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let head: { status: number; reason: string; headers: Map<string, string[]>; end: number } | null =
    null;
  const buffer = new Uint8Array(16 * 1024);
  for (;;) {
    const all = concat(chunks);
    if (!head) head = parseHead(all, fail);
    if (head) {
      const length = Number(head.headers.get("content-length")?.[0] ?? 0);
      if (all.length >= head.end + length) {
        const body = new TextDecoder().decode(all.subarray(head.end, head.end + length));
        return { status: head.status, reason: head.reason, headers: head.headers, body };
      }
    }
    if (size > MAX_RESPONSE_BYTES) throw fail(`answer larger than ${MAX_RESPONSE_BYTES} bytes`);
    const n = await conn.read(buffer);
    if (n === null) {
      throw fail(size === 0 ? "the camera closed the connection" : "truncated answer");
    }
    chunks.push(buffer.slice(0, n));
    size += n;
  }
}

function parseHead(
  bytes: Uint8Array,
  fail: (detail: string) => RtspDescribeError,
): { status: number; reason: string; headers: Map<string, string[]>; end: number } | null {
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, MAX_RESPONSE_BYTES));
  const blank = /\r?\n\r?\n/.exec(text);
  if (!blank) {
    if (text.length >= 5 && !text.startsWith("RTSP/")) throw fail("the answer is not RTSP");
    return null;
  }
  const [statusLine = "", ...lines] = text.slice(0, blank.index).split(/\r?\n/);
  const status = /^RTSP\/\d\.\d\s+(\d{3})\s*(.*)$/.exec(statusLine);
  if (!status) throw fail("the answer is not RTSP");
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...headers.get(name) ?? [], line.slice(colon + 1).trim()]);
  }
  return {
    status: Number(status[1]),
    reason: status[2] ?? "",
    headers,
    end: blank.index + blank[0].length,
  };
}

interface Credentials {
  readonly user: string;
  readonly password: string;
  readonly method: string;
  readonly uri: string;
  /** Client nonce for qop=auth; default random (tests fix it). */
  readonly cnonce?: string;
}

/** The Authorization header for the strongest challenge offered (Digest, then Basic), or null. */
export function authorize(challenges: readonly string[], creds: Credentials): string | null {
  const digest = challenges.find((c) => /^digest\s/i.test(c));
  if (digest) return digestAuthorization(challengeParams(digest), creds);
  if (challenges.some((c) => /^basic(\s|$)/i.test(c))) {
    return `Basic ${
      btoa(String.fromCharCode(...new TextEncoder().encode(`${creds.user}:${creds.password}`)))
    }`;
  }
  return null;
}

/** RFC 2617 Digest with MD5, with qop=auth when the camera offers it. */
function digestAuthorization(params: Map<string, string>, creds: Credentials): string | null {
  const realm = params.get("realm") ?? "";
  const nonce = params.get("nonce");
  if (nonce === undefined) return null;
  const algorithm = params.get("algorithm");
  if (algorithm !== undefined && algorithm.toUpperCase() !== "MD5") return null;
  const md5 = (s: string) => createHash("md5").update(s).digest("hex");
  const ha1 = md5(`${creds.user}:${realm}:${creds.password}`);
  const ha2 = md5(`${creds.method}:${creds.uri}`);
  const qop = (params.get("qop") ?? "").split(",").map((q) => q.trim()).includes("auth")
    ? "auth"
    : null;
  const fields: [string, string, boolean][] = [
    ["username", creds.user, true],
    ["realm", realm, true],
    ["nonce", nonce, true],
    ["uri", creds.uri, true],
  ];
  let response: string;
  if (qop) {
    const nc = "00000001";
    const cnonce = creds.cnonce ?? crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    response = md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
    fields.push(["qop", qop, false], ["nc", nc, false], ["cnonce", cnonce, true]);
  } else {
    response = md5(`${ha1}:${nonce}:${ha2}`);
  }
  fields.push(["response", response, true]);
  const opaque = params.get("opaque");
  if (opaque !== undefined) fields.push(["opaque", opaque, true]);
  if (algorithm !== undefined) fields.push(["algorithm", algorithm, false]);
  return "Digest " +
    fields.map(([k, v, quoted]) => `${k}=${quoted ? `"${v.replaceAll('"', '\\"')}"` : v}`).join(
      ", ",
    );
}

/** `Digest realm="x", nonce="y", qop="auth"` → realm, nonce, qop. */
function challengeParams(challenge: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g;
  for (const m of challenge.replace(/^\S+\s*/, "").matchAll(re)) {
    params.set((m[1] ?? "").toLowerCase(), (m[2] ?? m[3] ?? "").replace(/\\(.)/g, "$1"));
  }
  return params;
}

function withoutCredentials(url: URL): string {
  const copy = new URL(url.href);
  copy.username = "";
  copy.password = "";
  return copy.href;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
