/**
 * The shipped fleet broker configuration (firmware/broker/: mosquitto.conf and acl) run by a real
 * Mosquitto with certificates made by openssl here: each box reaches only nvr/v1/<its CN>/, the
 * fleet manager reaches every box, and nobody connects without a certificate from the fleet CA.
 * "Nothing is delivered" is checked with a fence: a message the observer is allowed to get is
 * sent after the forbidden ones, and the broker keeps one publisher's order to one subscriber.
 */
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { makeClientCertificate, Mosquitto } from "../testing/mosquitto.ts";
import { startFleetLink } from "./link.ts";
import { deviceTopics } from "./schema.ts";
import { CloudClient, removeDir, testLink, waitUntil } from "../testing/fleet_kit.ts";

const BROKER_DIR = new URL("../../firmware/broker/", import.meta.url);
const ETC = "/etc/mosquitto/nvr/";

/** The shipped config with its files in the test's folder and its port a free one. */
async function startShippedBroker(): Promise<Mosquitto> {
  const conf = await Deno.readTextFile(new URL("mosquitto.conf", BROKER_DIR));
  return await Mosquitto.startWithConfig(({ dir, port, certs }) => {
    const paths: Record<string, string> = {
      [`${ETC}acl`]: new URL("acl", BROKER_DIR).pathname,
      [`${ETC}ca.crt`]: certs.caFile,
      [`${ETC}broker.crt`]: certs.serverCertFile,
      [`${ETC}broker.key`]: certs.serverKeyFile,
    };
    let text = conf;
    for (
      const [from, to] of [...Object.entries(paths), [
        "listener 8883",
        `listener ${port} 127.0.0.1`,
      ]]
    ) {
      assert(text.includes(from!), `firmware/broker/mosquitto.conf no longer has ${from}`);
      text = text.replaceAll(from!, to!);
    }
    assert(!text.includes(ETC), `a path under ${ETC} left unreplaced in ${dir}`);
    return text;
  });
}

/** An MQTT client with the certificate of `cn` (made on first use), subscribed to `filters`. */
async function client(
  broker: Mosquitto,
  cn: string,
  filters: string[] = [],
  clientId?: string,
): Promise<CloudClient> {
  const certs = broker.certs!;
  const { certFile, keyFile } = await makeClientCertificate(certs, cn);
  const ca = await Deno.readTextFile(certs.caFile);
  const cert = await Deno.readTextFile(certFile);
  const key = await Deno.readTextFile(keyFile);
  return await CloudClient.connect(broker.tlsUrl, [], {
    ca,
    cert,
    key,
    reconnectPeriod: 0,
    ...(clientId ? { clientId } : {}),
  }).then(async (c) => {
    if (filters.length > 0) await c.client.subscribeAsync(filters, { qos: 1 });
    return c;
  });
}

const a = deviceTopics("dev-a");
const b = deviceTopics("dev-b");

Deno.test("attack: device A reads device B's commands through the broker", async () => {
  await using broker = await startShippedBroker();
  await using fleet = await client(broker, "fleet-manager", ["nvr/v1/#"]);
  await using devB = await client(broker, "dev-b", [b.commands]);
  await using devA = await client(broker, "dev-a", [a.commands]);
  // Every way to B's topics. Mosquitto 2.0 grants wildcard subscriptions and checks each
  // message against the ACL when it delivers it, so what counts is what arrives.
  const wildcards = [b.commands, `${b.prefix}#`, "nvr/v1/#", "#", "nvr/v1/+/cmd/+"];
  await devA.client.subscribeAsync(wildcards, { qos: 1 });
  await fleet.publish(b.cmd("secret-1"), JSON.stringify({ cmd: "reboot" }));
  await fleet.publish(b.configDesired, JSON.stringify({ version: 1, config: {} }), true);
  await fleet.publish(a.cmd("fence-1"), JSON.stringify({ cmd: "ping" }));
  await devB.waitFor("B gets its command", (m) => m.find((x) => x.topic === b.cmd("secret-1")));
  await devA.waitFor("A gets its own", (m) => m.find((x) => x.topic === a.cmd("fence-1")));
  assertEquals(devA.messages.map((m) => m.topic), [a.cmd("fence-1")], "nothing of B's");
  // B's retained config is not handed to A on a new subscription either.
  await devA.client.subscribeAsync(wildcards, { qos: 1 });
  await fleet.publish(a.cmd("fence-2"), JSON.stringify({ cmd: "ping" }));
  await devA.waitFor("A's second fence", (m) => m.find((x) => x.topic === a.cmd("fence-2")));
  assertEquals(devA.messages.map((m) => m.topic), [a.cmd("fence-1"), a.cmd("fence-2")]);
  // The fleet manager sees every box's topics.
  await fleet.waitFor("fleet sees both", (m) => m.find((x) => x.topic === a.cmd("fence-1")));
  assert(fleet.messages.some((m) => m.topic === b.cmd("secret-1")));
  await fleet.publish(b.configDesired, "", true);
});

Deno.test("attack: device A publishes as device B", async () => {
  await using broker = await startShippedBroker();
  await using fleet = await client(broker, "fleet-manager", ["nvr/v1/#"]);
  await using devB = await client(broker, "dev-b", [b.commands, b.configDesired, b.licence]);
  await using devA = await client(broker, "dev-a", [a.commands, a.configDesired]);
  const forged = [
    b.state,
    b.health,
    b.events,
    b.fingerprint,
    b.configReported,
    b.cmdResult("1"),
    b.snapshot("1"),
    b.cmd("evil"), // a command to B
    b.configDesired, // a config for B
    b.licence,
    a.cmd("self"), // a box cannot send itself commands, a config or a licence either
    a.configDesired,
    a.licence,
    "nvr/v1/other",
    "elsewhere/topic",
  ];
  for (const topic of forged) {
    // MQTT 3.1.1: a refused publish is acknowledged and dropped; nothing tells the sender.
    await devA.publish(topic, JSON.stringify({ forged: topic }), true);
  }
  await devA.publish(a.health, JSON.stringify({ fence: true }));
  await fleet.waitFor("A's own health", (m) => m.find((x) => x.topic === a.health));
  const seen = fleet.messages.filter((m) => m.json?.forged !== undefined).map((m) => m.topic);
  assertEquals(seen, [], "nothing forged reached the fleet");
  // B got none of them either, live or retained.
  await fleet.publish(b.cmd("fence"), JSON.stringify({ cmd: "ping" }));
  await devB.waitFor("B's fence", (m) => m.find((x) => x.topic === b.cmd("fence")));
  assertEquals(devB.messages.map((m) => m.topic), [b.cmd("fence")]);
  // A new subscriber gets no forged retained message. (Same CN, so the same client id: this
  // connection replaces devB's.)
  await using lateB = await client(broker, "dev-b", [`${b.prefix}#`], "dev-b-2");
  await fleet.publish(b.cmd("fence-2"), JSON.stringify({ cmd: "ping" }));
  await lateB.waitFor("B's fence", (m) => m.find((x) => x.topic === b.cmd("fence-2")));
  assertEquals(lateB.messages.map((m) => m.topic), [b.cmd("fence-2")], "nothing retained");
});

Deno.test("attack: device A takes over device B's session with B's client id", async () => {
  await using broker = await startShippedBroker();
  await using fleet = await client(broker, "fleet-manager", ["nvr/v1/#"]);
  await using devB = await client(broker, "dev-b", [b.commands], "dev-b");
  let bClosed = 0;
  devB.client.on("close", () => bClosed++);
  await using devA = await client(broker, "dev-a", [], "dev-b");
  // The broker names A by its certificate, not by the client id it asked for.
  await devA.publish(a.health, "{}");
  await fleet.waitFor("A's health", (m) => m.find((x) => x.topic === a.health));
  await fleet.publish(b.cmd("still-b"), JSON.stringify({ cmd: "ping" }));
  await devB.waitFor(
    "B still gets its commands",
    (m) => m.find((x) => x.topic === b.cmd("still-b")),
  );
  assertEquals([bClosed, devB.client.connected], [0, true], "B was not disconnected");
});

Deno.test("attack: device connects without a certificate, or with one from another CA", async () => {
  await using broker = await startShippedBroker();
  const certs = broker.certs!;
  const ca = await Deno.readTextFile(certs.caFile);
  const attempts = [
    { ca },
    {
      ca,
      cert: await Deno.readTextFile(certs.foreignCertFile),
      key: await Deno.readTextFile(certs.foreignKeyFile),
    },
  ];
  for (const options of attempts) {
    await assertRejects(() =>
      CloudClient.connect(broker.tlsUrl, [], {
        ...options,
        reconnectPeriod: 0,
        connectTimeout: 3_000,
      }), Error);
  }
  // A plain (non-TLS) MQTT connection to the same port gets nowhere either.
  await assertRejects(
    () => CloudClient.connect(broker.url, [], { reconnectPeriod: 0, connectTimeout: 3_000 }),
    Error,
  );
});

Deno.test("the shipped broker config: the real fleet link uses its own topics, the fleet sees them", async () => {
  await using broker = await startShippedBroker();
  await using fleet = await client(broker, "fleet-manager", ["nvr/v1/#"]);
  const certs = broker.certs!;
  const device = await makeClientCertificate(certs, "nvr-test-0001");
  const topics = deviceTopics("nvr-test-0001");
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  const { deps, log } = testLink(broker.tlsUrl, dir, {
    mqtt: { caFile: certs.caFile, ...device, username: null, password: null },
  });
  const link = await startFleetLink(deps);
  try {
    await fleet.waitFor("birth", (m) => m.find((x) => x.topic === topics.state));
    await waitUntil("subscribed", () => link.status().subscribed);
    await fleet.publish(topics.cmd("acl-1"), JSON.stringify({ cmd: "ping" }));
    const pong = await fleet.waitFor(
      "pong",
      (m) => m.find((x) => x.topic === topics.cmdResult("acl-1")),
    );
    assertEquals(pong.json?.ok, true);
    await link.publishEvent("camera-up", { camera: "door" });
    await fleet.waitFor("event", (m) => m.find((x) => x.topic === topics.events));
    assert(
      !log.lines.some((l) => String(l.msg).includes("refused fleet subscriptions")),
      "every subscription granted",
    );
  } finally {
    await link.stop();
    await removeDir(dir);
  }
  // The Last Will is on an allowed topic too: the offline state arrived.
  await fleet.waitFor(
    "offline state",
    (m) => m.find((x) => x.topic === topics.state && x.json?.state === "offline"),
  );
});
