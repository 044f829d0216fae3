/**
 * The LAN listener's transport: which certificate HTTPS uses (http.tls), and the plain-HTTP
 * listener that only redirects to HTTPS and answers /healthz (http.redirectListen).
 */
import type { HttpConfig } from "../config/types.ts";
import type { Logger } from "../lib/log.ts";
import { certificateFiles, deviceCertificate, type ServerCertificate } from "../tls/device_cert.ts";
import { isIp, makeSelfSignedCertificate } from "../tls/self_signed.ts";
import { errorBody } from "./errors.ts";
import { normalHost } from "./own_names.ts";

/**
 * The certificate for http.tls, or null for "off". "auto" makes the device certificate once in
 * `<dataDir>/tls/`; while the data folder cannot be written, one in memory that lasts this run
 * (said in the log, since its fingerprint changes).
 */
export async function listenerCertificate(
  http: HttpConfig,
  o: {
    dataDir: string;
    diskReady: boolean;
    names: Iterable<string>;
    commonName: string;
    log: Logger;
  },
): Promise<ServerCertificate | null> {
  if (http.tls === "off") {
    o.log.warn("http.tls is off: passwords and cookies cross the LAN readable", { module: "api" });
    return null;
  }
  if (http.tls === "files") return await certificateFiles(http.certFile!, http.keyFile!);
  const names = [...o.names];
  if (o.diskReady) {
    return await deviceCertificate(`${o.dataDir}/tls`, { commonName: o.commonName, names });
  }
  o.log.warn(
    "data folder unavailable: HTTPS uses a certificate for this run only; its fingerprint " +
      "changes at the next start",
    { module: "api" },
  );
  const made = await makeSelfSignedCertificate({
    commonName: o.commonName,
    dnsNames: names.filter((n) => !isIp(n) && /^[A-Za-z0-9.-]+$/.test(n)),
    ipAddresses: names.filter(isIp),
  });
  return { ...made, certFile: "(memory)", created: true };
}

/** "host:port" → [host without brackets, port]. */
export function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(":");
  return [listen.slice(0, i).replace(/^\[(.*)\]$/, "$1"), listen.slice(i + 1)];
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/**
 * Plain HTTP that serves nothing in clear: /healthz, and a 308 to the same path on the HTTPS
 * port for the box's own names (421 for others: no redirect to a rebound name).
 */
export function serveRedirect(o: {
  listen: string;
  httpsPort: number;
  allowedHosts: () => ReadonlySet<string>;
  healthz: (request: Request) => Response | Promise<Response>;
  signal: AbortSignal;
}): Deno.HttpServer<Deno.NetAddr> {
  const [hostname, port] = splitListen(o.listen);
  const options = { hostname, port: Number(port), signal: o.signal, onListen: () => {} };
  return Deno.serve(options, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/healthz") return o.healthz(req);
    const host = req.headers.get("host") ?? "";
    let name: string | null = null;
    try {
      if (HOST.test(host)) name = new URL(`http://${host}`).hostname;
    } catch { /* refused below */ }
    if (name === null || !o.allowedHosts().has(normalHost(name))) {
      return Response.json(
        errorBody(
          "host_not_allowed",
          `Host '${host.slice(0, 100)}' is not a name of this recorder; add it to ` +
            "http.allowedHosts in the config",
        ),
        { status: 421 },
      );
    }
    const location = `https://${name}:${o.httpsPort}${url.pathname}${url.search}`;
    return new Response(null, { status: 308, headers: { location } });
  });
}
