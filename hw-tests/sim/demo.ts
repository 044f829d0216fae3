/**
 * `make run`: a local Mosquitto, two virtual H.265 cameras and the daemon on the demo config,
 * all in the foreground. Ctrl-C (or SIGTERM) stops the daemon first, so it finishes its open
 * segments, then the cameras and the broker.
 */
import { startVirtualCamera, type VirtualCamera } from "./virtual_camera.ts";
import { fingerprintPem } from "../../runtime/tls/self_signed.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CONFIG = `${ROOT}hw-tests/sim/demo.config.json`;
const DEMO_DIR = `${ROOT}.demo`;
const BROKER_PORT = 18830;
const CAMERAS = [
  { name: "demo1", rtspPort: 18554, onvifPort: 18081, serial: "SIM-0001" },
  { name: "demo2", rtspPort: 18555, onvifPort: 18082, serial: "SIM-0002" },
];

function say(text: string): void {
  console.error(`[demo] ${text}`);
}

async function waitForPort(port: number, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${what} did not open port ${port}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

async function startBroker(): Promise<Deno.ChildProcess> {
  if (!(portFree(BROKER_PORT))) {
    throw new Error(`port ${BROKER_PORT} is taken: is another demo running? Stop it first.`);
  }
  const conf = `${DEMO_DIR}/mosquitto.conf`;
  await Deno.writeTextFile(
    conf,
    `listener ${BROKER_PORT} 127.0.0.1\nallow_anonymous true\npersistence false\n` +
      "log_dest stderr\nlog_type error\nlog_type warning\n",
  );
  const broker = new Deno.Command("mosquitto", {
    args: ["-c", conf],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitForPort(BROKER_PORT, "mosquitto");
  return broker;
}

/**
 * First-run setup needs the one-time code the daemon prints ("setup code: …"); it is also kept
 * in the data folder until setup is done, and read from there once the web page is up.
 */
async function showSetupCode(): Promise<void> {
  try {
    await waitForPort(8080, "the NVR daemon", 60_000);
  } catch {
    say("the web page did not open on port 8080; see the daemon's log above");
    return;
  }
  try {
    const code = (await Deno.readTextFile(`${DEMO_DIR}/data/setup-code`)).trim();
    say(`open https://127.0.0.1:8080/ and set up with the setup code: ${code}`);
    say(`(it is also in ${DEMO_DIR}/data/setup-code until setup is done)`);
  } catch {
    say("already set up: log in at https://127.0.0.1:8080/ (no setup code needed)");
  }
}

async function main(): Promise<number> {
  await Deno.mkdir(`${DEMO_DIR}/data`, { recursive: true });
  for (const cam of CAMERAS) {
    if (!(portFree(cam.rtspPort))) {
      say(`port ${cam.rtspPort} is taken: is another demo running? Stop it first.`);
      return 1;
    }
  }
  say("starting Mosquitto on 127.0.0.1:" + BROKER_PORT);
  const broker = await startBroker();
  const cameras: VirtualCamera[] = [];
  let daemon: Deno.ChildProcess | null = null;
  try {
    for (const cam of CAMERAS) {
      say(
        `starting virtual camera ${cam.name} (H.265 1280x720 15 fps) on rtsp://127.0.0.1:${cam.rtspPort}/main`,
      );
      cameras.push(
        await startVirtualCamera({
          ...cam,
          codec: "h265",
          width: 1280,
          height: 720,
          fps: 15,
          bitrateKbps: 1000,
          model: "SimCam-1",
          manufacturer: "NVR Sim",
        }),
      );
    }
    daemon = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        `${ROOT}runtime/main.ts`,
        "--config",
        CONFIG,
      ],
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    say("NVR daemon started: https://127.0.0.1:8080/ — recordings in .demo/data/recordings/");
    void showSetupCode();
    // The page is HTTPS with the box's own certificate (made at its first start): the browser
    // warns once; check that it shows this fingerprint before accepting it.
    const certFile = `${DEMO_DIR}/data/tls/cert.pem`;
    const deadline = Date.now() + 15_000;
    let cert: string | null = null;
    while (cert === null && Date.now() < deadline) {
      cert = await Deno.readTextFile(certFile).catch(() => null);
      if (cert === null) await new Promise((r) => setTimeout(r, 100));
    }
    say(
      cert
        ? `https certificate sha256: ${await fingerprintPem(cert)}`
        : `no certificate in ${certFile} yet; the daemon's log line "https certificate sha256" has it`,
    );
    say("press Ctrl-C to stop everything");

    const stop = Promise.withResolvers<void>();
    const onSignal = () => stop.resolve();
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
    const ended = await Promise.race([daemon.status.then(() => "daemon"), stop.promise]);
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    if (ended === "daemon") {
      say("the daemon exited on its own; stopping the demo");
      return 1;
    }
    return 0;
  } finally {
    say("stopping");
    if (daemon) {
      try {
        daemon.kill("SIGTERM");
      } catch { /* already gone */ }
      await daemon.status;
    }
    await Promise.all(cameras.map((c) => c.stop()));
    try {
      broker.kill("SIGTERM");
    } catch { /* already gone */ }
    await broker.status;
    say("stopped");
  }
}

if (import.meta.main) Deno.exit(await main());
