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
  assert(cmd && cmd.examples.length === 6);
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
      "cmd: expected a command name, got nothing; known: ping, restart-camera, get-config, apply-config, reboot, snapshot",
    ],
    [
      { cmd: "dance" },
      "unknown-command",
      'cmd: "dance" is not a command of this device; known: ping, restart-camera, get-config, apply-config, reboot, snapshot',
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
