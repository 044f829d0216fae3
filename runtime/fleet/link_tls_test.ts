/**
 * Mutual TLS against a real Mosquitto (`require_certificate true`), with a CA, server and client
 * certificates made by openssl in the test: MQTT.js's mqtts over Deno's node:tls.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../testing/assert.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { FleetLinkError, startFleetLink } from "./link.ts";
import { deviceTopics } from "./schema.ts";
import { CloudClient, removeDir, testLink, waitUntil } from "../testing/fleet_kit.ts";

const topics = deviceTopics("nvr-test-0001");

Deno.test("mqtts with a client certificate: connects, publishes, answers commands", async () => {
  await using broker = await Mosquitto.start({ tls: { requireCertificate: true } });
  const certs = broker.certs;
  assert(certs);
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [`${topics.prefix}#`]);
  const { deps } = testLink(broker.tlsUrl, dir, {
    mqtt: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile },
  });
  const link = await startFleetLink(deps);
  try {
    await cloud.waitFor("birth over TLS", (m) => m.find((x) => x.json?.state === "online"));
    await waitUntil("subscribed", () => link.status().subscribed);
    await cloud.publish(topics.cmd("tls-1"), JSON.stringify({ cmd: "ping" }));
    const pong = await cloud.waitFor(
      "pong",
      (m) => m.find((x) => x.topic === topics.cmdResult("tls-1")),
    );
    assertEquals(pong.json?.ok, true);
    assertMatch(await broker.logText(), new RegExp(`New client connected .* as nvr-test-0001`));
  } finally {
    await link.stop();
    await removeDir(dir);
  }
});

Deno.test("mqtts: a certificate from another CA, or none, is refused and retried, never crashes", async () => {
  await using broker = await Mosquitto.start({ tls: { requireCertificate: true } });
  const certs = broker.certs;
  assert(certs);
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  try {
    for (
      const mqtt of [
        { caFile: certs.caFile, certFile: certs.foreignCertFile, keyFile: certs.foreignKeyFile },
        { caFile: certs.caFile },
      ]
    ) {
      const { deps, log } = testLink(broker.tlsUrl, dir, { mqtt });
      const link = await startFleetLink(deps);
      try {
        await waitUntil(
          "a refused attempt logged",
          () => log.lines.some((l) => l.msg === "fleet broker unreachable; retrying"),
        );
        await new Promise((r) => setTimeout(r, 300));
        assertEquals(link.status().connected, false);
        assertEquals(link.status().connects, 0);
        assert(link.status().lastError !== null, "the reason is kept for status()");
        await link.publishEvent("camera-up", { camera: "door" }); // queued, not lost
        assert(link.status().queue.messages >= 1);
      } finally {
        await link.stop();
      }
    }
    // A missing key file is named before anything connects.
    const { deps } = testLink(broker.tlsUrl, dir, {
      mqtt: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: `${dir}/nope.key` },
    });
    const err = await assertRejects(() => startFleetLink(deps), FleetLinkError);
    assertEquals(
      err.message,
      `mqtt.keyFile: cannot read ${dir}/nope.key: the file does not exist; fix the path or the ` +
        "file's permissions",
    );
  } finally {
    await removeDir(dir);
  }
});
