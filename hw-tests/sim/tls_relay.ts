/**
 * A TLS-terminating relay in front of a plain RTSP server, so tests and the bench have an
 * rtsps:// camera: the virtual camera's gst-rtsp-server could serve TLS itself
 * (gst_rtsp_auth_set_tls_certificate), but that needs GTlsCertificate from GIO over FFI; a
 * relay is a few lines and exercises the same client path (TLS, RTP interleaved inside it).
 *
 *   await using relay = await startTlsRelay({ target: 8554, certFile, keyFile });
 *   // rtsps://127.0.0.1:${relay.port}/main
 */
import { relayTo } from "./relay_conn.ts";

export interface TlsRelayOptions {
  /** The plain RTSP port on 127.0.0.1 to forward to. */
  readonly target: number;
  readonly certFile: string;
  readonly keyFile: string;
  /** Default 0: a free port. */
  readonly port?: number;
}

export interface TlsRelay extends AsyncDisposable {
  readonly port: number;
  /** rtsps://127.0.0.1:PORT + path. */
  urlFor(path: string): string;
  /** Connections accepted so far (a refused handshake counts too). */
  readonly accepted: number;
}

export async function startTlsRelay(options: TlsRelayOptions): Promise<TlsRelay> {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    cert: await Deno.readTextFile(options.certFile),
    key: await Deno.readTextFile(options.keyFile),
  });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = new Set<Deno.Conn>();
  const pipes = new Set<Promise<void>>();
  let accepted = 0;
  const track = (p: Promise<void>) => {
    pipes.add(p);
    p.finally(() => pipes.delete(p));
  };
  const relay = async (client: Deno.TlsConn) => {
    try {
      await client.handshake();
    } catch {
      /* the client refused our certificate, or went away */
      open.delete(client);
      try {
        client.close();
      } catch { /* already closed */ }
      return;
    }
    await relayTo(client, options.target, open);
  };
  const accepting = (async () => {
    for (;;) {
      let client: Deno.TlsConn;
      try {
        client = await listener.accept();
      } catch {
        return; // closed
      }
      accepted++;
      open.add(client);
      track(relay(client));
    }
  })();
  return {
    port,
    urlFor: (path) => `rtsps://127.0.0.1:${port}${path}`,
    get accepted() {
      return accepted;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const c of open) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await Promise.all(pipes);
    },
  };
}
