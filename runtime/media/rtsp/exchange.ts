/**
 * One RTSP request on a fresh connection and its answer: what DESCRIBE before a pipeline is built
 * needs (some cameras close the connection after a 401), and what tests use to ask a server one
 * plain question. Sessions that stream keep their connection (session.ts); both share the
 * connection, the message format and the answer parser.
 */
import { connectRtsp } from "./connect.ts";
import { errorMessage, RtspError, RtspTimeoutError } from "./errors.ts";
import { parseAnswerHead, requestText, type RtspAnswer } from "./message.ts";
import { rtspPort, withoutCredentials } from "./url.ts";
import { writeAll } from "../../std/io/write_all.ts";
import { concat } from "../../std/bytes/concat.ts";

export interface ExchangeOptions {
  /** Extra headers, e.g. { Accept: "application/sdp", Authorization: "Basic …" }. */
  readonly headers?: Readonly<Record<string, string>>;
  /** For the whole exchange, connecting included; default 5000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Sends `method` for `url` (credentials in the URL are never sent: pass an Authorization
 * header) and returns the answer, whatever its status. Throws RtspError: kind "connect",
 * "timeout", "not-rtsp", "closed" or "protocol".
 */
export async function rtspExchange(
  url: string | URL,
  method: string,
  options: ExchangeOptions = {},
): Promise<RtspAnswer> {
  const target = new URL(url);
  const shown = withoutCredentials(target);
  const port = rtspPort(target);
  if (port === undefined) {
    throw new RtspError(`${shown}: scheme ${target.protocol} is not rtsp:// or rtsps://`, null, {
      kind: "connect",
    });
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const timedOut = () =>
    new RtspTimeoutError(`${shown}: no answer to ${method} within ${timeoutMs} ms`);
  let conn: Deno.Conn;
  try {
    conn = await connectRtsp(target, port, shown, timeoutMs, signal);
  } catch (err) {
    if (deadline.aborted) throw timedOut();
    throw err;
  }
  const onAbort = () => conn.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await writeAll(conn, new TextEncoder().encode(requestText(method, shown, 1, options.headers)));
    return await readAnswer(conn, shown);
  } catch (err) {
    if (deadline.aborted) throw timedOut();
    if (signal.aborted) throw signal.reason;
    if (err instanceof RtspError) throw err;
    throw new RtspError(`${shown}: ${errorMessage(err)}`, null, { cause: err, kind: "closed" });
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (!signal.aborted) conn.close();
  }
}

async function readAnswer(conn: Deno.Conn, shown: string): Promise<RtspAnswer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buffer = new Uint8Array(16 * 1024);
  for (;;) {
    const all = concat(chunks);
    const text = new TextDecoder("latin1").decode(all.subarray(0, MAX_ANSWER_BYTES));
    const blank = /\r?\n\r?\n/.exec(text);
    if (blank) {
      const head = parseAnswerHead(text.slice(0, blank.index));
      if (!head) throw notRtsp(shown);
      const end = blank.index + blank[0].length;
      const length = Number(head.headers.get("content-length")?.[0] ?? 0);
      if (!Number.isInteger(length) || length < 0 || length > MAX_ANSWER_BYTES) {
        throw new RtspError(`${shown}: the answer announces a body of ${length} bytes`, null, {
          kind: "protocol",
        });
      }
      if (all.length >= end + length) {
        return { ...head, body: new TextDecoder().decode(all.subarray(end, end + length)) };
      }
    } else if (text.length >= 5 && !text.startsWith("RTSP/")) {
      throw notRtsp(shown);
    }
    if (size > MAX_ANSWER_BYTES) {
      throw new RtspError(`${shown}: answer larger than ${MAX_ANSWER_BYTES} bytes`, null, {
        kind: "protocol",
      });
    }
    const n = await conn.read(buffer);
    if (n === null) {
      throw new RtspError(
        size === 0 ? `${shown}: the camera closed the connection` : `${shown}: truncated answer`,
        null,
        { kind: size === 0 ? "closed" : "protocol" },
      );
    }
    chunks.push(buffer.slice(0, n));
    size += n;
  }
}

function notRtsp(shown: string): RtspError {
  return new RtspError(`${shown}: the answer is not RTSP`, null, { kind: "not-rtsp" });
}
