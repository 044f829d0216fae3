/**
 * The fleet protocol over MQTT: every topic, its direction, QoS, retained flag and payload type,
 * and runtime validators for everything that comes in from the cloud. The one module that says
 * what goes over the wire; docs/fleet-protocol.md is generated from it (protocol_doc.ts).
 *
 * Topics are under `nvr/v1/<deviceId>/`. Every payload is UTF-8 JSON except `snapshot/<id>`
 * (raw JPEG bytes). Times are milliseconds since the Unix epoch (UTC).
 */
import { ObjectReader, show } from "../config/reader.ts";
import { PTZ_DEFAULT_TIMEOUT_MS, type PtzRequest, readPtzRequest } from "../lib/ptz_request.ts";

/** Topic root; the `v1` changes only with an incompatible change of a payload. */
export const TOPIC_ROOT = "nvr/v1";
/** Anonymous usage statistics (only when analytics.enabled): outside any device's prefix. */
export const ANALYTICS_TOPIC = `${TOPIC_ROOT}/analytics`;

/** A deviceId or clientId as used in topics: no '/', '+', '#' or spaces. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
/** A requestId, the last level of `cmd/<requestId>`. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Inbound payloads larger than this get a `too-large` result (or are dropped and logged). */
export const DEFAULT_MAX_INBOUND_BYTES = 256 * 1024;
/** Largest piece of a snapshot in one message: under AWS IoT Core's 128 KB with room to spare. */
export const SNAPSHOT_PART_BYTES = 96 * 1024;
/** A snapshot JPEG larger than this is refused (`too-large`); brokers often cap packets. */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 512 * 1024;

// ---------------------------------------------------------------------------------------------
// Inputs from other parts of the daemon, carried as JSON: their exact types are Fingerprint
// (runtime/fingerprint), Health (runtime/health) and LicenceStatus (runtime/licence), documented
// field by field in docs/fleet-data.md. The link only passes them through, and its tests feed it
// partial payloads, so it keeps them as JSON here.

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** What runtime/fingerprint collects (each value says where it came from). */
export type FingerprintData = Json;
/** What runtime/health samples. */
export type HealthData = Json;
/** What runtime/licence reports: valid/expired/grace/…, camera limit, expiry. */
export type LicenceStatusData = Json;

// ---------------------------------------------------------------------------------------------
// Device → cloud

/** `state` (retained): the birth message, published on every connect. */
export interface StateOnline {
  readonly state: "online";
  /** Software version of the daemon. */
  readonly version: string;
  /** Random id of this run of the daemon: a new bootId means it restarted. */
  readonly bootId: string;
  /**
   * Session sequence number (Sparkplug's bdSeq): 1 on the first connect of a boot, one more on
   * each reconnect. The Last Will registered with that connect carries the same number, so a
   * consumer can tell a late Will of an older session from the death of this one
   * (stateSupersedes).
   */
  readonly bdSeq: number;
  readonly ts: number;
  /**
   * SHA-256 of the local web page's HTTPS certificate, `AB:CD:…` (what a browser shows), so a
   * person can check the page is this box's; absent when http.tls is "off".
   */
  readonly httpsFingerprint?: string;
  /** The last software update this box tried (absent when it never ran one). */
  readonly lastUpdate?: LastUpdate;
  /** A first-boot provisioning problem to act on (absent when there is none). */
  readonly provisioning?: ProvisioningState;
  /** Whether the box believes its wall clock (absent when the daemon does not judge it). */
  readonly clock?: ClockState;
}

/**
 * `clock` in `state`: `trusted` once systemd-timesyncd synced it, the board has an RTC, or the
 * config says so, and never while it shows a time before the build date; `source` says which;
 * `lastSync` is an ISO time or null. Until it is trusted, recordings are indexed as unsynced.
 */
export interface ClockState {
  readonly trusted: boolean;
  readonly source: "timesyncd" | "rtc" | "config" | null;
  readonly lastSync: string | null;
}

/**
 * `provisioning` in `state`: the provisioning file was refused (every bad field named; nothing
 * of it was used), or could not be wiped (e.g. a read-only boot partition: it still holds the
 * bootstrap credential, remove it by hand and rotate the credential).
 */
export interface ProvisioningState {
  readonly refused?: string;
  readonly fileNotWiped?: string;
}

/**
 * Where an update stands. "installed": written to the inactive slot, waiting for the reboot;
 * "trial": booted the new slot, health gate running; "good": the health gate passed and the slot
 * is marked good; "rolled-back": the new slot failed (health gate or boot) and the box runs the
 * old one again; "refused"/"failed": nothing was installed.
 */
export type UpdateState = "installed" | "trial" | "good" | "rolled-back" | "refused" | "failed";

/** `lastUpdate` in `state`: the outcome of the last update (versions, slot, reason). */
export interface LastUpdate {
  readonly from: string;
  readonly to: string;
  /** The RAUC slot written or booted (e.g. "rootfs.1"), null when unknown. */
  readonly slot: string | null;
  readonly state: UpdateState;
  /** Why, when it was refused, failed or rolled back. */
  readonly reason?: string;
  readonly ts: number;
}

/**
 * `state` (retained): `{"state":"offline","bootId","bdSeq"}` is the MQTT Last Will, published by
 * the broker when the connection dies; a clean stop publishes it with `ts` and
 * `reason: "stopped"` too. (Boxes before bdSeq sent a bare `{"state":"offline"}`.)
 */
export interface StateOffline {
  readonly state: "offline";
  readonly ts?: number;
  readonly bootId?: string;
  readonly bdSeq?: number;
  readonly reason?: "stopped";
}

export type StateMessage = StateOnline | StateOffline;

/**
 * Whether `next` replaces `current` as what a consumer believes of a box: the rule that makes a
 * late Will harmless. Within one boot the higher bdSeq wins (a Will ends its own session, equal
 * bdSeq); an online message never revives the session its Will ended. A Will of another boot
 * never overrides a birth (that boot's own Will would carry its bootId); a birth of another boot
 * wins unless it is older by `ts`.
 */
export function stateSupersedes(
  current: StateMessage | undefined,
  next: StateMessage,
): boolean {
  if (current === undefined) return true;
  if (next.bootId === undefined || current.bootId === undefined) return true; // no bdSeq to compare
  if (next.bootId === current.bootId) {
    const a = current.bdSeq ?? 0;
    const b = next.bdSeq ?? 0;
    if (next.state === "online" && current.state === "offline") return b > a;
    return b >= a;
  }
  if (next.state === "offline") return current.state === "offline";
  return current.ts === undefined || next.ts >= current.ts;
}

/**
 * `fingerprint` (retained): on boot and whenever it changes. `seq` numbers every message the
 * device queues (fingerprint, health, events, cmd-result, config/reported), one counter,
 * increasing across restarts: the cloud drops a seq it has already seen (QoS 1 may repeat).
 */
export interface FingerprintMessage {
  readonly seq: number;
  readonly ts: number;
  readonly fingerprint: FingerprintData;
  /**
   * SHA-256 (hex) of the cameras' identities (vendor, model and serial, else MAC; sorted, without
   * camera ids): moves when a camera is swapped for another or goes dark, not when one is renamed
   * (docs/fleet-data.md, "Cameras"). Not the licence binding. null: no camera list.
   */
  readonly camerasHash: string | null;
}

export type HealthReason = "periodic" | "change" | "request";

/** `health`: every mqtt.healthIntervalSeconds, on a significant change, and on request. */
export interface HealthMessage {
  readonly seq: number;
  readonly ts: number;
  readonly reason: HealthReason;
  readonly health: HealthData;
  /** null when the daemon has no licence module wired. */
  readonly licence: LicenceStatusData | null;
}

/** The detail of each event kind. */
export interface EventDetails {
  "camera-up": { readonly camera: string };
  "camera-down": { readonly camera: string; readonly reason: string };
  "recording-gap": {
    readonly camera: string;
    readonly fromMs: number;
    readonly toMs: number;
    readonly reason: string;
  };
  "disk-fault": { readonly disk: string; readonly reason: string };
  "suspicious-login": {
    /** A pseudonym of the user (`user-<16 hex>`, stable per box), never their name. */
    readonly user: string | null;
    readonly address: string;
    readonly reason: string;
  };
  "licence-change": { readonly from: string | null; readonly to: string; readonly reason: string };
  "sensor-alarm": {
    readonly sensor: string;
    readonly reason: string;
    readonly value?: number | string | boolean;
  };
  /**
   * The camera's own event over ONVIF (at most 120 a minute per camera): `type` is "motion",
   * "digital-input", "tampering", "line-crossing" or "other"; `active` its new state (motion on or
   * off, input high or low), null when the event has none; `topic` the ONVIF topic as sent.
   */
  "camera-event": {
    readonly camera: string;
    readonly type: string;
    readonly active: boolean | null;
    readonly topic: string;
  };
  /**
   * The clock became trusted: `segments` recorded before were re-stamped; `jumpMs` is how far
   * the wall clock stepped, `correctionMs` how far the estimated times moved.
   */
  "clock-synced": {
    readonly source: string | null;
    readonly segments: number;
    readonly jumpMs: number;
    readonly correctionMs: number;
  };
  /**
   * A trusted clock stepped (`trusted: true`), or is no longer believed (`trusted: false`, e.g.
   * set back before the build date); recordings already indexed keep their times.
   */
  "clock-jump": { readonly trusted: boolean; readonly jumpMs: number; readonly reason: string };
  /**
   * A camera's clock (ONVIF GetSystemDateAndTime) went further from the box's than
   * `clock.cameraDriftSeconds`: `driftMs` camera − box (positive: ahead), `thresholdMs` the
   * threshold; `boxClockTrusted` false when the box's own clock is not synced yet.
   */
  "camera-clock-drift": {
    readonly camera: string;
    readonly driftMs: number;
    readonly thresholdMs: number;
    readonly boxClockTrusted: boolean;
  };
  /** Download progress of an `update`: at most every 5 % or 2 s. */
  "update-progress": {
    readonly version: string;
    readonly bytes: number;
    readonly size: number;
    readonly percent: number;
  };
}

export type EventKind = keyof EventDetails;
export const EVENT_KINDS: readonly EventKind[] = [
  "camera-up",
  "camera-down",
  "recording-gap",
  "disk-fault",
  "suspicious-login",
  "licence-change",
  "sensor-alarm",
  "camera-event",
  "update-progress",
  "clock-synced",
  "clock-jump",
  "camera-clock-drift",
];

/** `events`: one message per event; never dropped by a full queue before health samples. */
export interface EventMessage<K extends EventKind = EventKind> {
  readonly seq: number;
  readonly ts: number;
  readonly kind: K;
  readonly detail: EventDetails[K];
}

export type ErrorCode =
  | "bad-json"
  | "too-large"
  | "bad-request"
  | "unknown-command"
  | "expired"
  | "retained"
  | "unknown-camera"
  | "config-rejected"
  | "refused"
  | "failed"
  | "timeout";

/** `cmd-result/<requestId>`: the answer to `cmd/<requestId>`, exactly one per request. */
export interface CommandResult {
  readonly seq: number;
  readonly ts: number;
  readonly requestId: string;
  /** The command's name, or null when the payload could not be read. */
  readonly cmd: string | null;
  readonly ok: boolean;
  /** Set when ok is false: what went wrong and what to do. */
  readonly error?: string;
  readonly code?: ErrorCode;
  /** Set when ok is true, per command (see the commands below). */
  readonly result?: Json;
}

/** Result of `ping`. */
export interface PingResult {
  readonly pong: true;
  readonly version: string;
  readonly bootId: string;
  readonly uptimeSeconds: number;
}

/**
 * Result of `snapshot`: the JPEG went out just before this result, as raw bytes on `topic` when
 * `parts` is 1, else cut in `parts` pieces of at most SNAPSHOT_PART_BYTES on `<topic>/0`,
 * `<topic>/1`, … (managed brokers take at most 128 KB per message): join them in order and
 * check `bytes` and `sha256`.
 */
export interface SnapshotResult {
  readonly topic: string;
  readonly parts: number;
  readonly contentType: "image/jpeg";
  readonly bytes: number;
  readonly sha256: string;
}

/** Result of `update`: the bundle is in the inactive slot; the box reboots into it on trial. */
export interface UpdateResult {
  readonly from: string;
  readonly to: string;
  /** The slot written, e.g. "rootfs.1" (null when RAUC did not say). */
  readonly slot: string | null;
  readonly state: "installed";
  /** When the reboot happens: now, or the start of the next `update.rebootWindow`. */
  readonly rebootAt: number;
}

/** "local": changed on the box (local API, analytics consent); version is the running one. */
export type ReportedStatus = "applied" | "rejected" | "failed" | "local";

/**
 * `config/reported` (retained): after each apply-config or config/desired, and after a change
 * made on the box (status "local"). `config` is the
 * running configuration with secrets (passwords, URL credentials) replaced by "***redacted***".
 */
export interface ConfigReported {
  readonly seq: number;
  readonly ts: number;
  /** The version this report answers; the running config's version when status is not applied. */
  readonly version: number;
  readonly status: ReportedStatus;
  /** Version of the configuration now running (equal to version when applied). */
  readonly runningVersion: number;
  /** The same as runningVersion, under the name fleet consoles (and device shadows) use. */
  readonly appliedVersion: number;
  /**
   * The running configuration, redacted; null when the message with it would be over the 128 KB
   * a managed broker takes (the fleet has the version it sent; the box's page shows the rest).
   */
  readonly config: Json;
  /** When rejected: one line per bad key, naming the key, the value and what is allowed. */
  readonly problems?: readonly string[];
  /** When rejected or failed: what went wrong, in one line (rejected: the problems joined). */
  readonly error?: string;
}

/**
 * `nvr/v1/analytics` (only when analytics.enabled is true): counts, no identifiers. `install` is
 * SHA-256(salt ‖ deviceId), where the 32-byte salt is random, made on the box and never sent.
 */
export interface AnalyticsMessage {
  readonly v: 1;
  readonly install: string;
  /** UTC day of the report, "YYYY-MM-DD": no time of day. */
  readonly day: string;
  readonly version: string;
  readonly uptimeDays: number;
  readonly cameras: {
    readonly total: number;
    readonly enabled: number;
    readonly rtsp: number;
    readonly usb: number;
    readonly h265: number;
    readonly h264: number;
  };
  /** Commands received since the last report, by name. */
  readonly commands: Readonly<Record<string, number>>;
  /** Events published since the last report, by kind. */
  readonly events: Readonly<Record<string, number>>;
  /** Messages dropped by the full offline queue since the last report. */
  readonly queueDropped: number;
}

// ---------------------------------------------------------------------------------------------
// Cloud → device

/** `cmd/<requestId>`: one command. Retained commands are never executed. */
export type Command =
  | { readonly cmd: "ping"; readonly expiresAt?: number }
  | { readonly cmd: "restart-camera"; readonly camera: string; readonly expiresAt?: number }
  | { readonly cmd: "get-config"; readonly expiresAt?: number }
  | {
    readonly cmd: "apply-config";
    readonly config: Json;
    /** Greater than the running version; default running version + 1. */
    readonly version?: number;
    readonly expiresAt?: number;
  }
  | { readonly cmd: "reboot"; readonly expiresAt?: number }
  | { readonly cmd: "snapshot"; readonly camera: string; readonly expiresAt?: number }
  | DiscoverCamerasCommand
  | OnvifProfilesCommand
  | AddCameraCommand
  | UpdateCommand
  | PluginCommand
  | PtzCommand;

/**
 * `ptz`: pan, tilt, zoom and presets of an ONVIF camera, with the schema, bounds and error texts
 * of the local API (`/api/cameras/<camera>/ptz…`, runtime/lib/ptz_request.ts). `move`: velocities
 * -1..1 (at least one non-zero), and the move stops by itself after `timeoutMs` (100 to 10 000,
 * default 1000): the box sends Stop then even when the camera ignores ONVIF's Timeout. Preset
 * tokens are 1–64 of `A-Z a-z 0-9 _ . -`; names 1–64 letters, digits, space and `_ . - ( )`.
 * Every ptz command is written to the box's audit log as user "fleet".
 */
export type PtzCommand =
  & { readonly cmd: "ptz"; readonly camera: string; readonly expiresAt?: number }
  & (
    | {
      readonly action: "move";
      readonly pan?: number;
      readonly tilt?: number;
      readonly zoom?: number;
      readonly timeoutMs?: number;
    }
    | { readonly action: "stop" | "presets" }
    | { readonly action: "goto"; readonly preset: string }
    | { readonly action: "save"; readonly name: string; readonly preset?: string }
  );

/**
 * `plugin`: manage a sensor plugin. `install` downloads a tar(.gz) archive (https only; exact
 * size, at most 8 MiB, and SHA-256 checked before anything is unpacked) and installs it, sandboxed
 * and not enabled; `enable`, `disable` and `configure` (`settings`, checked against the plugin's
 * schema) change `plugins.<id>` in the config (reported as a local change); `remove` stops it and
 * deletes it. Nothing downloaded runs outside the plugin sandbox.
 */
export type PluginCommand =
  & { readonly cmd: "plugin"; readonly expiresAt?: number }
  & (
    | {
      readonly action: "install";
      readonly url: string;
      readonly size: number;
      readonly sha256: string;
    }
    | { readonly action: "enable" | "disable" | "remove"; readonly id: string }
    | {
      readonly action: "configure";
      readonly id: string;
      readonly settings: Readonly<Record<string, string | number | boolean>>;
    }
  );

/** Largest plugin archive a `plugin install` may announce (8 MiB, as runtime/plugins allows). */
export const MAX_PLUGIN_ARCHIVE_BYTES = 8 * 1024 * 1024;

/**
 * `discover-cameras`: ONVIF cameras on the box's LAN not yet added — a WS-Discovery probe
 * (unless `multicast` is false) and/or a scan of `range` (IPv4, "first-last" or CIDR, at most
 * 256 addresses) on `ports` (default [80], at most 4). Each found camera is asked who it is with
 * `username`/`password`, which are used only for that and never echoed. The result:
 * `{ cameras: [{ address, deviceUrl, via, endpoint, vendor, model, serial, firmware, name,
 * credentials: "ok"|"refused", error }], alreadyAdded, withoutOnvif, ignored, scanned }`;
 * `withoutOnvif: [{ camera, address, deviceUrl }]` names devices found at the host of a camera
 * configured without an ONVIF address: `apply-config` with its `onvif: { url: deviceUrl }` links
 * them. `interface` (a name such as "eth1" or one of the box's IPv4 addresses) picks the
 * interface the probe leaves by; one the box does not have is refused, listing those it has.
 */
export interface DiscoverCamerasCommand {
  readonly cmd: "discover-cameras";
  readonly multicast?: boolean;
  readonly range?: string;
  readonly ports?: readonly number[];
  readonly username?: string;
  readonly password?: string;
  /** Per request and for the probe's replies, 200 to 10 000 ms; default 3000. */
  readonly timeoutMs?: number;
  /** The interface the probe leaves by: its name or IPv4 address; default: the kernel's route. */
  readonly interface?: string;
  readonly expiresAt?: number;
}

/**
 * `onvif-profiles`: the first step of adding a found camera, as the page's first click — are the
 * credentials right, and which media profiles does it have (main stream to record, sub-stream to
 * view)? Asks the camera only; changes nothing. `address`: `host[:port]` (port 80 by default) or
 * its device service URL (`http:`/`https:`, no user:password in it), as `discover-cameras` lists
 * it. The result: `{ credentials: "ok", deviceUrl, profiles: [{ token, name, encoding, width,
 * height, fps }] }`, or `{ credentials: "refused", error, profiles: [] }`. The password is used
 * only for the camera and never echoed.
 */
export interface OnvifProfilesCommand {
  readonly cmd: "onvif-profiles";
  readonly address: string;
  readonly username?: string;
  readonly password?: string;
  readonly expiresAt?: number;
}

/**
 * `add-camera`: the second step, as the page's second click — adds the camera at `address`
 * (as in `onvif-profiles`) with its credentials: the stream URLs are read from the camera
 * (`mainProfile` recorded, `subProfile` for live view, `null` for none; by default the first
 * profile and a second H.264 one), its ONVIF address is kept as `cameras[].onvif` (identity in
 * the fingerprint, events, PTZ, clock). Validated like `apply-config` (the camera keys are
 * changeable remotely); reported on `config/reported` as a local change. Result: `{ camera:
 * { id, name, url, subUrl, codec, onvif: { url } } }`, never the password.
 */
export interface AddCameraCommand {
  readonly cmd: "add-camera";
  /** The new camera's id: 1–32 of `A-Z a-z 0-9 _ -`, starting with a letter or digit. */
  readonly id: string;
  /** Shown on the page; default the id. 1–64 characters, no control characters. */
  readonly name?: string;
  readonly address: string;
  readonly username?: string;
  readonly password?: string;
  /** Profile tokens from `onvif-profiles`: 1–64 of `A-Z a-z 0-9 _ . -`. */
  readonly mainProfile?: string;
  readonly subProfile?: string | null;
  readonly expiresAt?: number;
}

/**
 * `update`: download a signed RAUC bundle, install it to the inactive slot and reboot into it on
 * trial. Nothing it names is executed: the bundle is only handed to RAUC, which verifies its
 * signature against the keyring in the image; the box checks size, SHA-256, the board's
 * compatible string and that the version is newer before anything is written to a slot.
 */
export interface UpdateCommand {
  readonly cmd: "update";
  /** https: (http: only to 127.0.0.1 or [::1], for tests); no user:password in it. */
  readonly url: string;
  /** Exact size of the bundle in bytes (a longer body is refused). */
  readonly size: number;
  /** SHA-256 of the bundle, 64 hex digits. */
  readonly sha256: string;
  /** The bundle's version (semver, e.g. "0.2.0"): must be newer than the running one. */
  readonly version: string;
  /** "now" (default): reboot once installed; "window": at the next `update.rebootWindow`. */
  readonly reboot?: "now" | "window";
  readonly expiresAt?: number;
}

export type CommandName = Command["cmd"];
export const COMMAND_NAMES: readonly CommandName[] = [
  "ping",
  "restart-camera",
  "get-config",
  "apply-config",
  "reboot",
  "snapshot",
  "discover-cameras",
  "onvif-profiles",
  "add-camera",
  "update",
  "plugin",
  "ptz",
];

/** Largest bundle an `update` may announce (4 GiB). */
export const MAX_UPDATE_BYTES = 4 * 1024 ** 3;
/** A version as the box compares it: major.minor.patch with an optional pre-release. */
export const VERSION_PATTERN =
  /^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})(-[0-9A-Za-z.-]{1,32})?$/;

/** `config/desired` (retained): the configuration the cloud wants, applied when newer. */
export interface ConfigDesired {
  readonly version: number;
  readonly config: Json;
}

/** `licence` (retained): the signed licence, handed to runtime/licence as it is. */
export type LicenceMessage = Json;

// ---------------------------------------------------------------------------------------------
// Validators for inbound payloads

/** An inbound payload that cannot be used; `code` goes into the cmd-result. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly problems: readonly string[];
  constructor(code: ErrorCode, message: string, problems: readonly string[] = []) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    this.problems = problems;
  }
}

/** Decodes UTF-8 JSON of at most `maxBytes`. Throws ProtocolError bad-json or too-large. */
export function decodeJson(payload: Uint8Array, maxBytes: number): unknown {
  if (payload.byteLength > maxBytes) {
    throw new ProtocolError(
      "too-large",
      `payload is ${payload.byteLength} bytes; at most ${maxBytes} bytes are accepted`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(payload);
  } catch {
    throw new ProtocolError("bad-json", "payload is not UTF-8 text; send a JSON object");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ProtocolError("bad-json", `payload is not JSON: ${(err as Error).message}`);
  }
}

/** Reads a command payload. Throws ProtocolError naming every bad key. */
export function parseCommand(raw: unknown): Command {
  const errors: string[] = [];
  const r = ObjectReader.of("", raw, errors);
  if (!r) throw new ProtocolError("bad-request", `command: ${errors.join("; ")}`, errors);
  const name = r.raw("cmd");
  if (typeof name !== "string") {
    throw new ProtocolError(
      "bad-request",
      `cmd: expected a command name, got ${show(name)}; known: ${COMMAND_NAMES.join(", ")}`,
    );
  }
  if (!(COMMAND_NAMES as readonly string[]).includes(name)) {
    throw new ProtocolError(
      "unknown-command",
      `cmd: ${show(name)} is not a command of this device; known: ${COMMAND_NAMES.join(", ")}`,
    );
  }
  const expires = readExpiresAt(r);
  const camera = () => {
    const id = r.string("camera", "", (s) => s.length > 0 && s.length <= 64 ? null : "is empty");
    if (r.raw("camera") === undefined) r.fail("camera", "missing; give a camera id");
    return id;
  };
  let command: Command;
  switch (name as CommandName) {
    case "ping":
      command = { cmd: "ping", ...expires };
      break;
    case "get-config":
      command = { cmd: "get-config", ...expires };
      break;
    case "reboot":
      command = { cmd: "reboot", ...expires };
      break;
    case "restart-camera":
      command = { cmd: "restart-camera", camera: camera(), ...expires };
      break;
    case "snapshot":
      command = { cmd: "snapshot", camera: camera(), ...expires };
      break;
    case "update":
      command = { ...readUpdate(r), ...expires };
      break;
    case "discover-cameras":
      command = { ...readDiscover(r), ...expires };
      break;
    case "onvif-profiles":
      command = { cmd: "onvif-profiles", ...readOnvifTarget(r), ...expires };
      break;
    case "add-camera":
      command = { ...readAddCamera(r), ...expires };
      break;
    case "plugin":
      command = { ...readPlugin(r), ...expires } as PluginCommand;
      break;
    case "ptz":
      command = { ...readPtz(r, raw as Record<string, unknown>, camera()), ...expires };
      break;
    case "apply-config": {
      const config = r.raw("config");
      if (typeof config !== "object" || config === null || Array.isArray(config)) {
        r.fail("config", `expected the configuration object, got ${show(config)}`);
      }
      const version = r.raw("version");
      if (version !== undefined && !isVersion(version)) {
        r.fail("version", `expected a whole number from 1 to 2^53, got ${show(version)}`);
      }
      command = {
        cmd: "apply-config",
        config: config as Json,
        ...(isVersion(version) ? { version } : {}),
        ...expires,
      };
      break;
    }
  }
  r.rejectUnknown();
  if (errors.length > 0) {
    throw new ProtocolError("bad-request", `${name}: ${errors.join("; ")}`, errors);
  }
  return command;
}

/** A `ptz` command: the PTZ request schema of lib/ptz_request.ts, problems named by key. */
function readPtz(r: ObjectReader, raw: Record<string, unknown>, camera: string): PtzCommand {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (key === "cmd" || key === "camera" || key === "expiresAt" || key === "action") continue;
    fields[key] = r.raw(key); // marked as read: readPtzRequest names unknown ones itself
  }
  const action = r.raw("action");
  if (action === undefined) {
    r.fail("action", "missing; one of move, stop, presets, goto, save");
    return { cmd: "ptz", camera, action: "stop" };
  }
  const read = readPtzRequest(action, fields);
  if (!read.ok) {
    for (const e of read.errors) r.fail(e.field, e.message);
    return { cmd: "ptz", camera, action: "stop" };
  }
  const q = read.request;
  switch (q.action) {
    case "move":
      return { cmd: "ptz", camera, action: "move", ...q.velocity, timeoutMs: q.timeoutMs };
    case "goto":
      return { cmd: "ptz", camera, action: "goto", preset: q.preset };
    case "save":
      return { cmd: "ptz", camera, ...q };
    default:
      return { cmd: "ptz", camera, action: q.action };
  }
}

/** The PTZ request a (parsed) `ptz` command carries. */
export function ptzRequestOf(c: PtzCommand): PtzRequest {
  switch (c.action) {
    case "move":
      return {
        action: "move",
        velocity: { pan: c.pan ?? 0, tilt: c.tilt ?? 0, zoom: c.zoom ?? 0 },
        timeoutMs: c.timeoutMs ?? PTZ_DEFAULT_TIMEOUT_MS,
      };
    case "goto":
      return { action: "goto", preset: c.preset };
    case "save":
      return {
        action: "save",
        name: c.name,
        ...(c.preset !== undefined ? { preset: c.preset } : {}),
      };
    default:
      return { action: c.action };
  }
}

/** A camera id as the config takes it (config/validate.ts). */
const CAMERA_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
/** An ONVIF profile token as the box passes it on (real cameras: "Profile_1", "main", "000"). */
const PROFILE_TOKEN = /^[A-Za-z0-9_.-]{1,64}$/;
/** A host name, IPv4 address or bracketed IPv6 address, with an optional port. */
const HOST_PORT =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Why `address` is not a camera's ONVIF address, or null when it is: `host[:port]`, or an
 * http(s) device service URL without user:password, query or fragment.
 */
export function onvifAddressProblem(address: string): string | null {
  const want = 'host[:port] or the device service URL, e.g. "192.168.1.20:80" or ' +
    '"http://192.168.1.20/onvif/device_service"';
  if (address.length === 0 || address.length > 256) return `1 to 256 characters: ${want}`;
  if (!address.includes("://")) return HOST_PORT.test(address) ? null : want;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return want;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `${show(url.protocol)} is not an ONVIF scheme; http: or https: only`;
  }
  if (url.username || url.password) {
    return "no user:password in the address; send them as username and password";
  }
  if (url.search || url.hash) return "no query or fragment in the address: " + want;
  const port = Number(url.port || "80");
  if (!(port >= 1 && port <= 65535)) return want;
  return null;
}

/** `address`, `username?`, `password?` of an ONVIF command, each problem named by key. */
function readOnvifTarget(
  r: ObjectReader,
): { address: string; username?: string; password?: string } {
  const address = r.raw("address");
  let out: { address: string; username?: string; password?: string } = { address: "" };
  if (address === undefined) r.fail("address", "missing; give the camera's ONVIF address");
  else if (typeof address !== "string") {
    r.fail("address", `expected a string, got ${show(address)}`);
  } else {
    const problem = onvifAddressProblem(address);
    if (problem) r.fail("address", problem);
    else out = { address };
  }
  for (const key of ["username", "password"] as const) {
    const v = r.raw(key);
    if (v === undefined) continue;
    // Never shown: a password (or a user name pasted in its place) must not reach the result.
    if (typeof v === "string" && v.length <= 256 && !CONTROL.test(v)) out = { ...out, [key]: v };
    else r.fail(key, "expected a string of at most 256 characters without control characters");
  }
  return out;
}

function readAddCamera(r: ObjectReader): AddCameraCommand {
  const target = readOnvifTarget(r);
  const id = r.raw("id");
  if (id === undefined) r.fail("id", "missing; give the new camera's id");
  else if (typeof id !== "string" || !CAMERA_ID.test(id)) {
    r.fail(
      "id",
      `expected 1 to 32 of A-Z a-z 0-9 _ -, starting with a letter or digit, got ${show(id)}`,
    );
  }
  const name = r.raw("name");
  if (
    name !== undefined &&
    (typeof name !== "string" || name.length < 1 || name.length > 64 || CONTROL.test(name))
  ) r.fail("name", `expected 1 to 64 characters without control characters, got ${show(name)}`);
  const profiles: { mainProfile?: string; subProfile?: string | null } = {};
  const main = r.raw("mainProfile");
  if (main !== undefined) {
    if (typeof main === "string" && PROFILE_TOKEN.test(main)) profiles.mainProfile = main;
    else {
      r.fail(
        "mainProfile",
        `expected a profile token from onvif-profiles (1-64 of A-Z a-z 0-9 _ . -), got ${
          show(main)
        }`,
      );
    }
  }
  const sub = r.raw("subProfile");
  if (sub !== undefined) {
    if (sub === null || (typeof sub === "string" && PROFILE_TOKEN.test(sub))) {
      profiles.subProfile = sub;
    } else {
      r.fail(
        "subProfile",
        `expected a profile token from onvif-profiles (1-64 of A-Z a-z 0-9 _ . -), or null for ` +
          `none, got ${show(sub)}`,
      );
    }
  }
  return {
    cmd: "add-camera",
    id: typeof id === "string" ? id : "",
    ...(typeof name === "string" ? { name } : {}),
    ...target,
    ...profiles,
  };
}

function readDiscover(r: ObjectReader): DiscoverCamerasCommand {
  const out: { -readonly [K in keyof DiscoverCamerasCommand]: DiscoverCamerasCommand[K] } = {
    cmd: "discover-cameras",
  };
  const multicast = r.raw("multicast");
  if (multicast !== undefined) {
    if (typeof multicast === "boolean") out.multicast = multicast;
    else r.fail("multicast", `expected true or false, got ${show(multicast)}`);
  }
  for (const key of ["range", "username", "password", "interface"] as const) {
    const v = r.raw(key);
    if (v === undefined) continue;
    if (typeof v === "string" && v.length <= 256) out[key] = v;
    else r.fail(key, `expected a string of at most 256 characters, got ${show(v)}`);
  }
  const ports = r.raw("ports");
  if (ports !== undefined) {
    if (
      Array.isArray(ports) && ports.length >= 1 && ports.length <= 4 &&
      ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535)
    ) out.ports = ports as number[];
    else r.fail("ports", `expected 1 to 4 port numbers, e.g. [80, 8080], got ${show(ports)}`);
  }
  const timeoutMs = r.raw("timeoutMs");
  if (timeoutMs !== undefined) {
    if (
      Number.isInteger(timeoutMs) && (timeoutMs as number) >= 200 && (timeoutMs as number) <= 10_000
    ) {
      out.timeoutMs = timeoutMs as number;
    } else r.fail("timeoutMs", `expected a whole number from 200 to 10000, got ${show(timeoutMs)}`);
  }
  return out;
}

/** Reads a config/desired payload. Throws ProtocolError naming every bad key. */
export function parseConfigDesired(raw: unknown): ConfigDesired {
  const errors: string[] = [];
  const r = ObjectReader.of("", raw, errors);
  if (!r) throw new ProtocolError("bad-request", `config/desired: ${errors.join("; ")}`, errors);
  const version = r.raw("version");
  if (!isVersion(version)) {
    r.fail("version", `expected a whole number from 1 to 2^53, got ${show(version)}`);
  }
  const config = r.raw("config");
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    r.fail("config", `expected the configuration object, got ${show(config)}`);
  }
  r.rejectUnknown();
  if (errors.length > 0) {
    throw new ProtocolError("bad-request", `config/desired: ${errors.join("; ")}`, errors);
  }
  return { version: version as number, config: config as Json };
}

function readExpiresAt(r: ObjectReader): { expiresAt?: number } {
  const value = r.raw("expiresAt");
  if (value === undefined) return {};
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    r.fail("expiresAt", `expected milliseconds since the epoch, got ${show(value)}`);
    return {};
  }
  return { expiresAt: value };
}

function readUpdate(r: ObjectReader): UpdateCommand {
  const url = r.string("url", "", updateUrlProblem);
  if (r.raw("url") === undefined) r.fail("url", "missing; give the bundle's https: URL");
  const size = r.raw("size");
  if (
    typeof size !== "number" || !Number.isSafeInteger(size) || size < 1 || size > MAX_UPDATE_BYTES
  ) {
    r.fail(
      "size",
      `expected the bundle's size in bytes, 1 to ${MAX_UPDATE_BYTES}, got ${show(size)}`,
    );
  }
  const sha256 = r.string(
    "sha256",
    "",
    (s) => /^[0-9a-fA-F]{64}$/.test(s) ? null : "is not a SHA-256; give 64 hex digits",
  );
  if (r.raw("sha256") === undefined) r.fail("sha256", "missing; give the bundle's SHA-256");
  const version = r.string(
    "version",
    "",
    (s) => VERSION_PATTERN.test(s) ? null : 'is not a version; e.g. "0.2.0" or "0.2.0-rc.1"',
  );
  if (r.raw("version") === undefined) r.fail("version", 'missing; e.g. "0.2.0"');
  const reboot = r.raw("reboot") === undefined
    ? undefined
    : r.oneOf("reboot", "now", ["now", "window"] as const);
  return {
    cmd: "update",
    url,
    size: typeof size === "number" ? size : 0,
    sha256: sha256.toLowerCase(),
    version,
    ...(reboot ? { reboot } : {}),
  };
}

function readPlugin(r: ObjectReader): PluginCommand {
  const action = r.oneOf(
    "action",
    "enable",
    ["install", "enable", "disable", "configure", "remove"] as const,
  );
  if (r.raw("action") === undefined) {
    r.fail("action", "missing; one of install, enable, disable, configure, remove");
  }
  if (action === "install") {
    const url = r.string("url", "", updateUrlProblem);
    if (r.raw("url") === undefined) r.fail("url", "missing; give the archive's https: URL");
    const size = r.raw("size");
    if (
      typeof size !== "number" || !Number.isSafeInteger(size) || size < 1 ||
      size > MAX_PLUGIN_ARCHIVE_BYTES
    ) {
      r.fail(
        "size",
        `expected the archive's size in bytes, 1 to ${MAX_PLUGIN_ARCHIVE_BYTES}, got ${show(size)}`,
      );
    }
    const sha256 = r.string(
      "sha256",
      "",
      (s) => /^[0-9a-fA-F]{64}$/.test(s) ? null : "is not a SHA-256; give 64 hex digits",
    );
    if (r.raw("sha256") === undefined) r.fail("sha256", "missing; give the archive's SHA-256");
    return {
      cmd: "plugin",
      action,
      url,
      size: typeof size === "number" ? size : 0,
      sha256: sha256.toLowerCase(),
    };
  }
  const id = r.string(
    "id",
    "",
    (s) => /^[a-z0-9][a-z0-9-]{0,31}$/.test(s) ? null : "is not a plugin id",
  );
  if (r.raw("id") === undefined) r.fail("id", "missing; give the plugin's id");
  if (action !== "configure") return { cmd: "plugin", action, id };
  const settings = r.raw("settings");
  const flat = typeof settings === "object" && settings !== null && !Array.isArray(settings) &&
    Object.values(settings).every((v) =>
      typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)) ||
      (typeof v === "string" && v.length <= 200)
    );
  if (!flat) {
    r.fail(
      "settings",
      `expected an object of setting → number, string or boolean, got ${show(settings)}`,
    );
  }
  return {
    cmd: "plugin",
    action,
    id,
    settings: (flat ? settings : {}) as Record<string, string | number | boolean>,
  };
}

/** Why an update URL is not allowed, or null: https only, http to loopback only, no userinfo. */
function updateUrlProblem(text: string): string | null {
  if (text.length > 2048) return "is longer than 2048 characters";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL; e.g. "https://updates.example.com/nvr-0.2.0.raucb"';
  }
  if (url.username || url.password) {
    return "carries a user name or password; use a token in the path";
  }
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:" && (url.hostname === "127.0.0.1" || url.hostname === "[::1]")) {
    return null;
  }
  return "is not allowed; use https: (http: only to 127.0.0.1 or [::1])";
}

function isVersion(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}

// ---------------------------------------------------------------------------------------------
// Topics

export interface DeviceTopics {
  readonly prefix: string;
  readonly state: string;
  readonly fingerprint: string;
  readonly health: string;
  readonly events: string;
  readonly configDesired: string;
  readonly configReported: string;
  readonly licence: string;
  /** Subscription filter for commands: `cmd/+`. */
  readonly commands: string;
  cmd(requestId: string): string;
  cmdResult(requestId: string): string;
  snapshot(requestId: string): string;
}

export function deviceTopics(deviceId: string): DeviceTopics {
  if (!DEVICE_ID_PATTERN.test(deviceId)) {
    throw new ProtocolError(
      "bad-request",
      `deviceId ${show(deviceId)} cannot be used in a topic; use letters, digits, '_', '.', ':' ` +
        "or '-' (at most 128)",
    );
  }
  const prefix = `${TOPIC_ROOT}/${deviceId}/`;
  return {
    prefix,
    state: `${prefix}state`,
    fingerprint: `${prefix}fingerprint`,
    health: `${prefix}health`,
    events: `${prefix}events`,
    configDesired: `${prefix}config/desired`,
    configReported: `${prefix}config/reported`,
    licence: `${prefix}licence`,
    commands: `${prefix}cmd/+`,
    cmd: (id) => `${prefix}cmd/${id}`,
    cmdResult: (id) => `${prefix}cmd-result/${id}`,
    snapshot: (id) => `${prefix}snapshot/${id}`,
  };
}

// ---------------------------------------------------------------------------------------------
// The topic table: what docs/fleet-protocol.md is made of.

export type Direction = "device → cloud" | "cloud → device";

export interface TopicSpec {
  /** Relative to `nvr/v1/<deviceId>/`, unless it starts with `nvr/`. */
  readonly topic: string;
  readonly direction: Direction;
  readonly qos: 1;
  readonly retained: boolean;
  /** Names of the payload types above, shown in the docs. */
  readonly types: readonly string[];
  readonly about: string;
  readonly examples: readonly Json[];
}

const ts = 1767225600000; // 2026-01-01T00:00:00Z

export const TOPICS: readonly TopicSpec[] = [
  {
    topic: "state",
    direction: "device → cloud",
    qos: 1,
    retained: true,
    types: [
      "StateOnline",
      "UpdateState",
      "LastUpdate",
      "ProvisioningState",
      "ClockState",
      "StateOffline",
      "StateMessage",
    ],
    about: "Birth on every connect; the same topic is the MQTT Last Will " +
      '(`{"state":"offline","bootId","bdSeq"}`, retained), so a box that dies or loses its ' +
      "network shows offline. Published directly on connect, not through the offline queue (an " +
      "old birth means nothing). `bdSeq` numbers the sessions of a boot: a Will that arrives " +
      "late (a clustered broker noticing a dead connection after the box came back elsewhere) " +
      "carries an older bdSeq, and consumers keep the newer online state (`stateSupersedes` in " +
      "schema.ts). The box subscribes to its own `state` and publishes its birth again when an " +
      "offline message arrives while it is connected, so the retained copy is repaired too.",
    examples: [
      {
        state: "online",
        version: "0.1.0",
        bootId: "5f0c9a4e-8d1b-4c57-9a7e-0f6f1b1f4a11",
        bdSeq: 1,
        ts,
        httpsFingerprint: "3F:9A:" + "00:".repeat(29) + "C2",
        clock: { trusted: true, source: "timesyncd", lastSync: "2026-01-01T00:00:00.000Z" },
      },
      {
        state: "online",
        version: "0.2.0",
        bootId: "0b7d2c51-3a6f-4e0e-9c1d-2f5e7a8b9c10",
        bdSeq: 3,
        ts,
        lastUpdate: { from: "0.1.0", to: "0.2.0", slot: "rootfs.1", state: "good", ts },
      },
      { state: "offline", bootId: "5f0c9a4e-8d1b-4c57-9a7e-0f6f1b1f4a11", bdSeq: 1 },
      {
        state: "offline",
        ts,
        bootId: "5f0c9a4e-8d1b-4c57-9a7e-0f6f1b1f4a11",
        bdSeq: 1,
        reason: "stopped",
      },
    ],
  },
  {
    topic: "fingerprint",
    direction: "device → cloud",
    qos: 1,
    retained: true,
    types: ["FingerprintMessage"],
    about: "On boot and whenever the fingerprint changes: checked every 10 minutes, and at once " +
      "when the cameras are changed (added, removed, their addresses). `camerasHash` moves when " +
      "a camera is swapped for another (docs/fleet-data.md). Only the newest is kept in the " +
      "offline queue.",
    examples: [{
      seq: 41,
      ts,
      fingerprint: { hash: "9c1e…", board: { serial: { value: "10000000abcdef01", source: "…" } } },
      camerasHash: "5d0c…",
    }],
  },
  {
    topic: "health",
    direction: "device → cloud",
    qos: 1,
    retained: false,
    types: ["HealthReason", "HealthMessage"],
    about: "Every `mqtt.healthIntervalSeconds` (default 30), when the daemon sees a significant " +
      "change, and on request. The first messages dropped when the offline queue is full.",
    examples: [{
      seq: 42,
      ts,
      reason: "periodic",
      health: { uptimeSeconds: 86400, load: [0.4, 0.3, 0.2], cameras: [] },
      licence: { state: "valid", maxCameras: 8, expiresAt: 1798761600000 },
    }],
  },
  {
    topic: "events",
    direction: "device → cloud",
    qos: 1,
    retained: false,
    types: ["EventDetails", "EventKind", "EventMessage"],
    about: "Camera up/down, recording gaps, disk faults, suspicious logins, licence changes, " +
      "sensor alarms, camera events (motion, inputs), update progress, the clock synced or stepped, a camera's clock drifting. Kept in the offline queue (health samples are dropped first).",
    examples: [
      {
        seq: 43,
        ts,
        kind: "camera-down",
        detail: { camera: "door", reason: "connection refused" },
      },
      {
        seq: 44,
        ts,
        kind: "recording-gap",
        detail: { camera: "door", fromMs: ts - 4000, toMs: ts, reason: "camera unreachable" },
      },
      {
        seq: 45,
        ts,
        kind: "update-progress",
        detail: { version: "0.2.0", bytes: 93_500_000, size: 187_000_000, percent: 50 },
      },
      {
        seq: 46,
        ts,
        kind: "clock-synced",
        detail: { source: "timesyncd", segments: 14, jumpMs: 1_767_225_540_000, correctionMs: 42 },
      },
    ],
  },
  {
    topic: "cmd/<requestId>",
    direction: "cloud → device",
    qos: 1,
    retained: false,
    types: [
      "Command",
      "CommandName",
      "PluginCommand",
      "PtzCommand",
      "OnvifProfilesCommand",
      "AddCameraCommand",
    ],
    about: "One command; `<requestId>` is 1–64 of `A-Z a-z 0-9 _ . : -`. Answered once on " +
      "`cmd-result/<requestId>` (a repeated requestId within 24 h gets the stored answer again, " +
      "the command is not run twice). Retained commands, commands past `expiresAt`, unknown " +
      "commands, bad JSON and payloads over 256 KiB get an error result; a bad requestId is " +
      "dropped and logged.",
    examples: [
      { cmd: "ping" },
      { cmd: "restart-camera", camera: "door" },
      { cmd: "get-config" },
      { cmd: "apply-config", version: 7, config: { cameras: [{ id: "door", url: "rtsp://…" }] } },
      { cmd: "reboot", expiresAt: ts + 60000 },
      { cmd: "snapshot", camera: "door" },
      {
        cmd: "discover-cameras",
        range: "192.168.1.0/24",
        ports: [80, 8080],
        username: "admin",
        password: "…",
      },
      { cmd: "onvif-profiles", address: "192.168.1.20:80", username: "admin", password: "…" },
      {
        cmd: "add-camera",
        id: "gate",
        address: "192.168.1.20:80",
        username: "admin",
        password: "…",
        mainProfile: "Profile_1",
        subProfile: "Profile_2",
      },
      {
        cmd: "update",
        url: "https://updates.example.com/nvr-0.2.0-rpi4.raucb",
        size: 187_000_000,
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        version: "0.2.0",
        reboot: "window",
      },
      {
        cmd: "plugin",
        action: "install",
        url: "https://plugins.example.com/serial-sensor-1.0.0.tar.gz",
        size: 6144,
        sha256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
      },
      { cmd: "plugin", action: "configure", id: "serial-sensor", settings: { highC: 35 } },
      { cmd: "plugin", action: "enable", id: "serial-sensor" },
      { cmd: "ptz", camera: "gate", action: "move", pan: 0.5, zoom: -0.2, timeoutMs: 2000 },
      { cmd: "ptz", camera: "gate", action: "goto", preset: "preset1" },
    ],
  },
  {
    topic: "cmd-result/<requestId>",
    direction: "device → cloud",
    qos: 1,
    retained: false,
    types: ["ErrorCode", "CommandResult", "PingResult", "SnapshotResult", "UpdateResult"],
    about: "The answer. Results per command: ping → `PingResult`; restart-camera → " +
      '`{"camera"}`; get-config → `{"version","config"}` (secrets redacted); apply-config → ' +
      '`{"version"}` (also reported on `config/reported`); reboot → `{"rebooting":true}` (once ' +
      "`systemctl reboot` — a fixed action of the image, nothing from configuration — exited 0; " +
      "queued durably, so it arrives even when the reboot cuts the connection first; a failure " +
      "says only that it failed and its exit status, never a process's output); snapshot → `SnapshotResult`; " +
      "discover-cameras → the cameras not yet added (`DiscoverCamerasCommand`); " +
      'onvif-profiles → `{"credentials","deviceUrl","profiles"}` (`OnvifProfilesCommand`); ' +
      'add-camera → `{"camera"}` without its password (`AddCameraCommand`), `refused` for an id ' +
      "in use, a camera that refuses the credentials or a profile it does not have; " +
      "update → `UpdateResult` once the bundle is installed in the inactive slot (the download " +
      "does not hold up other commands; progress goes out as `update-progress` events), or " +
      "`refused` with the reason (bad hash, size, signature, board, version, an update already " +
      "running). What became of it after the reboot is `lastUpdate` in `state`. plugin → " +
      '`{"id","version"}` (install), `{"id","enabled"}`, `{"id","settings"}`, ' +
      '`{"id","removed":true}`, or `refused` with the reason (http: URL, size or SHA-256 wrong, ' +
      "a bad archive or manifest, a setting the plugin's schema refuses, not installed). ptz → " +
      '`{"camera","action",…}`: move `{"velocity","stopsAfterMs"}`, presets ' +
      '`{"presets":[{"token","name"}]}`, goto `{"preset"}`, save `{"preset","name"}`; ' +
      "`bad-request` naming the field (a velocity outside -1..1, a hostile preset token), " +
      "`refused` for a camera without ONVIF PTZ, `failed` with the camera's answer.",
    examples: [
      {
        seq: 45,
        ts,
        requestId: "r-1",
        cmd: "ping",
        ok: true,
        result: { pong: true, version: "0.1.0", bootId: "5f0c…", uptimeSeconds: 3600 },
      },
      {
        seq: 46,
        ts,
        requestId: "r-2",
        cmd: "apply-config",
        ok: false,
        code: "config-rejected",
        error: 'cameras[0].url: missing; e.g. "rtsp://192.168.1.20:554/stream1"',
      },
      {
        seq: 47,
        ts,
        requestId: "r-3",
        cmd: null,
        ok: false,
        code: "bad-json",
        error: "payload is not JSON: Unexpected token 'x', \"x\" is not valid JSON",
      },
    ],
  },
  {
    topic: "snapshot/<requestId>",
    direction: "device → cloud",
    qos: 1,
    retained: false,
    types: [],
    about: "The JPEG of a `snapshot` command as raw bytes (not JSON, no base64), published just " +
      "before its `cmd-result`, at most 512 KiB (a larger picture gets a `too-large` result). " +
      "Up to 96 KiB it is one message on `snapshot/<requestId>`; a larger one is cut in parts " +
      "of 96 KiB on `snapshot/<requestId>/0`, `/1`, … (`parts` in the result), so no message " +
      "exceeds a managed broker's 128 KB.",
    examples: [],
  },
  {
    topic: "config/desired",
    direction: "cloud → device",
    qos: 1,
    retained: true,
    types: ["ConfigDesired"],
    about: "The configuration the cloud wants, read from this exact topic (retained) on every " +
      "connect: managed brokers do not deliver retained messages through wildcard filters. " +
      "Applied when its version is greater than the running one (validated like the config " +
      "file; a rejected one changes nothing and is not tried again), then reported on " +
      "`config/reported`. Versions only go up: publish a higher one to change or fix it.",
    examples: [{ version: 7, config: { device: { name: "shop-front" }, cameras: [] } }],
  },
  {
    topic: "config/reported",
    direction: "device → cloud",
    qos: 1,
    retained: true,
    types: ["ReportedStatus", "ConfigReported"],
    about: "What the device runs, after each apply (from `config/desired` or `apply-config`).",
    examples: [
      {
        seq: 48,
        ts,
        version: 7,
        status: "applied",
        runningVersion: 7,
        appliedVersion: 7,
        config: { device: { name: "shop-front" }, mqtt: { password: "***redacted***" } },
      },
      {
        seq: 49,
        ts,
        version: 8,
        status: "rejected",
        runningVersion: 7,
        appliedVersion: 7,
        config: { device: { name: "shop-front" } },
        problems: ['http.listen: "8080" is not host:port; e.g. "0.0.0.0:8080"'],
        error: 'http.listen: "8080" is not host:port; e.g. "0.0.0.0:8080"',
      },
    ],
  },
  {
    topic: "licence",
    direction: "cloud → device",
    qos: 1,
    retained: true,
    types: ["LicenceMessage"],
    about: "The signed licence (Ed25519), handed to the licence module as it is; its status " +
      "appears in every `health` message.",
    examples: [{ payload: "…", signature: "…" }],
  },
  {
    topic: ANALYTICS_TOPIC,
    direction: "device → cloud",
    qos: 1,
    retained: false,
    types: ["AnalyticsMessage"],
    about: "Only when an admin set `analytics.enabled: true` (default false): once a day, " +
      "counts only, under a topic without the deviceId. `install` is a salted hash: the salt " +
      "is random, made on the box and never leaves it, so the cloud cannot tie it to a device.",
    examples: [{
      v: 1,
      install: "3b4c…",
      day: "2026-01-01",
      version: "0.1.0",
      uptimeDays: 12,
      cameras: { total: 4, enabled: 4, rtsp: 3, usb: 1, h265: 3, h264: 1 },
      commands: { ping: 3 },
      events: { "camera-down": 1 },
      queueDropped: 0,
    }],
  },
];
