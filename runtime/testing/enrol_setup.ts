/**
 * First boots against real parts, for the simulator's enrolment test and bench/fleet_scale.ts:
 * the shipped broker configuration (runtime/testing/shipped_broker.ts: mutual TLS + the bootstrap
 * listener + the acl) and `deno task fleet enrol` run as its own process (the CLI an operator
 * runs), with an allow-list file, its certificate CN=fleet-enrol and the broker's CA as the fleet
 * CA. The responder's log lines are kept (`lines`).
 */
import { makeClientCertificate, type Mosquitto } from "./mosquitto.ts";
import { startShippedBroker } from "./shipped_broker.ts";

const MAIN = new URL("../fleet_console/main.ts", import.meta.url).pathname;

export interface EnrolSetup extends AsyncDisposable {
  readonly broker: Mosquitto;
  /** The bootstrap listener (mqtts://127.0.0.1:<port>). */
  readonly enrolUrl: string;
  /** The mutual-TLS listener the enrolled boxes use. */
  readonly fleetUrl: string;
  readonly caPem: string;
  readonly bootstrap: { readonly username: string; readonly password: string };
  /** The responder's log, one JSON object a line. */
  readonly lines: readonly string[];
  /** Temp folder (allow-list, responder state), removed on dispose. */
  readonly dir: string;
}

export async function startEnrolSetup(allow: readonly string[]): Promise<EnrolSetup> {
  const password = `bootstrap-${crypto.randomUUID()}`;
  const { broker, enrolPort } = await startShippedBroker(password);
  const dir = await Deno.makeTempDir({ prefix: "nvr-enrol-setup-" });
  const certs = broker.certs!;
  const cert = await makeClientCertificate(certs, "fleet-enrol");
  await Deno.writeTextFile(`${dir}/allow.txt`, allow.join("\n") + "\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "enrol",
      "--broker",
      broker.tlsUrl,
      "--ca",
      certs.caFile,
      "--cert",
      cert.certFile,
      "--key",
      cert.keyFile,
      "--ca-key",
      `${certs.dir}/ca.key`,
      "--allow",
      `${dir}/allow.txt`,
      "--state",
      `${dir}/enrolled.json`,
      "--json",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const ready = Promise.withResolvers<void>();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line.includes("answering enrolment requests")) ready.resolve();
      }
    }
  };
  const reading = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const dispose = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await reading;
    await broker[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  // The responder takes a few seconds to start on a loaded machine (deno compiles main.ts).
  const timer = setTimeout(
    () => ready.reject(new Error(`fleet enrol did not start in 60 s: ${lines.join("\n")}`)),
    60_000,
  );
  child.status.then(() => ready.reject(new Error(`fleet enrol exited: ${lines.join("\n")}`)));
  try {
    await ready.promise;
  } catch (err) {
    await dispose();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return {
    broker,
    enrolUrl: `mqtts://127.0.0.1:${enrolPort}`,
    fleetUrl: broker.tlsUrl,
    caPem: await Deno.readTextFile(certs.caFile),
    bootstrap: { username: "bootstrap", password },
    lines,
    dir,
    [Symbol.asyncDispose]: dispose,
  };
}
