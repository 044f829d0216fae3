/** The protocol's validators, its examples and the generated docs/fleet-protocol.md. */
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { DOC_PATH, renderProtocolDoc } from "./protocol_doc.ts";
import {
  decodeJson,
  deviceTopics,
  parseCommand,
  parseConfigDesired,
  ProtocolError,
  TOPICS,
} from "./schema.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

Deno.test("every command example in the topic table passes its validator", () => {
  const cmd = TOPICS.find((t) => t.topic === "cmd/<requestId>");
  assert(cmd && cmd.examples.length === 15);
  for (const example of cmd.examples) parseCommand(example);
  const desired = TOPICS.find((t) => t.topic === "config/desired");
  for (const example of desired?.examples ?? []) parseConfigDesired(example);
});

Deno.test("commands: each bad one names the key, the value and what is allowed", () => {
  const table: Array<[unknown, string, string]> = [
    [[], "bad-request", "command: (top level): expected an object, got []"],
    [
      {},
      "bad-request",
      "cmd: expected a command name, got nothing; known: ping, restart-camera, get-config, apply-config, reboot, snapshot, discover-cameras, onvif-profiles, add-camera, update, plugin, ptz",
    ],
    [
      { cmd: "dance" },
      "unknown-command",
      'cmd: "dance" is not a command of this device; known: ping, restart-camera, get-config, apply-config, reboot, snapshot, discover-cameras, onvif-profiles, add-camera, update, plugin, ptz',
    ],
    [{ cmd: "snapshot", camera: 7 }, "bad-request", "snapshot: camera: expected a string, got 7"],
    [
      { cmd: "ping", expiresAt: "soon" },
      "bad-request",
      'ping: expiresAt: expected milliseconds since the epoch, got "soon"',
    ],
    [
      { cmd: "apply-config", config: {}, version: 1.5 },
      "bad-request",
      "apply-config: version: expected a whole number from 1 to 2^53, got 1.5",
    ],
    [
      { cmd: "reboot", now: true },
      "bad-request",
      "reboot: now: unknown key; known keys here: cmd, expiresAt",
    ],
  ];
  for (const [raw, code, message] of table) {
    const err = assertThrows(() => parseCommand(raw), ProtocolError);
    assertEquals([err.code, err.message], [code, message], JSON.stringify(raw));
  }
  assertEquals(parseCommand({ cmd: "snapshot", camera: "door", expiresAt: 5 }), {
    cmd: "snapshot",
    camera: "door",
    expiresAt: 5,
  });
});

Deno.test("decodeJson: size limit, UTF-8, JSON", () => {
  assertEquals(decodeJson(utf8('{"a":1}'), 100), { a: 1 });
  assertEquals(
    assertThrows(() => decodeJson(utf8("x".repeat(101)), 100), ProtocolError).code,
    "too-large",
  );
  assertEquals(
    assertThrows(() => decodeJson(new Uint8Array([0xc3]), 100), ProtocolError).code,
    "bad-json",
  );
  assertEquals(assertThrows(() => decodeJson(utf8("{a:1}"), 100), ProtocolError).code, "bad-json");
});

Deno.test("config/desired needs a version and a config object", () => {
  const err = assertThrows(() => parseConfigDesired({ config: [] }), ProtocolError);
  assertEquals(err.problems, [
    "version: expected a whole number from 1 to 2^53, got nothing",
    "config: expected the configuration object, got []",
  ]);
});

Deno.test("topics: a deviceId that would break a topic is refused", () => {
  assertEquals(deviceTopics("nvr-1").cmdResult("r1"), "nvr/v1/nvr-1/cmd-result/r1");
  for (const bad of ["", "a/b", "a+b", "#", "a b"]) {
    assertThrows(() => deviceTopics(bad), ProtocolError, "cannot be used in a topic");
  }
});

Deno.test("docs/fleet-protocol.md is generated from schema.ts and up to date", async () => {
  const source = await Deno.readTextFile(new URL("./schema.ts", import.meta.url));
  // deno fmt rewraps prose, pads tables and formats code blocks: compare without whitespace.
  const normal = (s: string) => s.replace(/-{3,}/g, "---").replace(/\s+/g, "");
  const doc = await Deno.readTextFile(DOC_PATH);
  assert(
    normal(doc) === normal(renderProtocolDoc(source)),
    "docs/fleet-protocol.md is out of date: run " +
      "`deno run -A runtime/fleet/protocol_doc.ts --write`",
  );
  for (const spec of TOPICS) assert(doc.includes(spec.topic.replace(/^nvr\/v1\//, "")), spec.topic);
});

Deno.test("update: url, size, sha256 and version are checked, each bad one named", () => {
  const good = {
    cmd: "update" as const,
    url: "https://updates.example.com/b.raucb",
    size: 1000,
    sha256: "AB".repeat(32),
    version: "0.2.0",
  };
  assertEquals(parseCommand(good), { ...good, sha256: "ab".repeat(32) });
  assertEquals(
    parseCommand({ ...good, url: "http://127.0.0.1:8000/b", reboot: "window" }).cmd,
    "update",
  );
  parseCommand({ ...good, url: "http://[::1]:8000/b" });
  const table: Array<[Record<string, unknown>, string]> = [
    [
      { url: "http://updates.example.com/b" },
      'update: url: "http://updates.example.com/b" is not allowed; use https: (http: only to 127.0.0.1 or [::1])',
    ],
    [
      { url: "file:///etc/shadow" },
      'update: url: "file:///etc/shadow" is not allowed; use https: (http: only to 127.0.0.1 or [::1])',
    ],
    [
      { url: "https://u:p@example.com/b" },
      'update: url: "https://u:p@example.com/b" carries a user name or password; use a token in the path',
    ],
    [{ size: 0 }, "update: size: expected the bundle's size in bytes, 1 to 4294967296, got 0"],
    [{ size: "1" }, 'update: size: expected the bundle\'s size in bytes, 1 to 4294967296, got "1"'],
    [{ sha256: "xyz" }, 'update: sha256: "xyz" is not a SHA-256; give 64 hex digits'],
    [
      { version: "latest" },
      'update: version: "latest" is not a version; e.g. "0.2.0" or "0.2.0-rc.1"',
    ],
    [
      { version: "1.0.0; reboot" },
      'update: version: "1.0.0; reboot" is not a version; e.g. "0.2.0" or "0.2.0-rc.1"',
    ],
    [{ reboot: "later" }, 'update: reboot: "later" is not allowed; allowed: "now", "window"'],
    [
      { command: "sh" },
      "update: command: unknown key; known keys here: cmd, expiresAt, reboot, sha256, size, url, version",
    ],
  ];
  for (const [change, message] of table) {
    const err = assertThrows(() => parseCommand({ ...good, ...change }), ProtocolError);
    assertEquals([err.code, err.message], ["bad-request", message], JSON.stringify(change));
  }
  const missing = assertThrows(() => parseCommand({ cmd: "update" }), ProtocolError);
  assertEquals(missing.problems, [
    "url: missing; give the bundle's https: URL",
    "size: expected the bundle's size in bytes, 1 to 4294967296, got nothing",
    "sha256: missing; give the bundle's SHA-256",
    'version: missing; e.g. "0.2.0"',
  ]);
});
