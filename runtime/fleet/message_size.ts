/**
 * The run-time guard that no JSON message of the link is larger than a managed broker takes
 * (AWS IoT Core: 128 KB, broker_limits.ts). Two messages echo data that grows with the
 * configuration and get a smaller form instead of being lost: `config/reported` goes without its
 * `config` echo (null: the fleet has the version it sent; the box's page shows the rest), a
 * `cmd-result` (get-config of a huge configuration) becomes a `too-large` error that says so.
 * Anything else over the limit is refused with an error naming the topic and the size; the
 * durable queue is capped at the same size, so nothing larger can reach the broker.
 */
import { AWS_IOT_LIMITS } from "./broker_limits.ts";

export const MAX_MESSAGE_BYTES = AWS_IOT_LIMITS.maxPayloadBytes;

export class MessageTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MessageTooLargeError";
  }
}

const encoder = new TextEncoder();

/** The answer to a command whose result would be `bytes` long, over the limit. */
export function tooLargeResult(
  cmd: string | null,
  bytes: number,
  max = MAX_MESSAGE_BYTES,
): { cmd: string | null; ok: false; code: "too-large"; error: string } {
  return {
    cmd,
    ok: false,
    code: "too-large",
    error: `the result is ${bytes} bytes, over the ${max} a managed broker (AWS IoT Core) ` +
      "takes; ask for less (a get-config this large: read the configuration on the box's page)",
  };
}

/**
 * Encodes `{seq, ts, ...body}` for `topic`, shrunk as above when it is over `max` bytes; throws
 * MessageTooLargeError when it cannot be.
 */
export function encodeWithin(
  topic: string,
  head: { seq: number; ts: number },
  body: Readonly<Record<string, unknown>>,
  max = MAX_MESSAGE_BYTES,
): Uint8Array {
  const full = encoder.encode(JSON.stringify({ ...head, ...body }));
  if (full.byteLength <= max) return full;
  let smaller: Record<string, unknown> | null = null;
  const why = `${full.byteLength} bytes, over the ${max} a managed broker (AWS IoT Core) takes`;
  if (topic.endsWith("/config/reported") && "config" in body) {
    smaller = { ...body, config: null };
  } else if (topic.includes("/cmd-result/")) {
    const cmd = typeof body.cmd === "string" ? body.cmd : null;
    smaller = { requestId: body.requestId, ...tooLargeResult(cmd, full.byteLength, max) };
  }
  const out = smaller ? encoder.encode(JSON.stringify({ ...head, ...smaller })) : full;
  if (out.byteLength <= max) return out;
  throw new MessageTooLargeError(
    `fleet message for ${topic} is ${why}; not sent. Keep what it carries smaller (e.g. shorter ` +
      "event details from a plugin) or report this with the topic",
  );
}
