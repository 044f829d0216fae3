/** Errors of the RTSP client, with a kind to branch on (never the message text). */

/**
 * What went wrong: "connect" (refused, unreachable, TLS), "timeout", "not-rtsp" (the port speaks
 * something else), "closed" (the camera closed the connection), "status" (an error answer; see
 * `status`), "protocol" (a malformed or oversized answer, garbage on the stream).
 */
export type RtspErrorKind = "connect" | "timeout" | "not-rtsp" | "closed" | "status" | "protocol";

export class RtspError extends Error {
  /** The RTSP status when the camera answered with an error, e.g. 401. */
  readonly status: number | null;
  readonly kind: RtspErrorKind;
  constructor(
    message: string,
    status: number | null = null,
    options?: ErrorOptions & { kind?: RtspErrorKind },
  ) {
    super(message, options);
    this.name = "RtspError";
    this.status = status;
    this.kind = options?.kind ?? (status !== null ? "status" : "protocol");
  }
}

/** Connecting, a request, or the stream while playing took longer than timeoutMs. */
export class RtspTimeoutError extends RtspError {
  constructor(message: string) {
    super(message, null, { kind: "timeout" });
    this.name = "RtspTimeoutError";
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
