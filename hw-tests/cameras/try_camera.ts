/**
 * Tries one real ONVIF camera on a real LAN with the same code the daemon uses, step by step, and
 * prints a checklist (and, with --json, a report to attach to an issue). Not part of any test run:
 * nothing here has met a real camera yet (see README.md in this folder).
 *
 *   .tools/bin/deno run -A hw-tests/cameras/try_camera.ts --user admin --password '…' \
 *     [--range 192.168.1.0/24] [--ports 80,8080] [--no-multicast] [--interface 192.168.1.2] \
 *     [--device http://192.168.1.64/onvif/device_service] [--ptz] [--events-seconds 60] \
 *     [--json report.json]
 *
 * Steps: discovery (WS-Discovery probe and/or the range scan; credentials checked), identity
 * (GetDeviceInformation, GetNetworkInterfaces: what the fingerprint carries), profiles (main and
 * sub-stream), the camera's clock against this machine's, PTZ (only with --ptz: it turns the
 * camera), events (PullPoint for --events-seconds: walk past, open the input, cross the line).
 */
import { discoverCameras, type DiscoveredCamera } from "../../runtime/onvif/discover.ts";
import { readOnvifDeviceInformation } from "../../runtime/fingerprint/onvif_info.ts";
import { onvifProfiles } from "../../runtime/api/onvif_streams.ts";
import { readCameraClock } from "../../runtime/onvif/camera_clock.ts";
import { PtzService } from "../../runtime/onvif/ptz.ts";
import {
  type CameraEvent,
  type EventsStatus,
  watchEvents,
} from "../../runtime/onvif/event_watch.ts";

export interface TryArgs {
  readonly user: string | null;
  readonly password: string | null;
  readonly range: string | null;
  readonly ports: number[];
  readonly multicast: boolean;
  readonly interfaceAddress: string | null;
  readonly device: string | null;
  readonly ptz: boolean;
  readonly eventsSeconds: number;
  readonly json: string | null;
}

const USAGE = "usage: deno run -A hw-tests/cameras/try_camera.ts --user U --password P " +
  "[--range 192.168.1.0/24] [--ports 80,8080] [--no-multicast] [--interface <box IPv4>] " +
  "[--device <device service URL>] [--ptz] [--events-seconds 60] [--json report.json]";

export function parseTryArgs(args: readonly string[]): TryArgs {
  const value = (name: string): string | null => {
    const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i < 0) return null;
    const arg = args[i]!;
    const v = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[i + 1];
    if (v === undefined || v.startsWith("--")) throw new Error(`--${name} needs a value; ${USAGE}`);
    return v;
  };
  const ports = (value("ports") ?? "80").split(",").map(Number);
  if (ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    throw new Error(`--ports: port numbers separated by commas, e.g. 80,8080; ${USAGE}`);
  }
  const seconds = Number(value("events-seconds") ?? "60");
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) {
    throw new Error(`--events-seconds: 0 to 3600; ${USAGE}`);
  }
  return {
    user: value("user"),
    password: value("password"),
    range: value("range"),
    ports,
    multicast: !args.includes("--no-multicast"),
    interfaceAddress: value("interface"),
    device: value("device"),
    ptz: args.includes("--ptz"),
    eventsSeconds: seconds,
    json: value("json"),
  };
}

export type Outcome = "pass" | "fail" | "skip";
export interface Step {
  readonly step: string;
  readonly outcome: Outcome;
  readonly detail: unknown;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface TryOptions {
  /** Ends the events step early at the first event this accepts (tests). */
  readonly stopEventsWhen?: (e: CameraEvent) => boolean;
}

/** Runs the steps; each one's outcome and what it saw, in order. */
export async function tryCamera(
  a: TryArgs,
  say: (line: string) => void,
  o: TryOptions = {},
): Promise<Step[]> {
  const steps: Step[] = [];
  const record = (step: string, outcome: Outcome, detail: unknown) => {
    steps.push({ step, outcome, detail });
    say(`${outcome.toUpperCase().padEnd(4)} ${step}: ${JSON.stringify(detail)}`);
  };
  const creds = { username: a.user, password: a.password };

  // 1. Discovery, as the page's "Find cameras" does it (nothing is known to be added here).
  let found: DiscoveredCamera[] = [];
  if (a.multicast || a.range) {
    try {
      const r = await discoverCameras({
        multicast: a.multicast,
        range: a.range,
        ports: a.ports,
        ...creds,
        ...(a.interfaceAddress ? { interfaceAddress: a.interfaceAddress } : {}),
      }, []);
      found = r.cameras;
      record("discovery", found.length > 0 ? "pass" : "fail", {
        cameras: found.map((c) => ({
          deviceUrl: c.deviceUrl,
          via: c.via,
          vendor: c.vendor,
          model: c.model,
          credentials: c.credentials,
          error: c.error,
        })),
        ignored: r.ignored,
        scanned: r.scanned,
      });
    } catch (err) {
      record("discovery", "fail", errText(err));
    }
  } else record("discovery", "skip", "--no-multicast without --range");

  const deviceUrl = a.device ?? (found.length === 1 ? found[0]!.deviceUrl : null);
  if (deviceUrl === null) {
    record(
      "choose camera",
      "fail",
      found.length === 0
        ? "nothing found; give --device <device service URL>"
        : `${found.length} found; choose one with --device`,
    );
    return steps;
  }
  say(`camera: ${deviceUrl}`);

  // 2. Identity: what the fingerprint carries (docs/fleet-data.md).
  try {
    const info = await readOnvifDeviceInformation(deviceUrl, { ...creds, timeoutMs: 5000 });
    const complete = info.manufacturer && info.model && info.serialNumber;
    record("identity (fingerprint)", complete ? "pass" : "fail", info);
  } catch (err) {
    record("identity (fingerprint)", "fail", errText(err));
  }

  // 3. Profiles: main stream to record, sub-stream to view.
  try {
    const p = await onvifProfiles(deviceUrl, creds);
    record("profiles", p.profiles.length > 0 ? "pass" : "fail", p.profiles);
  } catch (err) {
    record("profiles", "fail", errText(err));
  }

  // 4. The camera's clock against this machine's (sync this machine with NTP first).
  try {
    const c = await readCameraClock(deviceUrl, { timeoutMs: 5000 });
    record("clock", Math.abs(c.driftMs) <= 5000 ? "pass" : "fail", {
      driftMs: c.driftMs,
      roundTripMs: c.roundTripMs,
      note: "fail: over the default clock.cameraDriftSeconds (5); the daemon warns the same",
    });
  } catch (err) {
    record("clock", "fail", errText(err));
  }

  // 5. PTZ: a short turn right and back, presets listed.
  if (a.ptz) {
    const ptz = new PtzService({
      target: () => ({ url: deviceUrl, username: a.user, password: a.password }),
    });
    try {
      const before = (await ptz.status("cam")).status;
      await ptz.run("cam", {
        action: "move",
        velocity: { pan: 0.3, tilt: 0, zoom: 0 },
        timeoutMs: 1000,
      });
      await new Promise((r) => setTimeout(r, 1500));
      await ptz.run("cam", { action: "stop" });
      const after = (await ptz.status("cam")).status;
      await ptz.run("cam", {
        action: "move",
        velocity: { pan: -0.3, tilt: 0, zoom: 0 },
        timeoutMs: 1000,
      });
      await new Promise((r) => setTimeout(r, 1500));
      await ptz.run("cam", { action: "stop" });
      const presets = await ptz.run("cam", { action: "presets" });
      const moved = before !== null && after !== null &&
        before.position.pan !== after.position.pan;
      record("ptz", moved ? "pass" : "fail", {
        before,
        after,
        presets,
        note: "no position from the camera (GetStatus) is a fail here: look whether it turned",
      });
    } catch (err) {
      record("ptz", "fail", errText(err));
    } finally {
      await ptz.close();
    }
  } else record("ptz", "skip", "give --ptz to turn the camera");

  // 6. Events: PullPoint for a while; trigger motion, an input, tampering, a line crossing.
  if (a.eventsSeconds > 0) {
    say(`events: listening ${a.eventsSeconds} s — walk past, open the input, cross the line…`);
    const events: CameraEvent[] = [];
    const statuses: EventsStatus[] = [];
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), a.eventsSeconds * 1000);
    await watchEvents({
      deviceUrl,
      username: a.user,
      password: a.password,
      onEvent: (e) => {
        events.push(e);
        say(`  event ${e.type} ${e.active ?? ""} ${e.topic} ${JSON.stringify(e.source)}`);
        if (o.stopEventsWhen?.(e)) stop.abort();
      },
      onStatus: (s) => {
        statuses.push(s);
        say(`  events ${s.state}${s.error ? `: ${s.error}` : ""}`);
      },
    }, stop.signal);
    clearTimeout(timer);
    const changed = events.filter((e) => e.property !== "Initialized");
    record("events", changed.length > 0 ? "pass" : "fail", {
      states: [...new Set(statuses.map((s) => s.state))],
      types: [...new Set(changed.map((e) => e.type))],
      topics: [...new Set(events.map((e) => e.topic))],
      count: events.length,
    });
  } else record("events", "skip", "--events-seconds 0");
  return steps;
}

if (import.meta.main) {
  let args: TryArgs;
  try {
    args = parseTryArgs(Deno.args);
  } catch (err) {
    console.error(errText(err));
    Deno.exit(64);
  }
  const steps = await tryCamera(args, (l) => console.log(l));
  if (args.json) {
    // The report has no password in it: only what the camera said.
    await Deno.writeTextFile(args.json, JSON.stringify({ atMs: Date.now(), steps }, null, 2));
    console.log(`report written to ${args.json}`);
  }
  Deno.exit(steps.some((s) => s.outcome === "fail") ? 1 : 0);
}
