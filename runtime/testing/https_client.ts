/**
 * HTTPS to a real daemon in tests: trusts the daemon's own certificate (its PEM, or
 * `<dataDir>/tls/cert.pem` for a daemon in another process) and nothing else. Dispose it to
 * close the client (--trace-leaks counts it).
 */
import type { Daemon } from "../app/daemon.ts";

export interface DaemonHttps extends Disposable {
  /** "https://127.0.0.1:<port>" */
  readonly base: string;
  readonly client: Deno.HttpClient;
  /** fetch(base + path) through the trusting client. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export function httpsClient(certPem: string, port: number, host = "127.0.0.1"): DaemonHttps {
  const client = Deno.createHttpClient({ caCerts: [certPem] });
  const base = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return {
    base,
    client,
    fetch: (path, init = {}) => fetch(base + path, { ...init, client }),
    [Symbol.dispose]: () => client.close(),
  };
}

/** For a daemon started in this process (daemon_harness.ts). */
export function daemonHttps(daemon: Pick<Daemon, "listen" | "tls">): DaemonHttps {
  if (!daemon.tls) throw new Error("the daemon serves no HTTPS (http.tls is off)");
  return httpsClient(daemon.tls.certPem, daemon.listen.port);
}

/** For a daemon in another process: its certificate from its data folder. */
export async function dataDirHttps(dataDir: string, port: number): Promise<DaemonHttps> {
  return httpsClient(await Deno.readTextFile(`${dataDir}/tls/cert.pem`), port);
}
