/**
 * Every fleet command against a real Mosquitto, the good ones and the bad ones: each answered
 * once on cmd-result/<requestId>, nothing crashes the link.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { REBOOT_ARGV, rebootBox } from "./commands.ts";
import { type FleetLink, startFleetLink } from "./link.ts";
import { REDACTED } from "./redact.ts";
import { deviceTopics } from "./schema.ts";
import {
  CloudClient,
  type HookState,
  removeDir,
  testLink,
  waitUntil,
} from "../testing/fleet_kit.ts";

const topics = deviceTopics("nvr-test-0001");

interface Fixture {
  readonly cloud: CloudClient;
  readonly link: FleetLink;
  readonly hooks: HookState;
  readonly dir: string;
  readonly log: { lines: Record<string, unknown>[] };
  /** Sends a command and returns its result payload. */
  command(id: string, payload: unknown, retain?: boolean): Promise<Record<string, unknown>>;
}

async function withLink(
  raw: Parameters<typeof testLink>[2],
  run: (f: Fixture) => Promise<void>,
  rebootArgv: readonly string[] = ["true"],
): Promise<void> {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [`${topics.prefix}#`]);
  const { deps, hooks, log } = testLink(broker.url, dir, raw, {
    // The real hook, with a harmless argv in place of `systemctl reboot`.
    reboot: () => {
      hooks.reboots.push(rebootArgv.join(" "));
      return rebootBox(rebootArgv);
    },
  });
  const link = await startFleetLink({
    ...deps,
    timing: { ...deps.timing, commandTimeoutMs: 1_000 },
  });
  try {
    await waitUntil("subscribed", () => link.status().subscribed);
    await run({
      cloud,
      link,
      hooks,
      dir,
      log,
      async command(id, payload, retain = false) {
        const body = payload instanceof Uint8Array
          ? payload
          : typeof payload === "string"
          ? payload
          : JSON.stringify(payload);
        await cloud.publish(topics.cmd(id), body, retain);
        const result = await cloud.waitFor(
          `cmd-result/${id}`,
          (m) => m.find((x) => x.topic === topics.cmdResult(id)),
        );
        return result.json ?? {};
      },
    });
  } finally {
    await link.stop();
    await removeDir(dir);
  }
}

Deno.test("ping, restart-camera, get-config", async () => {
  await withLink({}, async ({ command, hooks }) => {
    const ping = await command("p-1", { cmd: "ping" });
    assertEquals([ping.ok, ping.cmd, ping.requestId], [true, "ping", "p-1"]);
    const pong = ping.result as Record<string, unknown>;
    assertEquals([pong.pong, pong.version], [true, "0.0.0-test"]);
    assertEquals(typeof ping.seq, "number");

    const restart = await command("r-1", { cmd: "restart-camera", camera: "yard" });
    assertEquals([restart.ok, restart.result], [true, { camera: "yard" }]);
    assertEquals(hooks.restarted, ["yard"]);

    const unknown = await command("r-2", { cmd: "restart-camera", camera: "attic" });
    assertEquals([unknown.ok, unknown.code], [false, "unknown-camera"]);
    assertEquals(unknown.error, "no camera 'attic' on this box; cameras: door, yard");

    const missing = await command("r-3", { cmd: "restart-camera" });
    assertEquals([missing.ok, missing.code], [false, "bad-request"]);
    assertMatch(String(missing.error), /camera: missing; give a camera id/);

    const got = await command("g-1", { cmd: "get-config" });
    interface Shown {
      mqtt: { password: string };
      cameras: { password: string | null; url: string }[];
    }
    const result = got.result as { version: number; config: Shown };
    assertEquals(result.version, 0);
    assertEquals(result.config.mqtt.password, REDACTED);
    assertEquals(result.config.cameras[0]?.password, REDACTED);
    assertEquals(result.config.cameras[1]?.url, `rtsp://user:${REDACTED}@10.0.0.6:554/main`);
    const text = JSON.stringify(got);
    for (const secret of ["broker-secret", "door-secret", ":pw@"]) {
      assert(!text.includes(secret), `get-config leaks ${secret}`);
    }
  });
});

Deno.test("apply-config: accepted, rejected (keys named, running config untouched), failed, stale", async () => {
  await withLink({}, async ({ command, hooks, link, cloud }) => {
    const base = {
      mqtt: { url: link.config().mqtt.url },
      storage: { dataDir: link.config().storage.dataDir },
      cameras: [{ id: "door", url: "rtsp://10.0.0.5:554/main" }],
    };
    const ok = await command("a-1", {
      cmd: "apply-config",
      config: { ...base, device: { name: "shop-front" } },
    });
    assertEquals([ok.ok, ok.result], [true, { version: 1 }]);
    assertEquals(hooks.applied.map((c) => c.device.name), ["shop-front"]);
    assertEquals(link.config().device.name, "shop-front");
    const reported = await cloud.waitFor(
      "reported v1",
      (m) => m.find((x) => x.topic === topics.configReported && x.json?.version === 1),
    );
    assertEquals([reported.json?.status, reported.json?.runningVersion], ["applied", 1]);

    const bad = await command("a-2", {
      cmd: "apply-config",
      config: { ...base, log: { level: "loud" }, cameras: [{ id: "a b" }] },
    });
    assertEquals([bad.ok, bad.code], [false, "config-rejected"]);
    assertEquals(
      bad.error,
      'log.level: "loud" is not allowed; allowed: "debug", "info", "warn", "error"; ' +
        "cameras[0].id: \"a b\" is not a valid id; use 1 to 32 letters, digits, '-' or '_', " +
        "starting with a letter or digit; " +
        'cameras[0].url: missing; e.g. "rtsp://192.168.1.20:554/stream1"',
    );
    assertEquals(hooks.applied.length, 1, "a rejected config is never handed to the daemon");
    assertEquals(link.config().device.name, "shop-front");
    const rejected = await cloud.waitFor(
      "reported v2",
      (m) => m.find((x) => x.topic === topics.configReported && x.json?.version === 2),
    );
    assertEquals([rejected.json?.status, rejected.json?.runningVersion], ["rejected", 1]);
    assertEquals((rejected.json?.problems as string[]).length, 3);

    const redacted = await command("a-3", {
      cmd: "apply-config",
      config: { ...base, cameras: [{ id: "new", url: "rtsp://h/1", password: REDACTED }] },
    });
    assertEquals(redacted.code, "config-rejected");
    assertMatch(String(redacted.error), /cameras\[0\]\.password: holds "\*\*\*redacted\*\*\*"/);

    hooks.applyFails = "camera door: cannot restart";
    const failed = await command("a-4", { cmd: "apply-config", config: base });
    assertEquals([failed.ok, failed.code], [false, "failed"]);
    assertMatch(String(failed.error), /could not apply it: camera door: cannot restart/);
    assertEquals(link.config().device.name, "shop-front");
    hooks.applyFails = null;

    const stale = await command("a-5", { cmd: "apply-config", config: base, version: 1 });
    assertEquals(stale.code, "bad-request");
    assertMatch(String(stale.error), /version 1 is not newer than the running version 1/);

    const notObject = await command("a-6", { cmd: "apply-config", config: [1] });
    assertEquals(notObject.code, "bad-request");
    assertMatch(String(notObject.error), /config: expected the configuration object, got \[1\]/);
  });
});

Deno.test("config/desired (retained) is applied when newer, and reported", async () => {
  await withLink({}, async ({ hooks, link, cloud }) => {
    const config = {
      mqtt: { url: link.config().mqtt.url },
      storage: { dataDir: link.config().storage.dataDir },
      device: { name: "from-desired" },
    };
    await cloud.publish(topics.configDesired, JSON.stringify({ version: 5, config }), true);
    const reported = await cloud.waitFor(
      "reported 5",
      (m) => m.find((x) => x.topic === topics.configReported && x.json?.version === 5),
    );
    assertEquals(reported.json?.status, "applied");
    assertEquals(link.status().configVersion, 5);
    assertEquals(hooks.applied.at(-1)?.device.name, "from-desired");
    // The same version again (e.g. redelivered on reconnect) does nothing.
    await cloud.publish(topics.configDesired, JSON.stringify({ version: 5, config }), true);
    await cloud.publish(topics.configDesired, "{not json", true);
    await cloud.publish(topics.configDesired, JSON.stringify({ version: 0, config }), true);
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(hooks.applied.length, 1);
    await cloud.publish(topics.configDesired, "", true); // clears the retained message
  });
});

Deno.test("attack: fleet apply-config sets mqtt.rebootCommand, then reboot runs it — refused naming the key; reboot runs the fixed action only", async () => {
  assertEquals(REBOOT_ARGV, ["systemctl", "reboot"]);
  const marker = await Deno.makeTempFile({ prefix: "nvr-reboot-" });
  await Deno.remove(marker);
  await withLink({}, async ({ command, hooks, link }) => {
    for (
      const [id, config] of [
        ["x-1", { mqtt: { url: link.config().mqtt.url, rebootCommand: `touch ${marker}` } }],
        ["x-2", { mqtt: { url: "mqtt://127.0.0.1:1" } }],
      ] as const
    ) {
      const set = await command(id, { cmd: "apply-config", config });
      assertEquals([set.ok, set.code], [false, "config-rejected"]);
    }
    assertEquals(hooks.applied.length, 0);
    const ok = await command("b-1", { cmd: "reboot" });
    assertEquals([ok.ok, ok.result], [true, { rebooting: true }]);
    assertEquals(hooks.reboots, ["true"], "the fixed hook ran once");
    assert(!(await Deno.stat(marker).then(() => true, () => false)), "nothing from config ran");
  });
});

Deno.test("attack: fleet turns analytics on, removes licensing or moves the broker (apply-config and config/desired) — refused naming each key", async () => {
  await withLink({}, async ({ command, hooks, link, cloud }) => {
    const url = link.config().mqtt.url;
    const on = await command("an-1", {
      cmd: "apply-config",
      config: { mqtt: { url }, analytics: { enabled: true } },
    });
    assertEquals([on.ok, on.code], [false, "config-rejected"]);
    assertMatch(
      String(on.error),
      /^analytics\.enabled: may not be changed from the fleet, because consent/,
    );
    const off = await command("an-2", {
      cmd: "apply-config",
      config: { mqtt: { url: "mqtt://evil.example.org:1883" }, licence: { keysFile: "/tmp/k" } },
    });
    assertEquals(String(off.error).split("; ").map((p) => p.split(":")[0]), [
      "mqtt.url",
      "licence.keysFile",
    ]);
    await cloud.publish(
      topics.configDesired,
      JSON.stringify({ version: 9, config: { mqtt: { url }, analytics: { enabled: true } } }),
      true,
    );
    const reported = await cloud.waitFor(
      "reported 9",
      (m) => m.find((x) => x.topic === topics.configReported && x.json?.version === 9),
    );
    assertEquals(reported.json?.status, "rejected");
    await cloud.publish(topics.configDesired, "", true);
    assertEquals(hooks.applied.length, 0);
    assertEquals([link.status().analytics, link.status().configVersion], [false, 0]);
  });
});

Deno.test("attack: a failing reboot sends the process's output back to the fleet — only a fixed message", async () => {
  await withLink({}, async ({ command, cloud }) => {
    const failed = await command("b-3", { cmd: "reboot" });
    assertEquals([failed.ok, failed.code], [false, "failed"]);
    assertEquals(failed.error, "the reboot could not be started (sh exited 3); see the journal");
    const sent = cloud.messages.map((m) => new TextDecoder().decode(m.payload)).join("\n");
    assert(!sent.includes("leaked-output"), "process output reached the fleet");
  }, ["sh", "-c", "echo leaked-output >&2; exit 3"]);
});

Deno.test("snapshot: JPEG bytes on snapshot/<id> before the result; too large, not a JPEG, slow", async () => {
  await withLink({}, async ({ command, hooks, cloud }) => {
    const ok = await command("s-1", { cmd: "snapshot", camera: "door" });
    const result = ok.result as Record<string, unknown>;
    assertEquals(result.topic, topics.snapshot("s-1"));
    assertEquals([result.contentType, result.bytes], ["image/jpeg", hooks.snapshot.byteLength]);
    const jpeg = cloud.messages.findIndex((m) => m.topic === topics.snapshot("s-1"));
    const answer = cloud.messages.findIndex((m) => m.topic === topics.cmdResult("s-1"));
    assert(jpeg >= 0 && jpeg < answer, "the picture comes before its result");
    assertEquals(cloud.messages[jpeg]?.payload, hooks.snapshot);
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", hooks.snapshot as Uint8Array<ArrayBuffer>),
    );
    assertEquals(
      result.sha256,
      Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
    );

    const big = new Uint8Array(600 * 1024);
    big.set([0xff, 0xd8]);
    hooks.snapshot = big;
    const tooLarge = await command("s-2", { cmd: "snapshot", camera: "door" });
    assertEquals(tooLarge.code, "too-large");
    assertMatch(String(tooLarge.error), /614400 bytes; at most 524288 bytes are sent/);

    hooks.snapshot = new TextEncoder().encode("<html>");
    const notJpeg = await command("s-3", { cmd: "snapshot", camera: "door" });
    assertEquals([notJpeg.code, notJpeg.error], ["failed", "the snapshot of door is not a JPEG"]);

    const unknown = await command("s-4", { cmd: "snapshot", camera: "attic" });
    assertEquals(unknown.code, "unknown-camera");
  });
});

Deno.test("bad commands get an error result and never crash the link", async () => {
  await withLink({}, async ({ command, cloud, link, hooks, log }) => {
    const unknown = await command("x-1", { cmd: "format-disk" });
    assertEquals([unknown.ok, unknown.code, unknown.cmd], [false, "unknown-command", null]);
    assertMatch(
      String(unknown.error),
      /"format-disk" is not a command of this device; known: ping/,
    );

    const badJson = await command("x-2", "{cmd: ping");
    assertEquals([badJson.ok, badJson.code], [false, "bad-json"]);
    assertMatch(String(badJson.error), /^payload is not JSON: /);

    const notUtf8 = await command("x-3", new Uint8Array([0xff, 0xfe, 0x00]));
    assertEquals(notUtf8.code, "bad-json");

    for (const [id, payload] of [["x-4", "[]"], ["x-5", "42"], ["x-6", "null"]] as const) {
      const r = await command(id, payload);
      assertEquals(r.code, "bad-request", payload);
    }

    const extra = await command("x-7", { cmd: "ping", force: true });
    assertEquals(extra.code, "bad-request");
    assertMatch(String(extra.error), /force: unknown key/);

    const oversized = await command(
      "x-8",
      JSON.stringify({ cmd: "ping", pad: "x".repeat(300_000) }),
    );
    assertEquals([oversized.ok, oversized.code], [false, "too-large"]);
    assertMatch(
      String(oversized.error),
      /^payload is 300\d+ bytes; at most 262144 bytes are accepted$/,
    );

    const expired = await command("x-9", { cmd: "reboot", expiresAt: Date.now() - 1000 });
    assertEquals(expired.code, "expired");

    // A repeated requestId is answered from the stored result; the hook runs once.
    await command("x-11", { cmd: "restart-camera", camera: "door" });
    const before = cloud.on(topics.cmdResult("x-11")).length;
    await cloud.publish(
      topics.cmd("x-11"),
      JSON.stringify({ cmd: "restart-camera", camera: "door" }),
    );
    await cloud.waitFor("repeat answer", () => cloud.on(topics.cmdResult("x-11")).length > before);
    assertEquals(hooks.restarted, ["door"]);
    const [first, second] = cloud.on(topics.cmdResult("x-11"));
    assertEquals(second?.json?.result, first?.json?.result);

    // A bad requestId: dropped and logged, no answer. Foreign topics never arrive.
    await cloud.publish(`${topics.prefix}cmd/bad$id`, JSON.stringify({ cmd: "ping" }));
    await cloud.publish("nvr/v1/another-box/cmd/f-1", JSON.stringify({ cmd: "reboot" }));
    await cloud.publish(`${topics.prefix}cmd/a/b`, JSON.stringify({ cmd: "ping" }));
    await waitUntil(
      "bad requestId logged",
      () =>
        log.lines.some((l) =>
          String(l.msg).includes("bad requestId") && l.topic === `${topics.prefix}cmd/bad$id`
        ),
    );
    await new Promise((r) => setTimeout(r, 200));
    assert(
      !cloud.messages.some((m) => m.topic.includes("cmd-result/bad")),
      "no answer to a bad id",
    );
    assert(!cloud.messages.some((m) => m.topic === "nvr/v1/another-box/cmd-result/f-1"));

    // Still alive and answering.
    const ping = await command("x-12", { cmd: "ping" });
    assertEquals(ping.ok, true);
    assertEquals(link.status().connected, true);
  });
});

Deno.test("a command hook that hangs is answered with timeout", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [`${topics.prefix}cmd-result/#`]);
  const hang = Promise.withResolvers<void>();
  const { deps } = testLink(broker.url, dir, {}, { restartCamera: () => hang.promise });
  const link = await startFleetLink({ ...deps, timing: { ...deps.timing, commandTimeoutMs: 300 } });
  try {
    await waitUntil("subscribed", () => link.status().subscribed);
    await cloud.publish(
      topics.cmd("t-1"),
      JSON.stringify({ cmd: "restart-camera", camera: "door" }),
    );
    const result = await cloud.waitFor("timeout", (m) => m[0]);
    assertEquals([result.json?.ok, result.json?.code], [false, "timeout"]);
    assertEquals(result.json?.error, "restart-camera door did not finish within 300 ms");
  } finally {
    hang.resolve();
    await link.stop();
    await removeDir(dir);
  }
});

Deno.test("a retained command is answered with an error, not executed", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [`${topics.prefix}cmd-result/#`]);
  // Left on the broker before the box connects: it would run again on every connect.
  await cloud.publish(
    topics.cmd("k-1"),
    JSON.stringify({ cmd: "restart-camera", camera: "door" }),
    true,
  );
  const { deps, hooks } = testLink(broker.url, dir);
  const link = await startFleetLink(deps);
  try {
    const result = await cloud.waitFor("retained answer", (m) => m[0]);
    assertEquals([result.json?.ok, result.json?.code], [false, "retained"]);
    assertMatch(String(result.json?.error), /retained commands are not executed/);
    assertEquals(hooks.restarted, []);
  } finally {
    await cloud.publish(topics.cmd("k-1"), "", true);
    await link.stop();
    await removeDir(dir);
  }
});
