import { assertEquals } from "../testing/assert.ts";
import { ConfigError, validateConfig } from "./mod.ts";
import { remoteConfig } from "./remote_keys.ts";
import { redactConfig } from "../fleet/redact.ts";
import { REDACTED } from "./redacted.ts";

const cam = { id: "door", url: "rtsp://192.168.1.20/main" };

function problems(raw: unknown): readonly string[] {
  try {
    validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

Deno.test("cameras[].onvif: the device service with optional credentials; absent stays absent", () => {
  const [a, b, c] = validateConfig({
    cameras: [
      { ...cam, onvif: { url: "http://192.168.1.20/onvif/device_service" } },
      {
        ...cam,
        id: "yard",
        onvif: { url: "https://[fe80::2]:8443/onvif/device_service", username: "o", password: "p" },
      },
      { ...cam, id: "gate", onvif: null },
    ],
  }).cameras;
  assertEquals(a?.onvif, {
    url: "http://192.168.1.20/onvif/device_service",
    username: null,
    password: null,
  });
  assertEquals(b?.onvif?.username, "o");
  assertEquals(c && "onvif" in c, false);
});

Deno.test("cameras[].onvif: bad values are named with what to do", () => {
  assertEquals(problems({ cameras: [{ ...cam, onvif: "10.0.0.2" }] }), [
    'cameras[0].onvif: expected an object, got "10.0.0.2"',
  ]);
  assertEquals(problems({ cameras: [{ ...cam, onvif: { url: "rtsp://x/y", port: 1 } }] }), [
    `cameras[0].onvif.url: "rtsp://x/y" has scheme 'rtsp:'; allowed: http:, https:`,
    "cameras[0].onvif.port: unknown key; known keys here: password, setNtp, url, username",
  ]);
  assertEquals(problems({ cameras: [{ ...cam, onvif: { password: "p" } }] }), [
    'cameras[0].onvif.url: missing; e.g. "http://192.168.1.20/onvif/device_service"',
    "cameras[0].onvif.username: missing; give the ONVIF user name with its password, or neither",
  ]);
});

Deno.test("cameras[].onvif.setNtp: a host name or IP address, absent when not set; anything else named", () => {
  const onvif = (setNtp: unknown) => ({ url: "http://10.0.0.2/onvif/device_service", setNtp });
  const [a, b, c, d] = validateConfig({
    cameras: [
      { ...cam, onvif: onvif("192.168.1.1") },
      { ...cam, id: "b", onvif: onvif("pool.ntp.org") },
      { ...cam, id: "c", onvif: onvif("fd00::1") },
      { ...cam, id: "d", onvif: onvif(null) },
    ],
  }).cameras;
  assertEquals([a?.onvif?.setNtp, b?.onvif?.setNtp, c?.onvif?.setNtp], [
    "192.168.1.1",
    "pool.ntp.org",
    "fd00::1",
  ]);
  assertEquals(d?.onvif && "setNtp" in d.onvif, false);
  for (const bad of ["ntp://pool.ntp.org", "a b", "<x>", ""]) {
    assertEquals(problems({ cameras: [{ ...cam, onvif: onvif(bad) }] }), [
      `cameras[0].onvif.setNtp: "${bad}" is not a host name or IP address; give the NTP server ` +
      'the camera should use (e.g. "192.168.1.1" or "pool.ntp.org"), "box" for the box\'s own, ' +
      "or null to leave its clock alone",
    ]);
  }
});

Deno.test('cameras[].onvif.setNtp "box": only with the box\'s NTP server on (ntp.listen), else refused saying how', () => {
  const onvif = { url: "http://10.0.0.2/onvif/device_service", setNtp: "box" };
  const on = validateConfig({ ntp: { listen: ["0.0.0.0:123"] }, cameras: [{ ...cam, onvif }] });
  assertEquals(on.cameras[0]?.onvif?.setNtp, "box");
  assertEquals(problems({ cameras: [{ ...cam, onvif }] }), [
    'cameras[0].onvif.setNtp: "box" points the camera at the box\'s own NTP server, but it is off ' +
    '(ntp.listen is empty); turn it on in the local file (e.g. "ntp": { "listen": ["0.0.0.0:123"] }) ' +
    "or give another NTP server",
  ]);
});

Deno.test("ntp.listen: host:port listeners, none by default; bad ones named", () => {
  assertEquals(validateConfig({}).ntp, { listen: [] });
  assertEquals(validateConfig({ ntp: { listen: ["0.0.0.0:123", "[::]:123"] } }).ntp.listen, [
    "0.0.0.0:123",
    "[::]:123",
  ]);
  assertEquals(problems({ ntp: { listen: "0.0.0.0:123" } }), [
    'ntp.listen: expected a list of up to 8 "host:port", got "0.0.0.0:123"',
  ]);
  assertEquals(problems({ ntp: { listen: ["123", 5, "0.0.0.0:123", "0.0.0.0:123"], port: 1 } }), [
    'ntp.listen[0]: "123" is not host:port; e.g. "0.0.0.0:123", or [] for no NTP server',
    "ntp.listen[1]: 5 is not a string, or [] for no NTP server",
    'ntp.listen[3]: "0.0.0.0:123" is listed twice',
    "ntp.port: unknown key; known keys here: listen",
  ]);
});

Deno.test("cameras[].onvif.password never leaves the box, and the marker round trip keeps it", () => {
  const current = validateConfig({
    cameras: [{
      ...cam,
      onvif: {
        url: "http://u:pw@10.0.0.2/onvif/device_service",
        username: "admin",
        password: "s3cret",
      },
    }],
  });
  const shown = redactConfig(current) as { cameras: { onvif: Record<string, unknown> }[] };
  assertEquals(shown.cameras[0]?.onvif.password, REDACTED);
  assertEquals(JSON.stringify(shown).includes("s3cret"), false);
  assertEquals(JSON.stringify(shown).includes(":pw@"), false);
  const back = remoteConfig(shown, current, { by: "test", source: "test", markerFrom: "test" });
  assertEquals(back.cameras[0]?.onvif, current.cameras[0]?.onvif);
});
