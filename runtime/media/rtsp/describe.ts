/**
 * What an RTSP camera sends, asked before its pipeline is built: one DESCRIBE (Basic or Digest
 * auth, redirects followed) and the SDP's media lines. The recording pipeline needs this up front:
 * splitmuxsink waits for every input it was given, so an audio input must exist only when the
 * camera really has audio. Built on the client's one request path (exchange.ts).
 */
import { authorize } from "./auth.ts";
import { RtspError } from "./errors.ts";
import { rtspExchange } from "./exchange.ts";
import { parseSdp, type SdpMedia } from "./sdp.ts";
import { withoutCredentials } from "./url.ts";

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

const MAX_REDIRECTS = 2;

/**
 * DESCRIBE `url` (credentials in the URL or in options) and parse the SDP. Throws
 * RtspDescribeError: refused, timed out, not RTSP, 401 with no or wrong credentials, no SDP.
 */
export async function describeRtsp(
  url: string,
  options: DescribeOptions = {},
): Promise<SdpMedia[]> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  let target = new URL(url);
  const user = options.user ?? (decodeURIComponent(target.username) || null);
  const password = options.password ?? (decodeURIComponent(target.password) || null);
  let authorization: string | null = null;
  let redirects = 0;
  let challenged = false;
  for (;;) {
    const requestUri = withoutCredentials(target);
    const response = await rtspExchange(target, "DESCRIBE", {
      headers: {
        Accept: "application/sdp",
        ...(authorization ? { Authorization: authorization } : {}),
      },
      timeoutMs,
      signal,
    }).catch((err: unknown) => {
      throw describeError(requestUri, err, signal.aborted);
    });
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

/** The exchange's error as a DESCRIBE error: its kind decides the words, not its message. */
function describeError(uri: string, err: unknown, aborted: boolean): RtspDescribeError {
  if (aborted || (err instanceof RtspError && err.kind === "timeout")) {
    return new RtspDescribeError(uri, "timed out", null, { cause: err });
  }
  if (!(err instanceof RtspError)) {
    return new RtspDescribeError(uri, String(err), null, { cause: err });
  }
  // The client's messages start with the URL; the detail is what follows it.
  const detail = err.message.startsWith(`${uri}: `)
    ? err.message.slice(uri.length + 2)
    : err.message;
  return new RtspDescribeError(uri, detail, err.status, { cause: err });
}
