/**
 * Turns untrusted JSON into an NvrConfig, or a ConfigError listing every bad key with the value
 * found and what is allowed. Unknown keys are errors. No I/O and no hardware probing here.
 */
import { ObjectReader, show } from "./reader.ts";
import { parseDurationSeconds } from "./duration.ts";
import { parseSizeBytes } from "./size.ts";
import {
  CLOCK_TRUST,
  CODECS,
  ENCODE_FALLBACKS,
  HTTP_TLS,
  LOG_LEVELS,
  MAX_CAMERAS,
  range,
  REBOOT_WINDOW,
  RECORD_MODES,
  REMUX_ENGINES,
  sizeMin,
  THUMBNAIL_MODES,
  TRANSPORTS,
} from "./rules.ts";
import type {
  CameraConfig,
  CameraOnvifConfig,
  CameraRecordConfig,
  HttpConfig,
  LicencePolicy,
  MqttConfig,
  NtpConfig,
  NvrConfig,
  PluginConfig,
} from "./types.ts";

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(
      `Invalid configuration in ${source}:\n` + problems.map((p) => `  - ${p}`).join("\n") +
        "\nFix the keys above (see docs/config.md for every key) and start again.",
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const CAMERA_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
const LISTEN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
/** Where the image ships its licence policy (trusted keys); see LicencePolicy. */
export const LICENCE_KEYS_FILE = "/usr/lib/nvr/licence-keys.json";
/** Where the image looks for the provisioning file: the boot (EFI) partition. */
export const PROVISION_FILE = "/boot/efi/nvr-provision.json";
/** The identity store, on the `state` partition (survives losing the data disk). */
export const IDENTITY_DIR = "/var/lib/nvr-state/identity";

const HOST_NAME =
  /^(\[?[0-9A-Fa-f:.]+\]?|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?)$/;
/** Default storage.minFreeBytes: 2 GiB. */
const MIN_FREE = 2 * 2 ** 30;

/** "HH:MM-HH:MM" local time, not ending where it starts; or null. */
function readRebootWindow(r: ObjectReader): string | null {
  const value = r.raw("rebootWindow");
  if (value === undefined || value === null) return null;
  const m = typeof value === "string" ? REBOOT_WINDOW.exec(value) : null;
  if (!m || (m[1] === m[3] && m[2] === m[4])) {
    r.fail(
      "rebootWindow",
      `${show(value)} is not a window; e.g. "02:00-04:00" (local time), or null`,
    );
    return null;
  }
  return value as string;
}

export function validateConfig(raw: unknown, source = "config"): NvrConfig {
  const errors: string[] = [];
  const top = ObjectReader.of("", raw, errors);
  if (!top) throw new ConfigError(source, errors);

  const device = ObjectReader.of("device", top.raw("device"), errors);
  const storage = ObjectReader.of("storage", top.raw("storage"), errors);
  const http = ObjectReader.of("http", top.raw("http"), errors);
  const mqtt = ObjectReader.of("mqtt", top.raw("mqtt"), errors);
  const analytics = ObjectReader.of("analytics", top.raw("analytics"), errors);
  const licence = ObjectReader.of("licence", top.raw("licence"), errors);
  const log = ObjectReader.of("log", top.raw("log"), errors);
  const recording = ObjectReader.of("recording", top.raw("recording"), errors);
  const update = ObjectReader.of("update", top.raw("update"), errors);
  const provision = ObjectReader.of("provision", top.raw("provision"), errors);
  const clock = ObjectReader.of("clock", top.raw("clock"), errors);
  const ntp = ObjectReader.of("ntp", top.raw("ntp"), errors);

  const dataDir = storage?.string("dataDir", "/var/lib/nvr", nonEmpty) ?? "/var/lib/nvr";
  const config: NvrConfig = {
    device: { name: device?.string("name", "nvr", nonEmpty) ?? "nvr" },
    storage: {
      dataDir,
      segmentSeconds: storage ? readSegmentSeconds(storage) : 60,
      requireMount: storage ? readRequireMount(storage, dataDir) : null,
      maxBytes: storage ? readSize(storage, "maxBytes", null, sizeMin("storage.maxBytes")) : null,
      minFreeBytes:
        (storage && readSize(storage, "minFreeBytes", MIN_FREE, sizeMin("storage.minFreeBytes"))) ??
          MIN_FREE,
      minFreePercent:
        (storage && readNumber(storage, "minFreePercent", 5, ...range("storage.minFreePercent"))) ??
          5,
      retentionDays: storage
        ? readNumber(storage, "retentionDays", null, ...range("storage.retentionDays"))
        : null,
    },
    http: readHttp(http),
    mqtt: readMqtt(mqtt),
    analytics: { enabled: analytics?.boolean("enabled", false) ?? false },
    licence: {
      keysFile: licence?.string("keysFile", LICENCE_KEYS_FILE, absolutePath) ?? LICENCE_KEYS_FILE,
    },
    log: { level: log?.oneOf("level", "info", LOG_LEVELS) ?? "info" },
    recording: {
      encodeFallback: recording?.oneOf("encodeFallback", "h264-hw", ENCODE_FALLBACKS) ?? "h264-hw",
      remux: recording?.oneOf("remux", "builtin", REMUX_ENGINES) ?? "builtin",
      stallSeconds: recording?.integer("stallSeconds", 10, ...range("recording.stallSeconds")) ??
        10,
      camerasPerProcess:
        recording?.integer("camerasPerProcess", 4, ...range("recording.camerasPerProcess")) ?? 4,
      builtinCamerasPerProcess: recording?.integer(
        "builtinCamerasPerProcess",
        32,
        ...range("recording.builtinCamerasPerProcess"),
      ) ?? 32,
      thumbnails: recording?.oneOf("thumbnails", "on-close", THUMBNAIL_MODES) ?? "on-close",
    },
    update: { rebootWindow: update ? readRebootWindow(update) : null },
    provision: {
      file: provision?.string("file", PROVISION_FILE, absolutePath) ?? PROVISION_FILE,
      identityDir: provision?.string("identityDir", IDENTITY_DIR, absolutePath) ?? IDENTITY_DIR,
      allowInsecure: provision?.boolean("allowInsecure", false) ?? false,
    },
    clock: {
      trust: clock?.oneOf("trust", "auto", CLOCK_TRUST) ?? "auto",
      cameraDriftSeconds:
        clock?.integer("cameraDriftSeconds", 5, ...range("clock.cameraDriftSeconds")) ?? 5,
    },
    ntp: readNtp(ntp),
    plugins: readPlugins(top.raw("plugins"), errors),
    cameras: readCameras(top.raw("cameras"), errors),
  };
  for (
    const reader of [
      top,
      device,
      storage,
      http,
      mqtt,
      analytics,
      licence,
      log,
      recording,
      update,
      provision,
      clock,
      ntp,
    ]
  ) {
    reader?.rejectUnknown();
  }
  if (config.recording.remux === "gstreamer") {
    config.cameras.forEach((c, i) => {
      if (c.record?.mode !== "events") return;
      errors.push(
        `cameras[${i}].record.mode: "events" needs the built-in recorder, but recording.remux is ` +
          '"gstreamer"; set recording.remux to "builtin" or this camera\'s mode to "continuous"',
      );
    });
  }
  if (config.ntp.listen.length === 0) {
    config.cameras.forEach((c, i) => {
      if (c.onvif?.setNtp !== BOX_NTP) return;
      errors.push(
        `cameras[${i}].onvif.setNtp: "box" points the camera at the box's own NTP server, but it ` +
          'is off (ntp.listen is empty); turn it on in the local file (e.g. "ntp": { "listen": ' +
          '["0.0.0.0:123"] }) or give another NTP server',
      );
    });
  }
  const cameraIds = new Set(config.cameras.map((c) => c.id));
  for (const [id, plugin] of Object.entries(config.plugins)) {
    for (const camera of plugin.cameras) {
      if (!cameraIds.has(camera)) {
        errors.push(
          `plugins.${id}.cameras: no camera '${camera}' in cameras; use one of: ${
            [...cameraIds].join(", ") || "(none configured)"
          }`,
        );
      }
    }
  }
  if (errors.length > 0) throw new ConfigError(source, errors);
  return config;
}

/** The configuration that an empty file gives. */
export const DEFAULT_CONFIG: NvrConfig = validateConfig({}, "defaults");

function readSegmentSeconds(storage: ObjectReader): number {
  const value = storage.raw("segmentSeconds");
  if (value === undefined) return 60;
  const seconds = parseDurationSeconds(value);
  const [min, max] = range("storage.segmentSeconds");
  if (seconds === null || !Number.isInteger(seconds) || seconds < min || seconds > max) {
    storage.fail(
      "segmentSeconds",
      `${
        show(value)
      } is not allowed; allowed: whole seconds from ${min} to ${max}, e.g. 60 or "10m"`,
    );
    return 60;
  }
  return seconds;
}

/** A size in bytes (see size.ts) of at least `min`; a null fallback makes null allowed. */
function readSize(r: ObjectReader, name: string, fallback: number | null, min: number) {
  const value = r.raw(name);
  if (value === undefined || (value === null && fallback === null)) return fallback;
  const bytes = parseSizeBytes(value);
  if (bytes === null || bytes < min) {
    const least = min > 0 ? ` of at least ${min} bytes` : "";
    const orNull = fallback === null ? ", or null for none" : "";
    r.fail(
      name,
      `${show(value)} is not allowed; allowed: whole bytes or a size like "200M", "500G", ` +
        `"1.5T"${least}${orNull}`,
    );
    return fallback;
  }
  return bytes;
}

/** A number from min to max; a null fallback makes null allowed. */
function readNumber(
  r: ObjectReader,
  name: string,
  fallback: number | null,
  min: number,
  max: number,
) {
  const value = r.raw(name);
  if (value === undefined || (value === null && fallback === null)) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    const orNull = fallback === null ? ", or null" : "";
    r.fail(name, `${show(value)} is not allowed; allowed: a number from ${min} to ${max}${orNull}`);
    return fallback;
  }
  return value;
}

function readRequireMount(storage: ObjectReader, dataDir: string): string | null {
  const mount = storage.nullableString("requireMount");
  if (mount === null) return null;
  const bare = mount.replace(/\/+$/, "");
  const problem = !mount.startsWith("/")
    ? 'is not an absolute path; e.g. "/mnt/ssd"'
    : bare === ""
    ? 'is the root filesystem; give the recording disk\'s mount point, e.g. "/mnt/ssd"'
    : dataDir !== bare && !dataDir.startsWith(bare + "/")
    ? `does not contain storage.dataDir ${show(dataDir)}; put storage.dataDir on that disk, ` +
      `e.g. ${show(bare + "/nvr")}`
    : null;
  if (problem) {
    storage.fail("requireMount", `${show(mount)} ${problem}`);
    return null;
  }
  return bare;
}

/** The ntp section: the box's SNTP server's UDP listeners; none by default. */
function readNtp(ntp: ObjectReader | null): NtpConfig {
  const value = ntp?.raw("listen");
  if (!ntp || value === undefined) return { listen: [] };
  if (!Array.isArray(value) || value.length > 8) {
    ntp.fail("listen", `expected a list of up to 8 "host:port", got ${show(value)}`);
    return { listen: [] };
  }
  const listen: string[] = [];
  value.forEach((v, i) => {
    const problem = typeof v === "string" ? listenProblem(v, "0.0.0.0:123") : "is not a string";
    if (problem) ntp.fail(`listen[${i}]`, `${show(v)} ${problem}, or [] for no NTP server`);
    else if (listen.includes(v)) ntp.fail(`listen[${i}]`, `${show(v)} is listed twice`);
    else listen.push(v);
  });
  return { listen };
}

/** The http section: listener, TLS, the plain-HTTP redirect, extra names of the box. */
function readHttp(http: ObjectReader | null): HttpConfig {
  const tls = http?.oneOf("tls", "auto", HTTP_TLS) ?? "auto";
  const defaults: HttpConfig = {
    listen: "0.0.0.0:8080",
    auditRetentionDays: 365,
    loginHistoryDays: 90,
    tls,
    liveViewersPerCamera: 8,
    liveViewersTotal: 16,
    transcodesMax: null,
    certFile: null,
    keyFile: null,
    redirectListen: null,
    allowedHosts: [],
  };
  if (!http) return defaults;
  const file = (name: "certFile" | "keyFile") => {
    const path = http.nullableString(name);
    if (path === null) {
      if (tls === "files") {
        http.fail(name, `missing; http.tls "files" needs http.certFile and http.keyFile (PEM)`);
      }
      return null;
    }
    if (!path.startsWith("/")) {
      http.fail(name, `${show(path)} is not an absolute path; e.g. "/etc/nvr/https-${name}.pem"`);
      return null;
    }
    if (tls !== "files") {
      http.fail(name, `is set but http.tls is ${show(tls)}; set http.tls to "files" to use it`);
      return null;
    }
    return path;
  };
  const redirectListen = http.nullableString("redirectListen");
  if (redirectListen !== null) {
    const problem = listenProblem(redirectListen);
    if (problem) {
      http.fail("redirectListen", `${show(redirectListen)} ${problem}, or null for none`);
    } else if (tls === "off") {
      http.fail("redirectListen", 'is set but http.tls is "off": there is no HTTPS to redirect to');
    }
  }
  return {
    listen: http.string("listen", "0.0.0.0:8080", listenProblem),
    auditRetentionDays: http.integer(
      "auditRetentionDays",
      365,
      ...range("http.auditRetentionDays"),
    ),
    loginHistoryDays: http.integer("loginHistoryDays", 90, ...range("http.loginHistoryDays")),
    tls,
    liveViewersPerCamera: http.integer(
      "liveViewersPerCamera",
      8,
      ...range("http.liveViewersPerCamera"),
    ),
    liveViewersTotal: http.integer("liveViewersTotal", 16, ...range("http.liveViewersTotal")),
    transcodesMax: http.nullableInteger("transcodesMax", ...range("http.transcodesMax")),
    certFile: file("certFile"),
    keyFile: file("keyFile"),
    redirectListen: redirectListen !== null && !listenProblem(redirectListen)
      ? redirectListen
      : null,
    allowedHosts: readAllowedHosts(http),
  };
}

function readAllowedHosts(http: ObjectReader): string[] {
  const value = http.raw("allowedHosts");
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 32) {
    http.fail("allowedHosts", `expected a list of up to 32 host names, got ${show(value)}`);
    return [];
  }
  const hosts: string[] = [];
  value.forEach((v, i) => {
    if (typeof v !== "string" || v.length > 253 || !HOST_NAME.test(v)) {
      http.fail(
        `allowedHosts[${i}]`,
        `${show(v)} is not a host name or address; e.g. "nvr.example.lan" (no scheme or port)`,
      );
    } else hosts.push(v);
  });
  return hosts;
}

/** The mqtt section: broker, credentials, TLS files, health cadence, queue. */
function readMqtt(mqtt: ObjectReader | null): MqttConfig {
  const defaults: MqttConfig = {
    url: null,
    username: null,
    password: null,
    caFile: null,
    certFile: null,
    keyFile: null,
    healthIntervalSeconds: 30,
    queueMaxMessages: 10_000,
    clientId: null,
  };
  if (!mqtt) return defaults;
  const url = readMqttUrl(mqtt);
  const file = (name: "caFile" | "certFile" | "keyFile") => {
    const path = mqtt.nullableString(name);
    if (path === null) return null;
    if (!path.startsWith("/")) {
      mqtt.fail(name, `${show(path)} is not an absolute path; e.g. "/etc/nvr/fleet-${name}.pem"`);
      return null;
    }
    if (url !== null && !/^(mqtts|wss):/.test(url)) {
      mqtt.fail(name, `is set but mqtt.url ${show(url)} is not TLS; use an mqtts: or wss: URL`);
      return null;
    }
    return path;
  };
  const caFile = file("caFile");
  const certFile = file("certFile");
  const keyFile = file("keyFile");
  if ((certFile === null) !== (keyFile === null)) {
    const missing = certFile === null ? "certFile" : "keyFile";
    mqtt.fail(
      missing,
      "missing; mutual TLS needs both mqtt.certFile (the client certificate) and mqtt.keyFile " +
        "(its private key)",
    );
  }
  const clientId = mqtt.nullableString("clientId");
  if (clientId !== null && !/^[\x21-\x7e]{1,128}$/.test(clientId)) {
    mqtt.fail(
      "clientId",
      `${show(clientId)} is not allowed; allowed: 1 to 128 printable ASCII ` +
        "characters without spaces, or null for the deviceId",
    );
  }
  const username = mqtt.nullableString("username");
  const password = mqtt.nullableString("password");
  if (password !== null && username === null) {
    mqtt.fail("username", "missing; MQTT sends a password only with a user name: set both");
  }
  return {
    url,
    username,
    password,
    caFile,
    certFile,
    keyFile,
    healthIntervalSeconds: readHealthInterval(mqtt),
    queueMaxMessages: mqtt.integer("queueMaxMessages", 10_000, ...range("mqtt.queueMaxMessages")),
    clientId: clientId !== null && /^[\x21-\x7e]{1,128}$/.test(clientId) ? clientId : null,
  };
}

function readHealthInterval(mqtt: ObjectReader): number {
  const value = mqtt.raw("healthIntervalSeconds");
  if (value === undefined) return 30;
  const seconds = parseDurationSeconds(value);
  const [min, max] = range("mqtt.healthIntervalSeconds");
  if (seconds === null || !Number.isInteger(seconds) || seconds < min || seconds > max) {
    mqtt.fail(
      "healthIntervalSeconds",
      `${
        show(value)
      } is not allowed; allowed: whole seconds from ${min} to ${max}, e.g. 30 or "1m"`,
    );
    return 30;
  }
  return seconds;
}

function readMqttUrl(mqtt: ObjectReader): string | null {
  const url = mqtt.nullableString("url");
  if (url === null) return null;
  const problem = urlProblem(url, ["mqtt:", "mqtts:", "ws:", "wss:"]);
  if (problem) {
    mqtt.fail("url", `${show(url)} ${problem}`);
    return null;
  }
  return url;
}

/** Plugin ids as runtime/plugins/manifest.ts has them (config may not import it). */
const PLUGIN_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const PLUGIN_SETTING = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
export const MAX_PLUGINS = 32;

/**
 * `plugins`: the shape only (id → {enabled, settings} with flat values). Each plugin's settings
 * are checked against its manifest's schema when the daemon applies them (app/plugin_config.ts),
 * since the schema lives with the installed plugin, not here.
 */
function readPlugins(value: unknown, errors: string[]): Record<string, PluginConfig> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    errors.push(
      `plugins: expected an object of plugin id → {enabled, settings}, got ${show(value)}`,
    );
    return {};
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_PLUGINS) {
    errors.push(`plugins: ${entries.length} plugins; at most ${MAX_PLUGINS}`);
    return {};
  }
  const out: Record<string, PluginConfig> = {};
  for (const [id, raw] of entries) {
    if (!PLUGIN_ID.test(id)) {
      errors.push(
        `plugins.${id}: not a plugin id; use lower-case letters, digits and '-' (at most 32)`,
      );
      continue;
    }
    const r = ObjectReader.of(`plugins.${id}`, raw, errors);
    if (!r) continue;
    const enabled = r.boolean("enabled", false);
    const settings: Record<string, string | number | boolean> = {};
    const given = r.raw("settings");
    if (given !== undefined) {
      if (typeof given !== "object" || given === null || Array.isArray(given)) {
        r.fail("settings", `expected an object of setting → value, got ${show(given)}`);
      } else {
        for (const [key, v] of Object.entries(given)) {
          const ok = typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)) ||
            (typeof v === "string" && v.length <= 200);
          if (!PLUGIN_SETTING.test(key)) {
            r.fail(`settings.${key}`, "a setting name is a letter, then letters, digits or _");
          } else if (!ok) {
            r.fail(`settings.${key}`, `${show(v)}: a number, a string (≤ 200) or true/false`);
          } else settings[key] = v as string | number | boolean;
        }
        if (Object.keys(given).length > 32) r.fail("settings", "at most 32 settings");
      }
    }
    const cameras: string[] = [];
    const listed = r.raw("cameras");
    if (listed !== undefined) {
      if (!Array.isArray(listed) || listed.some((c) => typeof c !== "string")) {
        r.fail("cameras", `expected a list of camera ids, got ${show(listed)}`);
      } else if (listed.length > 64) r.fail("cameras", "at most 64 cameras");
      else cameras.push(...new Set(listed as string[]));
    }
    const keepMinutes = r.integer("keepMinutes", 0, ...range("plugins.<id>.keepMinutes"));
    if (keepMinutes > 0 && cameras.length === 0) {
      r.fail("keepMinutes", "keeps recordings of the plugin's cameras: list them in cameras");
    }
    r.rejectUnknown();
    out[id] = { enabled, settings, cameras, keepMinutes };
  }
  return out;
}

function readCameras(value: unknown, errors: string[]): CameraConfig[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    errors.push(`cameras: expected a list of cameras, got ${show(value)}`);
    return [];
  }
  if (value.length > MAX_CAMERAS) {
    errors.push(`cameras: ${value.length} cameras; at most ${MAX_CAMERAS} are allowed`);
  }
  const seen = new Set<string>();
  const cameras: CameraConfig[] = [];
  value.forEach((item, i) => {
    const cam = ObjectReader.of(`cameras[${i}]`, item, errors);
    if (!cam) return;
    const id = cam.string("id", "", (s) => CAMERA_ID.test(s) ? null : idRule);
    if (cam.raw("id") === undefined) cam.fail("id", "missing; every camera needs an id");
    if (id && seen.has(id)) {
      cam.fail("id", `${show(id)} is used by another camera; ids must differ`);
    }
    seen.add(id);
    const url = cam.string("url", "", (s) => urlProblem(s, null) ?? v4l2UrlProblem(s));
    if (cam.raw("url") === undefined) {
      cam.fail("url", 'missing; e.g. "rtsp://192.168.1.20:554/stream1"');
    }
    cameras.push({
      id,
      name: cam.string("name", id, nonEmpty),
      url,
      enabled: cam.boolean("enabled", true),
      transport: cam.oneOf("transport", "tcp", TRANSPORTS),
      codec: cam.oneOf("codec", "h265", CODECS),
      username: cam.nullableString("username"),
      password: cam.nullableString("password"),
      retentionDays: readNumber(cam, "retentionDays", null, ...range("cameras[].retentionDays")),
      ...readEventExtra(cam),
      subUrl: readSubUrl(cam),
      ...readCaFile(cam, url),
      ...readCaptureLimits(cam, url.startsWith("v4l2:")),
      ...readOnvif(cam, errors),
      ...readRecord(cam, url, errors),
    });
    cam.rejectUnknown();
  });
  return cameras;
}

/** cameras[].eventRetentionExtraDays: absent or null for none. */
function readEventExtra(cam: ObjectReader): { eventRetentionExtraDays?: number } {
  const days = readNumber(
    cam,
    "eventRetentionExtraDays",
    null,
    ...range("cameras[].eventRetentionExtraDays"),
  );
  return days === null ? {} : { eventRetentionExtraDays: days };
}

/**
 * cameras[].record: `{ mode, preRollSeconds?, postRollSeconds? }`, or absent/null (continuous).
 * `events` needs the built-in recorder (RTSP): a USB camera is refused here; one that GStreamer
 * records for another reason (re-encoding) records continuously and says so in health.
 */
function readRecord(
  cam: ObjectReader,
  url: string,
  errors: string[],
): { record?: CameraRecordConfig } {
  const value = cam.raw("record");
  if (value === undefined || value === null) return {};
  const r = ObjectReader.of(cam.key("record"), value, errors);
  if (!r) return {};
  const mode = r.oneOf("mode", "continuous", RECORD_MODES);
  const preRollSeconds =
    readNumber(r, "preRollSeconds", 5, ...range("cameras[].record.preRollSeconds")) ?? 5;
  const postRollSeconds =
    readNumber(r, "postRollSeconds", 30, ...range("cameras[].record.postRollSeconds")) ?? 30;
  if (mode === "events" && url.startsWith("v4l2:")) {
    r.fail(
      "mode",
      '"events" needs the built-in recorder, which records RTSP cameras; a USB camera records ' +
        'continuously: set "continuous" or drop record',
    );
  }
  r.rejectUnknown();
  return { record: { mode, preRollSeconds, postRollSeconds } };
}

/** The H.264 sub-stream for live view: an RTSP URL, or null for JPEG refresh. */
function readSubUrl(cam: ObjectReader): string | null {
  const url = cam.nullableString("subUrl");
  if (url === null) return null;
  const problem = urlProblem(url, ["rtsp:", "rtsps:"]);
  if (problem) {
    cam.fail("subUrl", `${show(url)} ${problem}`);
    return null;
  }
  return url;
}

/** cameras[].caFile: the PEM CA an rtsps:// camera's certificate must chain to; absent: none. */
function readCaFile(cam: ObjectReader, url: string): { caFile?: string } {
  const path = cam.nullableString("caFile");
  if (path === null) return {};
  if (!path.startsWith("/")) {
    cam.fail("caFile", `${show(path)} is not an absolute path; e.g. "/etc/nvr/camera-ca.pem"`);
    return {};
  }
  const subUrl = cam.raw("subUrl");
  if (!url.startsWith("rtsps:") && !(typeof subUrl === "string" && subUrl.startsWith("rtsps:"))) {
    cam.fail(
      "caFile",
      "is set but the camera's url is not rtsps://; use an rtsps:// URL or drop it",
    );
    return {};
  }
  return { caFile: path };
}

/** cameras[].onvif.setNtp: the box's own NTP server, at its address on the route to the camera. */
export const BOX_NTP = "box";
/** An NTP server as SetNTP takes it: a DNS name, an IPv4 address or an IPv6 address. */
const NTP_HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?|[0-9A-Fa-f:.]{2,45})$/;

/** cameras[].onvif: `{ url, username?, password?, setNtp? }`, or absent/null for none. */
function readOnvif(cam: ObjectReader, errors: string[]): { onvif?: CameraOnvifConfig } {
  const value = cam.raw("onvif");
  if (value === undefined || value === null) return {};
  const o = ObjectReader.of(cam.key("onvif"), value, errors);
  if (!o) return {};
  const url = o.string("url", "", (s) => urlProblem(s, ["http:", "https:"]));
  if (o.raw("url") === undefined) {
    o.fail("url", 'missing; e.g. "http://192.168.1.20/onvif/device_service"');
  }
  const username = o.nullableString("username");
  const password = o.nullableString("password");
  if (password !== null && username === null) {
    o.fail("username", "missing; give the ONVIF user name with its password, or neither");
  }
  const setNtp = o.nullableString("setNtp");
  if (setNtp !== null && !NTP_HOST.test(setNtp)) {
    o.fail(
      "setNtp",
      `"${setNtp.slice(0, 80)}" is not a host name or IP address; give the NTP server the ` +
        'camera should use (e.g. "192.168.1.1" or "pool.ntp.org"), "box" for the box\'s own, or ' +
        "null to leave its clock alone",
    );
  }
  o.rejectUnknown();
  if (url === "") return {};
  return { onvif: { url, username, password, ...(setNtp === null ? {} : { setNtp }) } };
}

/** A USB camera is `v4l2:///dev/…`: three slashes, an absolute device path. */
function v4l2UrlProblem(s: string): string | null {
  const url = new URL(s);
  if (url.protocol !== "v4l2:") return null;
  if (url.host !== "" || !url.pathname.startsWith("/dev/")) {
    return 'is not a USB camera URL; give the device path after "v4l2://", e.g. ' +
      '"v4l2:///dev/video0" or "v4l2:///dev/v4l/by-id/usb-…-video-index0"';
  }
  return null;
}

/** cameras[].width, height, fps: the largest capture mode to take, USB cameras only. */
function readCaptureLimits(
  cam: ObjectReader,
  usb: boolean,
): { width?: number; height?: number; fps?: number } {
  const limits: { width?: number; height?: number; fps?: number } = {};
  for (
    const [name, min, max] of [["width", 16, 7680], ["height", 16, 4320], ["fps", 1, 120]] as const
  ) {
    const value = cam.raw(name);
    if (value === undefined || value === null) continue;
    if (!usb) {
      cam.fail(
        name,
        `${show(value)} is for USB cameras (v4l2: URLs) only; an RTSP camera's ${name} is set ` +
          "in the camera itself",
      );
      continue;
    }
    const read = name === "fps"
      ? readNumber(cam, name, null, min, max)
      : cam.integer(name, 0, min, max);
    if (read) limits[name] = read;
  }
  return limits;
}

const idRule =
  "is not a valid id; use 1 to 32 letters, digits, '-' or '_', starting with a letter " +
  "or digit";

function absolutePath(s: string): string | null {
  return s.startsWith("/")
    ? null
    : 'is not an absolute path; e.g. "/usr/lib/nvr/licence-keys.json"';
}

function nonEmpty(s: string): string | null {
  return s.trim() === "" ? "is empty; give a value" : null;
}

function listenProblem(s: string, example = "0.0.0.0:8080"): string | null {
  const match = LISTEN.exec(s);
  const port = match ? Number(match[2]) : NaN;
  return match && port <= 65535 ? null : `is not host:port; e.g. "${example}"`;
}

/** Checks that a string parses as a URL, and its scheme when `schemes` is given. */
function urlProblem(s: string, schemes: readonly string[] | null): string | null {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return "is not a URL";
  }
  if (schemes && !schemes.includes(url.protocol)) {
    return `has scheme '${url.protocol}'; allowed: ${schemes.join(", ")}`;
  }
  return null;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const ED25519_KEY = /^[A-Za-z0-9_-]{43}$/;

/** The licence keys file's content; throws ConfigError naming the file and every bad key. */
export function validateLicencePolicy(raw: unknown, source: string): LicencePolicy {
  const errors: string[] = [];
  const top = ObjectReader.of("", raw, errors);
  if (!top) throw new ConfigError(source, errors);
  const policy: LicencePolicy = {
    publicKeys: readLicenceKeys(top, errors),
    graceDays: top.integer("graceDays", 14, 0, 365),
    unlicensedCameras: top.integer("unlicensedCameras", 0, 0, MAX_CAMERAS),
  };
  top.rejectUnknown();
  if (errors.length > 0) throw new ConfigError(source, errors);
  return policy;
}

function readLicenceKeys(
  licence: ObjectReader,
  errors: string[],
): { id: string; publicKey: string }[] {
  const value = licence.raw("publicKeys");
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    licence.fail("publicKeys", `expected a list of {id, publicKey}, got ${show(value)}`);
    return [];
  }
  return value.flatMap((item, i) => {
    const key = ObjectReader.of(`publicKeys[${i}]`, item, errors);
    if (!key) return [];
    const id = key.string(
      "id",
      "",
      (s) => KEY_ID.test(s) ? null : "is not a key id (1-64 of A-Z a-z 0-9 . _ -)",
    );
    const publicKey = key.string(
      "publicKey",
      "",
      (s) => ED25519_KEY.test(s) ? null : "is not a raw 32-byte Ed25519 public key in base64url",
    );
    if (key.raw("id") === undefined) key.fail("id", "missing");
    if (key.raw("publicKey") === undefined) key.fail("publicKey", "missing");
    key.rejectUnknown();
    return [{ id, publicKey }];
  });
}
