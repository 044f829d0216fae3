import { assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import { ConfigError, configPath, DEFAULT_CONFIG, loadConfig, validateConfig } from "./mod.ts";

const camera = { id: "cam1", url: "rtsp://10.0.0.5:554/main" };

function problems(raw: unknown): readonly string[] {
  try {
    validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

Deno.test("an empty config gives the documented defaults", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/config.md", import.meta.url));
  const block = /<!-- defaults -->\s*```json\n([\s\S]*?)```/.exec(doc);
  assertEquals(JSON.parse(block?.[1] ?? "null"), DEFAULT_CONFIG);
});

Deno.test("a camera gets its defaults filled in", () => {
  const config = validateConfig({ cameras: [camera] });
  assertEquals(config.cameras[0], {
    id: "cam1",
    name: "cam1",
    url: "rtsp://10.0.0.5:554/main",
    enabled: true,
    transport: "tcp",
    codec: "h265",
    username: null,
    password: null,
    retentionDays: null,
    subUrl: null,
  });
});

Deno.test("a USB camera takes optional capture limits; absent ones stay absent", () => {
  const [usb, plain] = validateConfig({
    cameras: [
      { id: "usb", url: "v4l2:///dev/v4l/by-id/usb-046d_C920-video-index0", width: 1280, fps: 7.5 },
      { id: "usb2", url: "v4l2:///dev/video2", height: null },
    ],
  }).cameras;
  assertEquals([usb?.width, usb?.height, usb?.fps], [1280, undefined, 7.5]);
  assertEquals(plain && ["width", "height", "fps"].filter((k) => k in plain), []);
});

Deno.test("durations are accepted as seconds or with a unit", () => {
  assertEquals(validateConfig({ storage: { segmentSeconds: "2m" } }).storage.segmentSeconds, 120);
  assertEquals(validateConfig({ storage: { segmentSeconds: 10 } }).storage.segmentSeconds, 10);
});

Deno.test("sizes are bytes or a number with K, M, G or T (powers of 1024)", () => {
  const storage = validateConfig({
    storage: {
      dataDir: "/mnt/ssd/nvr",
      requireMount: "/mnt/ssd/",
      maxBytes: "1.5T",
      minFreeBytes: "200M",
      minFreePercent: 2.5,
      retentionDays: 30,
    },
  }).storage;
  assertEquals(storage.maxBytes, 1.5 * 2 ** 40);
  assertEquals(storage.minFreeBytes, 200 * 2 ** 20);
  assertEquals(storage.minFreePercent, 2.5);
  assertEquals(storage.retentionDays, 30);
  assertEquals(storage.requireMount, "/mnt/ssd");
  for (
    const [value, bytes] of [[4194304, 4194304], ["500G", 500 * 2 ** 30], ["500GiB", 500 * 2 ** 30]]
  ) {
    assertEquals(validateConfig({ storage: { maxBytes: value } }).storage.maxBytes, bytes);
  }
  assertEquals(validateConfig({ storage: { maxBytes: null } }).storage.maxBytes, null);
  assertEquals(
    validateConfig({ cameras: [{ ...camera, retentionDays: 7 }] }).cameras[0]?.retentionDays,
    7,
  );
});

Deno.test("each bad config names the key, the value and what is allowed", () => {
  const table: Array<[unknown, string[]]> = [
    [[], ["(top level): expected an object, got []"]],
    [{ colour: "red" }, [
      "colour: unknown key; known keys here: analytics, cameras, clock, device, http, licence, log, mqtt, ntp, plugins, provision, recording, storage, update",
    ]],
    [{ storage: { dataDir: 5 } }, ["storage.dataDir: expected a string, got 5"]],
    [{ storage: { segmentSeconds: 1 } }, [
      'storage.segmentSeconds: 1 is not allowed; allowed: whole seconds from 2 to 3600, e.g. 60 or "10m"',
    ]],
    [{ storage: { segmentSeconds: "soon" } }, [
      'storage.segmentSeconds: "soon" is not allowed; allowed: whole seconds from 2 to 3600, e.g. 60 or "10m"',
    ]],
    [{ storage: { requireMount: "mnt/ssd" } }, [
      'storage.requireMount: "mnt/ssd" is not an absolute path; e.g. "/mnt/ssd"',
    ]],
    [{ storage: { requireMount: "/" } }, [
      'storage.requireMount: "/" is the root filesystem; give the recording disk\'s mount point, e.g. "/mnt/ssd"',
    ]],
    [{ storage: { requireMount: "/mnt/ssd" } }, [
      'storage.requireMount: "/mnt/ssd" does not contain storage.dataDir "/var/lib/nvr"; put storage.dataDir on that disk, e.g. "/mnt/ssd/nvr"',
    ]],
    [{ storage: { maxBytes: "lots" } }, [
      'storage.maxBytes: "lots" is not allowed; allowed: whole bytes or a size like "200M", "500G", "1.5T" of at least 1048576 bytes, or null for none',
    ]],
    [{ storage: { minFreeBytes: -1 } }, [
      'storage.minFreeBytes: -1 is not allowed; allowed: whole bytes or a size like "200M", "500G", "1.5T"',
    ]],
    [{ storage: { minFreePercent: 90 } }, [
      "storage.minFreePercent: 90 is not allowed; allowed: a number from 0 to 50",
    ]],
    [{ storage: { retentionDays: 0 } }, [
      "storage.retentionDays: 0 is not allowed; allowed: a number from 0.01 to 3650, or null",
    ]],
    [{ cameras: [{ ...camera, retentionDays: "7d" }] }, [
      'cameras[0].retentionDays: "7d" is not allowed; allowed: a number from 0.01 to 3650, or null',
    ]],
    [{ http: { listen: "8080" } }, [
      'http.listen: "8080" is not host:port; e.g. "0.0.0.0:8080"',
    ]],
    [{ mqtt: { url: "http://broker" } }, [
      "mqtt.url: \"http://broker\" has scheme 'http:'; allowed: mqtt:, mqtts:, ws:, wss:",
    ]],
    [{ mqtt: { url: "mqtt://broker:1883", caFile: "/etc/nvr/ca.pem" } }, [
      'mqtt.caFile: is set but mqtt.url "mqtt://broker:1883" is not TLS; use an mqtts: or wss: URL',
    ]],
    [{ mqtt: { url: "mqtts://broker", certFile: "client.pem", keyFile: "/k.pem" } }, [
      'mqtt.certFile: "client.pem" is not an absolute path; e.g. "/etc/nvr/fleet-certFile.pem"',
      "mqtt.certFile: missing; mutual TLS needs both mqtt.certFile (the client certificate) and mqtt.keyFile (its private key)",
    ]],
    [{ mqtt: { url: "mqtts://broker", keyFile: "/k.pem" } }, [
      "mqtt.certFile: missing; mutual TLS needs both mqtt.certFile (the client certificate) and mqtt.keyFile (its private key)",
    ]],
    [{ mqtt: { healthIntervalSeconds: 0 } }, [
      'mqtt.healthIntervalSeconds: 0 is not allowed; allowed: whole seconds from 1 to 3600, e.g. 30 or "1m"',
    ]],
    [{ mqtt: { queueMaxMessages: 10 } }, [
      "mqtt.queueMaxMessages: 10 is out of range; allowed: 100 to 1000000",
    ]],
    [{ mqtt: { clientId: "my box" } }, [
      'mqtt.clientId: "my box" is not allowed; allowed: 1 to 128 printable ASCII characters without spaces, or null for the deviceId',
    ]],
    [{ mqtt: { rebootCommand: "systemctl reboot" } }, [
      "mqtt.rebootCommand: unknown key; known keys here: caFile, certFile, clientId, healthIntervalSeconds, keyFile, password, queueMaxMessages, url, username",
    ]],
    [{ licence: { publicKeys: [] } }, [
      "licence.publicKeys: unknown key; known keys here: keysFile",
    ]],
    [{ mqtt: { password: "secret" } }, [
      "mqtt.username: missing; MQTT sends a password only with a user name: set both",
    ]],
    [{ analytics: { enabled: "yes" } }, ['analytics.enabled: expected true or false, got "yes"']],
    [{ analytics: { share: true } }, ["analytics.share: unknown key; known keys here: enabled"]],
    [{ log: { level: "loud" } }, [
      'log.level: "loud" is not allowed; allowed: "debug", "info", "warn", "error"',
    ]],
    [{ cameras: {} }, ["cameras: expected a list of cameras, got {}"]],
    [{ cameras: [{ url: "rtsp://x/y" }] }, ["cameras[0].id: missing; every camera needs an id"]],
    [{ cameras: [{ id: "a b", url: "rtsp://x/y" }] }, [
      "cameras[0].id: \"a b\" is not a valid id; use 1 to 32 letters, digits, '-' or '_', starting with a letter or digit",
    ]],
    [{ cameras: [camera, camera] }, [
      'cameras[1].id: "cam1" is used by another camera; ids must differ',
    ]],
    [{ cameras: [{ id: "c", url: "not a url" }] }, ['cameras[0].url: "not a url" is not a URL']],
    [{ cameras: [{ id: "c", url: "rtsp://x/y", subUrl: "x" }] }, [
      'cameras[0].subUrl: "x" is not a URL',
    ]],
    [{ cameras: [{ id: "c" }] }, [
      'cameras[0].url: missing; e.g. "rtsp://192.168.1.20:554/stream1"',
    ]],
    [{ cameras: [{ ...camera, transport: "sctp" }] }, [
      'cameras[0].transport: "sctp" is not allowed; allowed: "tcp", "udp"',
    ]],
    [{ cameras: [{ ...camera, enabled: "yes" }] }, [
      'cameras[0].enabled: expected true or false, got "yes"',
    ]],
    [{ cameras: [{ ...camera, bitrate: 30 }] }, [
      "cameras[0].bitrate: unknown key; known keys here: caFile, codec, enabled, eventRetentionExtraDays, fps, height, id, name, onvif, password, record, retentionDays, subUrl, transport, url, username, width",
    ]],
    [{ clock: { trust: "ntp" } }, [
      'clock.trust: "ntp" is not allowed; allowed: "auto", "always"',
    ]],
    [{ cameras: [{ ...camera, fps: 30 }] }, [
      "cameras[0].fps: 30 is for USB cameras (v4l2: URLs) only; an RTSP camera's fps is set in the camera itself",
    ]],
    [{ cameras: [{ id: "usb", url: "v4l2://dev/video0" }] }, [
      'cameras[0].url: "v4l2://dev/video0" is not a USB camera URL; give the device path after "v4l2://", e.g. "v4l2:///dev/video0" or "v4l2:///dev/v4l/by-id/usb-…-video-index0"',
    ]],
    [{ cameras: [{ id: "usb", url: "v4l2:///dev/video0", width: 1279.5, fps: 0 }] }, [
      "cameras[0].width: expected a whole number from 16 to 7680, got 1279.5",
      "cameras[0].fps: 0 is not allowed; allowed: a number from 1 to 120, or null",
    ]],
  ];
  for (const [raw, expected] of table) {
    assertEquals(problems(raw), expected, JSON.stringify(raw));
  }
});

Deno.test("the fleet link's mqtt keys and analytics consent", () => {
  const config = validateConfig({
    mqtt: {
      url: "mqtts://fleet.example.com:8883",
      username: "box",
      password: "secret",
      caFile: "/etc/nvr/ca.pem",
      certFile: "/etc/nvr/client.pem",
      keyFile: "/etc/nvr/client.key",
      healthIntervalSeconds: "1m",
      queueMaxMessages: 500,
      clientId: "nvr-0001",
    },
    analytics: { enabled: true },
  });
  assertEquals(config.mqtt, {
    url: "mqtts://fleet.example.com:8883",
    username: "box",
    password: "secret",
    caFile: "/etc/nvr/ca.pem",
    certFile: "/etc/nvr/client.pem",
    keyFile: "/etc/nvr/client.key",
    healthIntervalSeconds: 60,
    queueMaxMessages: 500,
    clientId: "nvr-0001",
  });
  assertEquals(config.analytics.enabled, true);
  assertEquals(DEFAULT_CONFIG.analytics.enabled, false);
});

Deno.test("all problems are reported at once", () => {
  assertEquals(problems({ http: { listen: 1 }, log: { level: 2 } }).length, 2);
});

Deno.test("loadConfig: missing file, bad JSON, env overrides", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = `${dir}/nope.json`;
    const err = await assertRejects(() => loadConfig(missing, {}), ConfigError);
    assertEquals(err.problems, ["cannot read the config file: the file does not exist"]);

    const bad = `${dir}/bad.json`;
    await Deno.writeTextFile(bad, "{ cameras: [ }");
    const badErr = await assertRejects(() => loadConfig(bad, {}), ConfigError);
    assertEquals(badErr.problems[0]?.startsWith("not valid JSON:"), true);

    const good = `${dir}/good.json`;
    await Deno.writeTextFile(good, JSON.stringify({ storage: { dataDir: "/a" } }));
    const config = await loadConfig(good, {
      NVR_DATA_DIR: "/b",
      NVR_LISTEN: "127.0.0.1:9000",
      NVR_MQTT_URL: "mqtt://127.0.0.1:1883",
    });
    assertEquals(config.storage.dataDir, "/b");
    assertEquals(config.http.listen, "127.0.0.1:9000");
    assertEquals(config.mqtt.url, "mqtt://127.0.0.1:1883");

    const envErr = await assertRejects(
      () => loadConfig(good, { NVR_LISTEN: "nowhere" }),
      ConfigError,
    );
    assertEquals(envErr.message.includes("with NVR_LISTEN from the environment"), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig: a relative storage.dataDir is resolved once, against the working directory", async () => {
  // The demo's ".demo/data" once reached an export's ffmpeg list, written in a temporary folder,
  // as a relative path: ffmpeg looked for the segments there and the export failed.
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/relative.json`;
    await Deno.writeTextFile(file, JSON.stringify({ storage: { dataDir: ".demo/data" } }));
    assertEquals((await loadConfig(file, {})).storage.dataDir, `${Deno.cwd()}/.demo/data`);
    assertEquals(
      (await loadConfig(file, { NVR_DATA_DIR: "rel" })).storage.dataDir,
      `${Deno.cwd()}/rel`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("configPath: flag beats environment", () => {
  assertEquals(configPath(["--config", "a.json"], { NVR_CONFIG: "b.json" }), "a.json");
  assertEquals(configPath(["--config=c.json"], {}), "c.json");
  assertEquals(configPath([], { NVR_CONFIG: "b.json" }), "b.json");
  assertEquals(configPath([], {}), null);
  assertThrows(() => configPath(["--config"], {}), ConfigError, "--config needs a file path");
});

Deno.test("the shipped demo and example configs are valid", async () => {
  for (const file of ["../../hw-tests/sim/demo.config.json", "../../docs/config.example.json"]) {
    const path = new URL(file, import.meta.url).pathname;
    await loadConfig(path, {});
  }
});

Deno.test("update.rebootWindow: HH:MM-HH:MM or null, a bad one named", () => {
  assertEquals(
    validateConfig({ update: { rebootWindow: "23:00-01:00" } }).update.rebootWindow,
    "23:00-01:00",
  );
  assertEquals(validateConfig({}).update.rebootWindow, null);
  assertEquals(problems({ update: { rebootWindow: "2-4" } }), [
    'update.rebootWindow: "2-4" is not a window; e.g. "02:00-04:00" (local time), or null',
  ]);
  assertEquals(problems({ update: { rebootWindow: "02:00-02:00", url: "x" } }), [
    'update.rebootWindow: "02:00-02:00" is not a window; e.g. "02:00-04:00" (local time), or null',
    "update.url: unknown key; known keys here: rebootWindow",
  ]);
});

Deno.test("plugins: id → {enabled, settings}, each bad entry named", () => {
  assertEquals(
    validateConfig({
      plugins: {
        "serial-sensor": { enabled: true, settings: { highC: 30, port: "/dev/ttyUSB0" } },
      },
    }).plugins,
    {
      "serial-sensor": {
        enabled: true,
        settings: { highC: 30, port: "/dev/ttyUSB0" },
        cameras: [],
        keepMinutes: 0,
      },
    },
  );
  assertEquals(validateConfig({ plugins: { a: {} } }).plugins, {
    a: { enabled: false, settings: {}, cameras: [], keepMinutes: 0 },
  });
  assertEquals(problems({ plugins: [] }), [
    "plugins: expected an object of plugin id → {enabled, settings}, got []",
  ]);
  assertEquals(
    problems({
      plugins: {
        "../x": {},
        b: { enabled: "yes", settings: { deep: { a: 1 } }, permissions: {} },
      },
    }),
    [
      "plugins.../x: not a plugin id; use lower-case letters, digits and '-' (at most 32)",
      'plugins.b.enabled: expected true or false, got "yes"',
      'plugins.b.settings.deep: {"a":1}: a number, a string (≤ 200) or true/false',
      "plugins.b.permissions: unknown key; known keys here: cameras, enabled, keepMinutes, settings",
    ],
  );
});
