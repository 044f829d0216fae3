/** The connection under every RTSP request: TCP, or TLS for rtsps://, within a time limit. */
import { errorMessage, RtspError, RtspTimeoutError } from "./errors.ts";

/**
 * Connects to `url` (its host, `port`). Throws RtspTimeoutError after `timeoutMs`, RtspError
 * (kind "connect") when refused or unreachable, or the signal's reason when it aborts.
 */
export async function connectRtsp(
  url: URL,
  port: number,
  shown: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Deno.Conn> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const connecting: Promise<Deno.Conn> = url.protocol === "rtsps:"
    ? Deno.connectTls({ hostname, port })
    : Deno.connect({ hostname, port });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = () => {};
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RtspTimeoutError(
            `${shown}: cannot connect within ${timeoutMs} ms; check the address in ` +
              "cameras[].url and that the camera is on the network",
          ),
        ),
      timeoutMs,
    );
    onAbort = () => reject(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([connecting, stop]);
  } catch (err) {
    // A connection that opens after the timeout must still be closed.
    connecting.then((c) => c.close(), () => {});
    if (err instanceof RtspError || signal?.aborted) throw err;
    throw new RtspError(
      `${shown}: cannot connect: ${errorMessage(err)}; check the address in cameras[].url and ` +
        "that the camera is on the network",
      null,
      { cause: err, kind: "connect" },
    );
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    stop.catch(() => {});
  }
}
