/** The connection under every RTSP request: TCP, or TLS for rtsps://, within a time limit. */
import { errorMessage, RtspError, RtspTimeoutError } from "./errors.ts";

/**
 * Connects to `url` (its host, `port`); for rtsps:// the TLS handshake is done here, against the
 * system's roots and `caCerts` (PEM), so an untrusted certificate fails at connect with an error
 * that says how to trust it. Never accepts a certificate it cannot verify. Throws
 * RtspTimeoutError after `timeoutMs`, RtspError (kind "connect") when refused, unreachable or
 * untrusted, or the signal's reason when it aborts.
 */
export async function connectRtsp(
  url: URL,
  port: number,
  shown: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  caCerts: readonly string[] = [],
): Promise<Deno.Conn> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const connecting: Promise<Deno.Conn> = url.protocol === "rtsps:"
    ? handshake(Deno.connectTls({ hostname, port, caCerts: [...caCerts] }))
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
    const untrusted = certificateProblem(errorMessage(err), hostname, caCerts.length > 0);
    if (untrusted !== null) {
      throw new RtspError(`${shown}: ${untrusted}`, null, { cause: err, kind: "connect" });
    }
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

async function handshake(connecting: Promise<Deno.TlsConn>): Promise<Deno.Conn> {
  const conn = await connecting;
  try {
    await conn.handshake();
    return conn;
  } catch (err) {
    conn.close();
    throw err;
  }
}

/** What to do about a certificate the TLS handshake refused, or null if it was not that. */
function certificateProblem(detail: string, hostname: string, caGiven: boolean): string | null {
  if (!/certificate|UnknownIssuer|BadSignature|NotValidForName|Expired/i.test(detail)) return null;
  if (/NotValidForName/i.test(detail)) {
    return `the camera's TLS certificate is not made out for "${hostname}" (${detail}); put ` +
      "the name the certificate carries in cameras[].url";
  }
  if (/CaUsedAsEndEntity/i.test(detail)) {
    return `the camera's self-signed TLS certificate is marked as a CA (CA:TRUE), which TLS ` +
      `refuses as a server's certificate (${detail}); give the camera a certificate with CA:FALSE ` +
      "(self-signed, or signed by a CA of yours) and put it or its CA in cameras[].caFile";
  }
  if (/Expired|NotValidYet/i.test(detail)) {
    return `the camera's TLS certificate is expired or not valid yet (${detail}); renew it on ` +
      "the camera or check the NVR's clock";
  }
  return `the camera's TLS certificate is not trusted (${detail}); ` +
    (caGiven
      ? "it is not signed by the CA in cameras[].caFile: put the CA that signed it there"
      : "put the CA that signed it (or the camera's own self-signed certificate) in a PEM file " +
        "and set cameras[].caFile to its path");
}
