import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { REMOTE_KEYS, remoteConfig } from "./remote_keys.ts";
import { formKey, type SettingField, settingsChange, settingsSchema } from "./settings_schema.ts";
import { ConfigError, validateConfig } from "./validate.ts";

const CURRENT = validateConfig({
  cameras: [
    { id: "gate", url: "rtsp://cam:pw@10.0.0.5/stream1" },
    { id: "yard", url: "rtsp://10.0.0.6/s", record: { mode: "events" } },
  ],
});
const BY = { by: "through the API", source: "test", markerFrom: "GET /api/config" };

Deno.test("the settings schema lists exactly the allowlisted keys, and nothing else", () => {
  const keys = settingsSchema(CURRENT).keys.map((k) => k.key);
  assertEquals(keys.sort(), Object.keys(REMOTE_KEYS).sort());
  const text = JSON.stringify(settingsSchema(CURRENT));
  for (const locked of ["mqtt.url", "storage.dataDir", "http.listen", "licence", "pw@"]) {
    assert(!text.includes(locked), `${locked} in the schema`);
  }
});

/** A config with `value` at `key` (a top-level key, or a camera field of camera 0). */
function withValue(field: SettingField, value: unknown): unknown {
  // One continuous camera: "events" on another would refuse recording.remux "gstreamer".
  const raw = structuredClone({
    ...CURRENT,
    cameras: CURRENT.cameras.slice(0, 1),
  }) as unknown as Record<string, Record<string, unknown>>;
  if (field.section === "cameras") {
    const cam = (raw.cameras as unknown as Record<string, unknown>[])[0] ?? {};
    const [a = "", b] = field.key.split(".");
    if (b) cam[a] = { mode: "continuous", [b]: value };
    else cam[a] = value;
  } else {
    const [section = "", name = ""] = field.key.split(".");
    (raw[section] ?? {})[name] = value;
  }
  return raw;
}

Deno.test("each bound and choice in the schema is the validator's own", () => {
  const schema = settingsSchema(CURRENT).keys;
  const fields = [
    ...schema.filter((k) => k.section !== "plugins" && k.key !== "cameras"),
    ...(schema.find((k) => k.key === "cameras")?.fields ?? []),
  ];
  const ok = (f: SettingField, v: unknown) => validateConfig(withValue(f, v));
  const bad = (f: SettingField, v: unknown) => {
    let refused = false;
    try {
      ok(f, v);
    } catch (err) {
      refused = err instanceof ConfigError;
    }
    assert(refused, `${f.key} = ${v} accepted`);
  };
  let checked = 0;
  for (const f of fields) {
    if (f.min !== undefined && f.max !== undefined) {
      ok(f, f.min);
      ok(f, f.max);
      bad(f, f.max + 1);
      if (f.min > 0 || f.type === "integer") bad(f, f.min - (f.type === "integer" ? 1 : 0.001));
      if (f.type === "integer") bad(f, f.min + 0.5);
      checked++;
    }
    if (f.values) {
      for (const v of f.values) ok(f, v);
      bad(f, "no-such-choice");
      checked++;
    }
    if (f.type === "size" && f.min !== undefined) {
      ok(f, f.min);
      if (f.min > 0) bad(f, f.min - 1);
      checked++;
    }
    if (f.pattern) {
      ok(f, "02:00-04:00");
      assert(new RegExp(f.pattern).test("02:00-04:00"));
      assert(!new RegExp(f.pattern).test("25:00-04:00"));
      bad(f, "25:00-04:00");
      checked++;
    }
  }
  assert(checked >= 20, `only ${checked} fields checked`);
});

Deno.test("settings changes: a key and a camera's field change, everything else stays", () => {
  const raw = settingsChange(
    {
      "http.transcodesMax": 3,
      "cameras.gate.record.mode": "events",
      "cameras.yard.enabled": false,
    },
    CURRENT,
    "test",
  );
  const next = remoteConfig(raw, CURRENT, BY);
  assertEquals(next.http.transcodesMax, 3);
  assertEquals(next.cameras[0]?.record?.mode, "events");
  assertEquals(next.cameras[0]?.url, "rtsp://cam:pw@10.0.0.5/stream1");
  assertEquals(next.cameras[1]?.enabled, false);
  assertEquals({ ...next, http: null, cameras: null }, { ...CURRENT, http: null, cameras: null });
});

Deno.test("attack: settings change names a locked key, an unknown key or a camera's URL — refused by name", () => {
  for (
    const [key, value] of [
      ["mqtt.url", "mqtt://evil.example:1883"],
      ["storage.dataDir", "/"],
      ["cameras.gate.url", "v4l2:///etc/shadow"],
      ["cameras.gate.onvif", null],
      ["plugins.serial-sensor.enabled", true],
      ["__proto__.polluted", 1],
      ["cameras.nope.enabled", false],
    ] as const
  ) {
    const err = assertThrows(
      () => settingsChange(JSON.parse(JSON.stringify({ [key]: value })), CURRENT, "test"),
      ConfigError,
    );
    assert(err.problems[0]?.startsWith(`${key}: `), err.problems[0]);
  }
  assertEquals(({} as Record<string, unknown>).polluted, undefined);
  assertThrows(() => settingsChange([], CURRENT, "test"), ConfigError, "changes:");
});

Deno.test("an out-of-range change is refused by the validator, named as the form names it", () => {
  const raw = settingsChange({ "cameras.yard.record.preRollSeconds": 99 }, CURRENT, "test");
  const err = assertThrows(() => remoteConfig(raw, CURRENT, BY), ConfigError);
  const first = err.problems[0] ?? "";
  assertEquals(
    formKey(first.slice(0, first.indexOf(": ")), CURRENT.cameras),
    "cameras.yard.record.preRollSeconds",
  );
});
