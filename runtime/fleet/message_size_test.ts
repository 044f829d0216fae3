/**
 * The run-time 128 KB guard (message_size.ts) with the real link on a real Mosquitto, read back
 * from the broker's own log: a configuration of 64 cameras whose echo is over 128 KB is reported
 * without the echo, get-config answers `too-large`, an oversized event is refused with an error
 * naming its topic, and nothing the broker saw breaks AWS IoT Core's limits.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { AUDIT_LOG_CONFIG, auditClient, violations } from "../testing/broker_audit.ts";
import { CloudClient, removeDir, testLink, waitUntil } from "../testing/fleet_kit.ts";
import { startFleetLink } from "./link.ts";
import { encodeWithin, MAX_MESSAGE_BYTES, MessageTooLargeError } from "./message_size.ts";
import { deviceTopics } from "./schema.ts";

const DEVICE = "nvr-test-0001";
const topics = deviceTopics(DEVICE);

/** 64 cameras (the most a config takes) with long stream URLs: its echo is over 128 KB. */
function hugeConfig() {
  return {
    device: { name: "worst-case" },
    cameras: Array.from({ length: 64 }, (_, i) => ({
      id: `camera-${i}`,
      url: `rtsp://10.0.${i}.1:554/${"p".repeat(2_200)}`,
    })),
  };
}

Deno.test("managed broker: worst-case payloads never go over 128 KB; config/reported and get-config shrink, an oversized event is refused", async () => {
  await using broker = await Mosquitto.start({ extraConfig: AUDIT_LOG_CONFIG });
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-size-" });
  await using cloud = await CloudClient.connect(broker.url, [`${topics.prefix}#`]);
  const { deps, hooks } = testLink(broker.url, dir);
  const link = await startFleetLink(deps);
  try {
    await waitUntil("subscribed", () => link.status().subscribed);
    const config = hugeConfig();
    assert(JSON.stringify(config).length > MAX_MESSAGE_BYTES, "the echo would be over 128 KB");
    await cloud.publish(topics.configDesired, JSON.stringify({ version: 7, config }), true);
    const reported = await cloud.waitFor(
      "config/reported of version 7",
      (m) => m.find((x) => x.topic === topics.configReported && x.json?.version === 7)?.json,
      20_000,
    );
    assertEquals([reported.status, reported.appliedVersion, reported.config], ["applied", 7, null]);
    assertEquals(hooks.applied.at(-1)?.cameras.length, 64, "applied all the same");

    await cloud.publish(topics.cmd("get-huge"), JSON.stringify({ cmd: "get-config" }));
    const result = await cloud.waitFor(
      "get-config's answer",
      (m) => m.find((x) => x.topic === topics.cmdResult("get-huge"))?.json,
      20_000,
    );
    assertEquals([result.ok, result.code], [false, "too-large"]);
    assert(String(result.error).includes("131072"), String(result.error));

    let refused: unknown;
    await link.publishEvent("sensor-alarm", { sensor: "s", reason: "x".repeat(200_000) })
      .catch((err) => refused = err);
    assert(refused instanceof MessageTooLargeError, String(refused));
    assert(refused.message.includes(topics.events), refused.message);
    // The link goes on: a ping still gets its answer.
    await cloud.publish(topics.cmd("after"), JSON.stringify({ cmd: "ping" }));
    await cloud.waitFor("ping", (m) => m.find((x) => x.topic === topics.cmdResult("after")));
  } finally {
    await link.stop();
    await removeDir(dir);
  }
  const audit = auditClient(await broker.logText(), DEVICE);
  assert(audit.publishes.length > 3, `audit.publishes.length: ${audit.publishes.length}`);
  assertEquals(violations(audit), [], "every packet fits AWS IoT Core");
  const largest = Math.max(...audit.publishes.map((p) => p.bytes));
  assert(largest <= MAX_MESSAGE_BYTES, `largest publish ${largest} bytes`);
});

Deno.test("encodeWithin: small messages as they are; other topics over the limit refused by name", () => {
  const head = { seq: 1, ts: 2 };
  assertEquals(
    new TextDecoder().decode(encodeWithin(topics.health, head, { a: 1 })),
    '{"seq":1,"ts":2,"a":1}',
  );
  let message = "";
  try {
    encodeWithin(topics.health, head, { pad: "x".repeat(200) }, 100);
  } catch (err) {
    message = (err as Error).message;
  }
  assert(message.includes(topics.health) && message.includes("over the 100"), message);
});
