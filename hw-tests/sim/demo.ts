/**
 * `make run`: a local Mosquitto, two virtual cameras (one H.265, one H.264, each with an H.264
 * sub-stream, so live view, playback and export all work in a browser) and the daemon on the demo
 * config, all in the foreground, plus a virtual serial sensor (temperature, humidity, a door contact
 * that opens for a while every two minutes) read by the serial-sensor plugin (plugins/), so its
 * readings show on the page's Plugins screen and in `health.plugins` on MQTT, and each opening
 * raises a `sensor-alarm` in the events and on the timeline. Once the page answers it prints where to go: the page on the
 * address the daemon really listens on (its "listening" log line), the setup code, the device id
 * (its "identity" line) and how to watch the fleet topics. Ctrl-C (or SIGTERM) stops the daemon
 * first, so it finishes its open segments and says goodbye to the broker, then the cameras and the
 * broker; the demo then exits 0 (see foreground.ts for why make does not see the Ctrl-C).
 *
 * For a test beside other work (demo_test.ts): NVR_DEMO_DIR puts the demo's folder elsewhere than
 * `.demo/`, NVR_DEMO_PORTS=free picks free ports for the broker and the cameras (the config is then
 * a copy in that folder with those ports), and NVR_LISTEN moves the page as for the daemon.
 */
import { startVirtualCamera, type VirtualCamera } from "./virtual_camera.ts";
import { takeTerminal } from "./foreground.ts";
import { fingerprintPem } from "../../runtime/tls/self_signed.ts";
import { type SerialSensor, startSerialSensor } from "./serial_sensor.ts";
import { DEMO_DEV_ROOT, DEMO_DIR } from "./demo_daemon.ts";
import { installFromFolder } from "../../runtime/plugins/install.ts";
import { freePorts } from "./ports.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CONFIG = `${ROOT}hw-tests/sim/demo.config.json`;
/** NVR_DEMO_PORTS=free: every port chosen free (a test); otherwise the fixed ones below. */
const FREE = Deno.env.get("NVR_DEMO_PORTS") === "free";
const PICKED = FREE ? freePorts(5) : [];
const BROKER_PORT = PICKED[0] ?? 18830;
/** The door opens this long after the start, then every DOOR_EVERY_MS, for DOOR_OPEN_MS. */
const DOOR_FIRST_MS = 20_000;
const DOOR_EVERY_MS = 120_000;
const DOOR_OPEN_MS = 15_000;
/**
 * The demo's cameras, on the ports demo.config.json names (demo_config_test.ts checks they agree), or on
 * free ones with NVR_DEMO_PORTS=free. demo1 raises ONVIF motion every 90 s (an event in the events
 * and on the timeline); demo2 has a PTZ head (arrows and zoom on its live view turn the picture)
 * and a clock a minute fast, so the clock check warns, tells the camera its NTP server
 * (`onvif.setNtp`) and clears at its next check.
 */
export const CAMERAS = [
  {
    name: "demo1",
    rtspPort: PICKED[1] ?? 18554,
    onvifPort: PICKED[2] ?? 18081,
    serial: "SIM-0001",
    codec: "h265",
    motionEveryMs: 90_000,
  },
  {
    name: "demo2",
    rtspPort: PICKED[3] ?? 18555,
    onvifPort: PICKED[4] ?? 18082,
    serial: "SIM-0002",
    codec: "h264",
    ptz: true,
    clockOffsetMs: 60_000,
  },
] as const;

/**
 * The config the daemon runs on: the shipped demo config, or with free ports a copy in the demo's
 * folder whose camera and broker URLs use them (cameras[i] is CAMERAS[i]).
 */
async function demoConfig(): Promise<string> {
  if (!FREE) return CONFIG;
  const config = JSON.parse(await Deno.readTextFile(CONFIG));
  config.mqtt.url = `mqtt://127.0.0.1:${BROKER_PORT}`;
  CAMERAS.forEach((cam, i) => {
    const c = config.cameras[i];
    c.url = `rtsp://127.0.0.1:${cam.rtspPort}/main`;
    c.subUrl = `rtsp://127.0.0.1:${cam.rtspPort}/sub`;
    if (c.onvif?.url) c.onvif.url = c.onvif.url.replace(/:\d+\//, `:${cam.onvifPort}/`);
  });
  const path = `${DEMO_DIR}/demo.config.json`;
  await Deno.writeTextFile(path, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  return path;
}

function say(text: string): void {
  console.error(`[demo] ${text}`);
}

async function waitForPort(
  port: number,
  what: string,
  timeoutMs = 10_000,
  hostname = "127.0.0.1",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      (await Deno.connect({ hostname, port })).close();
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
    detached: true, // Ctrl-C must not stop the broker before the daemon has said goodbye
  }).spawn();
  await waitForPort(BROKER_PORT, "mosquitto");
  return broker;
}

/** What the daemon's log lines tell: where the page is and who the box is. */
interface DaemonFacts {
  readonly url: Promise<string>;
  readonly deviceId: Promise<string>;
  /** Resolves when the daemon's stdout ends. */
  readonly done: Promise<void>;
}

/**
 * Passes the daemon's stdout through line by line as it comes, and picks out its "listening" and
 * "identity" lines (one JSON object a line, see runtime/lib/log.ts).
 */
function followDaemon(stdout: ReadableStream<Uint8Array>): DaemonFacts {
  const url = Promise.withResolvers<string>();
  const deviceId = Promise.withResolvers<string>();
  const out = new TextEncoder();
  const done = (async () => {
    const lines = stdout.pipeThrough(new TextDecoderStream()).pipeThrough(new LineStream());
    for await (const line of lines) {
      await Deno.stdout.write(out.encode(line + "\n"));
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      if (rec.msg === "listening" && typeof rec.url === "string") url.resolve(rec.url);
      if (rec.msg === "identity" && typeof rec.deviceId === "string") {
        deviceId.resolve(rec.deviceId);
      }
    }
  })();
  const ended = done.then(() => new Error("the daemon's log ended"));
  ended.then((e) => (url.reject(e), deviceId.reject(e)));
  url.promise.catch(() => {});
  deviceId.promise.catch(() => {});
  return { url: url.promise, deviceId: deviceId.promise, done };
}

/** Splits text into lines (without the newline). */
class LineStream extends TransformStream<string, string> {
  constructor() {
    let rest = "";
    super({
      transform(chunk, ctl) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        for (const p of parts) ctl.enqueue(p);
      },
      flush(ctl) {
        if (rest) ctl.enqueue(rest);
      },
    });
  }
}

/** Where a browser on this machine finds a listen URL (0.0.0.0 and :: listen on every address). */
export function browserAddress(listenUrl: string): { url: string; host: string; port: number } {
  const m = /^(\w+):\/\/\[?(.*?)\]?:(\d+)\/?$/.exec(listenUrl);
  if (!m) throw new Error(`cannot read the daemon's listen URL ${listenUrl}`);
  const [, scheme = "https", listened = "", port = "0"] = m;
  const host = listened === "0.0.0.0" || listened === ""
    ? "127.0.0.1"
    : listened === "::"
    ? "::1"
    : listened;
  const shown = host.includes(":") ? `[${host}]` : host;
  return { url: `${scheme}://${shown}:${port}/`, host, port: Number(port) };
}

/**
 * Once the page answers, says where to go: the page, how the first visit goes (the setup code
 * creates the admin), the device id and how to watch the fleet topics. The certificate's
 * fingerprint comes first: the browser warns once about the box's own certificate.
 */
async function announce(facts: DaemonFacts): Promise<void> {
  let url: string;
  try {
    const where = browserAddress(await facts.url);
    url = where.url;
    await waitForPort(where.port, "the page", 60_000, where.host);
  } catch {
    say("the web page did not open; see the daemon's log above");
    return;
  }
  const cert = await Deno.readTextFile(`${DEMO_DIR}/data/tls/cert.pem`).catch(() => null);
  const deviceId = await facts.deviceId.catch(() => '(see the daemon\'s "identity" log line)');
  const code = await Deno.readTextFile(`${DEMO_DIR}/data/setup-code`).then(
    (t) => t.trim(),
    () => null,
  );
  say("————————————————————————————————————————————————————————————");
  say(`open ${url}`);
  if (cert) {
    say(`  its certificate (sha256, check it before accepting): ${await fingerprintPem(cert)}`);
  }
  say(
    code
      ? `  the first visit creates the admin account: setup code ${code}`
      : "  already set up: sign in with the admin account you created",
  );
  say(`device id: ${deviceId}`);
  say(`fleet topics: mosquitto_sub -h 127.0.0.1 -p ${BROKER_PORT} -t 'nvr/v1/#' -v`);
  say("press Ctrl-C to stop everything");
  say("————————————————————————————————————————————————————————————");
}

/**
 * The virtual serial sensor as `.demo/dev/ttyUSB0` (where demo_daemon.ts points the plugins'
 * `/dev`), and the serial-sensor plugin installed from plugins/ (the config enables it).
 */
async function startDemoSensor(): Promise<SerialSensor> {
  await Deno.mkdir(DEMO_DEV_ROOT, { recursive: true });
  // A link left by a demo that was killed: socat would refuse to make it again.
  await Deno.remove(`${DEMO_DEV_ROOT}/ttyUSB0`).catch(() => {});
  await Deno.remove(`${DEMO_DEV_ROOT}/sensor`).catch(() => {});
  await installFromFolder(`${ROOT}plugins/serial-sensor`, `${DEMO_DIR}/data/plugins`);
  say(`starting a virtual serial sensor (temperature, humidity, door) on ${DEMO_DEV_ROOT}/ttyUSB0`);
  const sensor = await startSerialSensor({
    dir: DEMO_DEV_ROOT,
    deviceName: "ttyUSB0",
    intervalMs: 1000,
    seed: Date.now() % 1000,
  });
  await sensor.setDoor(false);
  return sensor;
}

/** Opens the door for DOOR_OPEN_MS, first after DOOR_FIRST_MS, then every DOOR_EVERY_MS. */
function cycleDoor(sensor: SerialSensor): () => void {
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => (timers.delete(t), fn()), ms);
    timers.add(t);
  };
  const open = () => {
    say("the virtual sensor's door opens (a sensor-alarm in the events and on the timeline)");
    sensor.setDoor(true).catch(() => {});
    later(DOOR_OPEN_MS, () => void sensor.setDoor(false).catch(() => {}));
    later(DOOR_EVERY_MS, open);
  };
  later(DOOR_FIRST_MS, open);
  return () => timers.forEach((t) => clearTimeout(t));
}

async function main(): Promise<number> {
  // Signals first: a Ctrl-C during start-up stops what has started, in order.
  const stop = Promise.withResolvers<void>();
  const onSignal = () => stop.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const terminal = takeTerminal();
  await Deno.mkdir(`${DEMO_DIR}/data`, { recursive: true });
  for (const cam of CAMERAS) {
    if (!(portFree(cam.rtspPort))) {
      say(`port ${cam.rtspPort} is taken: is another demo running? Stop it first.`);
      terminal.release();
      return 1;
    }
  }
  say("starting Mosquitto on 127.0.0.1:" + BROKER_PORT);
  const broker = await startBroker();
  const cameras: VirtualCamera[] = [];
  let daemon: Deno.ChildProcess | null = null;
  let sensor: SerialSensor | null = null;
  let doorTimers: (() => void) | null = null;
  let facts: DaemonFacts | null = null;
  let stopped = false;
  stop.promise.then(() => stopped = true);
  try {
    for (const cam of CAMERAS) {
      if (stopped) return 0;
      say(
        `starting virtual camera ${cam.name} (${
          cam.codec === "h265" ? "H.265" : "H.264"
        } 1280x720 15 fps, ` +
          `H.264 640x360 sub-stream) on rtsp://127.0.0.1:${cam.rtspPort}/main and /sub`,
      );
      cameras.push(
        await startVirtualCamera({
          ...cam,
          width: 1280,
          height: 720,
          fps: 15,
          bitrateKbps: 1000,
          model: "SimCam-1",
          manufacturer: "NVR Sim",
          detached: true,
        }),
      );
    }
    if (stopped) return 0;
    sensor = await startDemoSensor();
    doorTimers = cycleDoor(sensor);
    if (stopped) return 0;
    daemon = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        `${ROOT}hw-tests/sim/demo_daemon.ts`,
        "--config",
        await demoConfig(),
      ],
      cwd: ROOT,
      // The shipped config says .demo/data; the demo's folder may be elsewhere.
      env: { NVR_DATA_DIR: `${DEMO_DIR}/data` },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
      // Ctrl-C reaches the demo only; the demo stops the daemon with SIGTERM, before the broker.
      detached: true,
    }).spawn();
    facts = followDaemon(daemon.stdout);
    say(`NVR daemon started; recordings go to ${DEMO_DIR}/data/recordings/`);
    void announce(facts);

    const ended = await Promise.race([daemon.status.then(() => "daemon"), stop.promise]);
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
      await facts?.done;
    }
    doorTimers?.();
    await sensor?.stop();
    await Promise.all(cameras.map((c) => c.stop()));
    try {
      broker.kill("SIGTERM");
    } catch { /* already gone */ }
    await broker.status;
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    terminal.release();
    say("stopped");
  }
}

if (import.meta.main) Deno.exit(await main());
