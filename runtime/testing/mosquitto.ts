/**
 * A real Mosquitto broker for tests: started on free 127.0.0.1 ports with a generated config,
 * stopped (SIGTERM), killed (SIGKILL) and restarted on the same ports. Optionally a TLS listener
 * with certificates made by `openssl` in the test (a CA, a server certificate for 127.0.0.1 and
 * localhost, a client certificate), with `require_certificate true` for mutual TLS.
 *
 * Debian package: mosquitto (and openssl for TLS).
 */
import { freePorts } from "../../hw-tests/sim/ports.ts";

export interface MosquittoOptions {
  /** Add a TLS listener. `requireCertificate` (default true) makes it mutual TLS. */
  readonly tls?: { readonly requireCertificate?: boolean };
  /**
   * Keep sessions and queued messages in a persistence file, so that a persistent subscriber's
   * session survives a kill and restart (save it with `saveDb()` before the kill).
   */
  readonly persistence?: boolean;
  /** More config lines, appended as they are. */
  readonly extraConfig?: readonly string[];
}

/** Files of the test PKI; every certificate is valid for two days. */
export interface TestCertificates {
  readonly dir: string;
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** A client certificate signed by a different CA: a broker with mutual TLS must refuse it. */
  readonly foreignCertFile: string;
  readonly foreignKeyFile: string;
}

export class MosquittoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MosquittoError";
  }
}

export class Mosquitto implements AsyncDisposable {
  readonly dir: string;
  readonly port: number;
  readonly tlsPort: number | null;
  readonly certs: TestCertificates | null;
  readonly #configFile: string;
  #child: Deno.ChildProcess | null = null;
  #status: Promise<Deno.CommandStatus> | null = null;

  private constructor(
    dir: string,
    port: number,
    tlsPort: number | null,
    certs: TestCertificates | null,
    configFile: string,
  ) {
    this.dir = dir;
    this.port = port;
    this.tlsPort = tlsPort;
    this.certs = certs;
    this.#configFile = configFile;
  }

  /** Writes a config in a new temp folder and starts the broker; resolves once it accepts. */
  static async start(options: MosquittoOptions = {}): Promise<Mosquitto> {
    const dir = await Deno.makeTempDir({ prefix: "nvr-mosquitto-" });
    try {
      const certs = options.tls ? await makeTestCertificates(`${dir}/pki`) : null;
      return await onFreePorts(options.tls ? 2 : 1, async ([port = 0, tlsPort = 0]) => {
        const lines = [
          `listener ${port} 127.0.0.1`,
          "allow_anonymous true",
          ...(Deno.uid() === 0 ? ["user root"] : []),
          `log_dest file ${dir}/mosquitto.log`,
          "log_type error",
          "log_type warning",
          "log_type notice",
          "log_type information",
          "connection_messages true",
          "log_timestamp_format %H:%M:%S",
          // Tests queue thousands of messages for offline persistent subscribers.
          "max_queued_messages 0",
          ...(options.persistence
            ? ["persistence true", `persistence_location ${dir}/`, "autosave_interval 3600"]
            : ["persistence false"]),
        ];
        if (certs) {
          lines.push(
            `listener ${tlsPort} 127.0.0.1`,
            `cafile ${certs.caFile}`,
            `certfile ${certs.serverCertFile}`,
            `keyfile ${certs.serverKeyFile}`,
            `require_certificate ${options.tls?.requireCertificate ?? true}`,
          );
        }
        lines.push(...(options.extraConfig ?? []));
        const configFile = `${dir}/mosquitto.conf`;
        await Deno.writeTextFile(configFile, lines.join("\n") + "\n");
        const broker = new Mosquitto(dir, port, certs ? tlsPort : null, certs, configFile);
        await broker.restart();
        return broker;
      });
    } catch (err) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw err;
    }
  }

  /**
   * Starts a broker with a config of the caller's (e.g. a shipped one with its paths and port
   * replaced): `render` gets a free port and the test PKI (made in the broker's folder), and
   * returns the config text; log lines are appended so logText() works. The one listener is the
   * TLS one: use `tlsUrl`.
   */
  static async startWithConfig(
    render: (ctx: { dir: string; port: number; certs: TestCertificates }) => string,
    options: { readonly serverAltNames?: readonly string[] } = {},
  ): Promise<Mosquitto> {
    const dir = await Deno.makeTempDir({ prefix: "nvr-mosquitto-" });
    try {
      const certs = await makeTestCertificates(
        `${dir}/pki`,
        undefined,
        options.serverAltNames ?? [],
      );
      return await onFreePorts(1, async ([port = 0]) => {
        const lines = [
          render({ dir, port, certs }),
          ...(Deno.uid() === 0 ? ["user root"] : []),
          `log_dest file ${dir}/mosquitto.log`,
          "log_type all",
          "connection_messages true",
        ];
        const configFile = `${dir}/mosquitto.conf`;
        await Deno.writeTextFile(configFile, lines.join("\n") + "\n");
        const broker = new Mosquitto(dir, port, port, certs, configFile);
        await broker.restart();
        return broker;
      });
    } catch (err) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw err;
    }
  }

  /** `mqtt://127.0.0.1:<port>` */
  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** `mqtts://127.0.0.1:<tlsPort>`; throws when the broker has no TLS listener. */
  get tlsUrl(): string {
    if (this.tlsPort === null) throw new MosquittoError("this broker was started without tls");
    return `mqtts://127.0.0.1:${this.tlsPort}`;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** Starts the broker again with the same config and ports (after stop() or kill()). */
  async restart(): Promise<void> {
    if (this.#child) {
      throw new MosquittoError("mosquitto is already running; stop or kill it first");
    }
    const child = new Deno.Command("mosquitto", {
      args: ["-c", this.#configFile],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    const stderr = new Response(child.stderr).text();
    this.#status = child.status;
    const exited = child.status.then(() => "exited" as const);
    try {
      for (const port of [this.port, ...(this.tlsPort === null ? [] : [this.tlsPort])]) {
        const deadline = Date.now() + 10_000;
        for (;;) {
          if (await Promise.race([exited, Promise.resolve("running" as const)]) === "exited") {
            throw new MosquittoError(
              `mosquitto exited at start: ${(await stderr).trim()} ${await this.logText()}; ` +
                `config ${this.#configFile}`,
            );
          }
          if (await accepts(port)) break;
          if (Date.now() > deadline) {
            throw new MosquittoError(`mosquitto did not listen on 127.0.0.1:${port} within 10 s`);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    } catch (err) {
      await this.#signal("SIGKILL");
      throw err;
    }
    // Keep draining stderr so the broker never blocks on a full pipe.
    stderr.catch(() => {});
  }

  /** Graceful stop (SIGTERM): clients see their connection close; persistence is written. */
  stop(): Promise<void> {
    return this.#signal("SIGTERM");
  }

  /** Abrupt end (SIGKILL): nothing is written, sockets are reset by the kernel. */
  kill(): Promise<void> {
    return this.#signal("SIGKILL");
  }

  /** Writes the persistence file now (SIGUSR1) and waits until it is there. */
  async saveDb(): Promise<void> {
    const file = `${this.dir}/mosquitto.db`;
    const before = await Deno.stat(file).then((s) => s.mtime?.getTime() ?? 0, () => 0);
    this.#child?.kill("SIGUSR1");
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      const now = await Deno.stat(file).then((s) => s.mtime?.getTime() ?? 0, () => 0);
      if (now > before || (before === 0 && now > 0)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    // mtime has a coarse resolution on some filesystems: a same-millisecond save looks unchanged.
    await new Promise((r) => setTimeout(r, 100));
  }

  /** The broker's log so far (connections, disconnections, errors). */
  logText(): Promise<string> {
    return Deno.readTextFile(`${this.dir}/mosquitto.log`).catch(() => "");
  }

  /** Kills the broker if it runs and removes its folder. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  async #signal(signal: Deno.Signal): Promise<void> {
    const child = this.#child;
    if (!child) return;
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    await this.#status;
    this.#child = null;
    this.#status = null;
  }
}

/**
 * Makes a CA, a server certificate for 127.0.0.1 and localhost, a client certificate (CN
 * `clientName`) and a client certificate from another CA, with openssl (EC P-256 keys).
 */
export async function makeTestCertificates(
  dir: string,
  clientName = "nvr-test-device",
  /** More subjectAltName entries for the server, e.g. "IP:10.0.2.100" for a QEMU guest's forward. */
  serverAltNames: readonly string[] = [],
): Promise<TestCertificates> {
  await Deno.mkdir(dir, { recursive: true });
  const f = (name: string) => `${dir}/${name}`;
  const cnf = f("openssl.cnf");
  await Deno.writeTextFile(
    cnf,
    [
      "[req]",
      "distinguished_name=dn",
      "[dn]",
      "[ca]",
      "basicConstraints=critical,CA:TRUE",
      "keyUsage=critical,keyCertSign,cRLSign",
      "subjectKeyIdentifier=hash",
      "[server]",
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${["IP:127.0.0.1", "DNS:localhost", ...serverAltNames].join(",")}`,
      "authorityKeyIdentifier=keyid",
      "[client]",
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=clientAuth",
      "authorityKeyIdentifier=keyid",
      "",
    ].join("\n"),
  );
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const days = ["-days", "2"];
  for (const ca of ["ca", "foreign-ca"]) {
    await openssl(["req", "-config", cnf, "-x509", ...newKey, "-keyout", f(`${ca}.key`)].concat(
      ["-out", f(`${ca}.crt`), ...days, "-subj", `/CN=nvr test ${ca}`, "-extensions", "ca"],
    ));
  }
  const leaf = (name: string, cn: string, ca: string, extensions: string) =>
    signLeaf(dir, name, cn, ca, extensions);
  await leaf("server", "localhost", "ca", "server");
  await leaf("client", clientName, "ca", "client");
  await leaf("foreign", clientName, "foreign-ca", "client");
  return {
    dir,
    caFile: f("ca.crt"),
    serverCertFile: f("server.crt"),
    serverKeyFile: f("server.key"),
    clientCertFile: f("client.crt"),
    clientKeyFile: f("client.key"),
    foreignCertFile: f("foreign.crt"),
    foreignKeyFile: f("foreign.key"),
  };
}

/**
 * Another client certificate (CN `cn`) from the CA of `certs`, e.g. one per device of a broker
 * that takes the CN as the username; the files are `<cn>.crt` and `<cn>.key` in `certs.dir`.
 */
export async function makeClientCertificate(
  certs: TestCertificates,
  cn: string,
): Promise<{ certFile: string; keyFile: string }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(cn)) {
    throw new MosquittoError(`certificate CN ${JSON.stringify(cn)}: use letters, digits, _ . : -`);
  }
  await signLeaf(certs.dir, cn, cn, "ca", "client");
  return { certFile: `${certs.dir}/${cn}.crt`, keyFile: `${certs.dir}/${cn}.key` };
}

/** Makes `<name>.key` and `<name>.crt` in `dir`, signed by `<ca>.crt` there (openssl.cnf). */
async function signLeaf(
  dir: string,
  name: string,
  cn: string,
  ca: string,
  extensions: string,
): Promise<void> {
  const f = (file: string) => `${dir}/${file}`;
  const cnf = f("openssl.cnf");
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(["req", "-config", cnf, ...newKey, "-keyout", f(`${name}.key`)].concat(
    ["-out", f(`${name}.csr`), "-subj", `/CN=${cn}`],
  ));
  await openssl(["x509", "-req", "-in", f(`${name}.csr`), "-CA", f(`${ca}.crt`)].concat(
    ["-CAkey", f(`${ca}.key`), "-CAcreateserial", "-out", f(`${name}.crt`), "-days", "2"],
    ["-extfile", cnf, "-extensions", extensions],
  ));
}

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim();
    throw new MosquittoError(`openssl ${args.join(" ")} failed: ${why}`);
  }
}

async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `start` with `count` free ports (below the ephemeral range: freePorts in
 * hw-tests/sim/ports.ts); when mosquitto finds one taken after all (another test bound it between
 * the choice and the broker's bind), tries again with new ports, up to three times.
 */
async function onFreePorts<T>(count: number, start: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await start(freePorts(count));
    } catch (err) {
      if (attempt >= 3 || !(err instanceof MosquittoError) || !/in use/i.test(err.message)) {
        throw err;
      }
    }
  }
}
