/** The fleet's `plugin` command: what its validator lets through and what it refuses. */
import { assertEquals, assertThrows } from "../testing/assert.ts";
import { parseCommand, ProtocolError } from "./schema.ts";

const sha = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";
const problems = (raw: unknown) => {
  const err = assertThrows(() => parseCommand(raw), ProtocolError) as ProtocolError;
  return err.problems;
};

Deno.test("plugin command: install, enable, configure, remove parse", () => {
  const url = "https://plugins.example.com/p.tar.gz";
  assertEquals(
    parseCommand({ cmd: "plugin", action: "install", url, size: 10, sha256: sha.toUpperCase() }),
    { cmd: "plugin", action: "install", url, size: 10, sha256: sha },
  );
  assertEquals(parseCommand({ cmd: "plugin", action: "enable", id: "serial-sensor" }), {
    cmd: "plugin",
    action: "enable",
    id: "serial-sensor",
  });
  assertEquals(
    parseCommand({ cmd: "plugin", action: "configure", id: "a", settings: { highC: 30 } }),
    { cmd: "plugin", action: "configure", id: "a", settings: { highC: 30 } },
  );
});

Deno.test("attack: fleet installs a plugin from plain http — refused", () => {
  assertEquals(
    problems({
      cmd: "plugin",
      action: "install",
      url: "http://plugins.example.com/p.tar.gz",
      size: 10,
      sha256: sha,
    }),
    [
      'url: "http://plugins.example.com/p.tar.gz" is not allowed; use https: (http: only to ' +
      "127.0.0.1 or [::1])",
    ],
  );
});

Deno.test("attack: fleet installs a plugin without size or checksum, or too big — refused", () => {
  assertEquals(
    problems({ cmd: "plugin", action: "install", url: "https://x.example/p.tgz" }),
    [
      "size: expected the archive's size in bytes, 1 to 8388608, got nothing",
      "sha256: missing; give the archive's SHA-256",
    ],
  );
  assertEquals(
    problems({
      cmd: "plugin",
      action: "install",
      url: "https://x.example/p.tgz",
      size: 9e6,
      sha256: sha,
    }),
    ["size: expected the archive's size in bytes, 1 to 8388608, got 9000000"],
  );
});

Deno.test("attack: fleet plugin command names a path or grants permissions — refused", () => {
  assertEquals(problems({ cmd: "plugin", action: "remove", id: "../../etc" }), [
    'id: "../../etc" is not a plugin id',
  ]);
  assertEquals(
    problems({ cmd: "plugin", action: "enable", id: "a", permissions: { net: true } }),
    ["permissions: unknown key; known keys here: action, cmd, expiresAt, id"],
  );
});
