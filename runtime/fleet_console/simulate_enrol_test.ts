/**
 * The simulator's enrolment mode against real parts: the shipped broker configuration and
 * `deno task fleet enrol` as its own process. Listed serials enrol and connect with mutual TLS
 * as themselves; serials not on the allow-list are refused, every one, and never connect.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { CloudClient, waitUntil } from "../testing/fleet_kit.ts";
import { makeClientCertificate } from "../testing/mosquitto.ts";
import { startEnrolSetup } from "../testing/enrol_setup.ts";
import { simulatedSerial, simulateFleet } from "./simulate.ts";

Deno.test("simulate: first boots enrol through `fleet enrol` and connect as themselves; unlisted serials are refused, every one", async () => {
  const devices = 6;
  const unlisted = 2;
  const listed = Array.from(
    { length: devices - unlisted },
    (_, i) => simulatedSerial("first", i, devices),
  );
  await using setup = await startEnrolSetup(listed);
  const certs = setup.broker.certs!;
  const manager = await makeClientCertificate(certs, "fleet-manager");
  await using cloud = await CloudClient.connect(setup.fleetUrl, ["nvr/v1/#"], {
    ca: setup.caPem,
    cert: await Deno.readTextFile(manager.certFile),
    key: await Deno.readTextFile(manager.keyFile),
  });
  const fleet = await simulateFleet({
    broker: setup.fleetUrl,
    devices,
    prefix: "first",
    enrol: {
      url: setup.enrolUrl,
      caPem: setup.caPem,
      bootstrap: setup.bootstrap,
      timing: { refusedRetryMs: 60_000, backoffMinMs: 100, backoffMaxMs: 1_000 },
    },
  });
  try {
    await fleet.enrolment();
    const byState = (s: string) => fleet.boxes.filter((b) => b.enrolment?.state === s);
    assertEquals(byState("enrolled").length, devices - unlisted);
    assertEquals(byState("refused").map((b) => b.serial), [
      simulatedSerial("first", 4, devices),
      simulatedSerial("first", 5, devices),
    ]);
    for (const b of byState("refused")) assertEquals(b.enrolment?.code, "not-allowed");
    // Each enrolled box is online on the mutual-TLS listener under its own deviceId.
    for (const b of byState("enrolled")) {
      assert(b.id.startsWith("nvr-") && b.id.length === 20, b.id);
      await cloud.waitFor(
        `${b.id} online`,
        (m) => m.find((x) => x.topic === `nvr/v1/${b.id}/state` && x.json?.state === "online"),
        30_000,
      );
      assert(b.enrolment!.connectedAt! >= b.enrolment!.enrolledAt!);
    }
    const log = await setup.broker.logText();
    for (const b of byState("enrolled")) {
      assert(log.includes(`as ${b.id} `), `${b.id} connected with its certificate`);
    }
    // The refused never reached the fleet listener.
    for (const b of byState("refused")) {
      assert(
        !cloud.messages.some((m) =>
          m.topic.startsWith(`nvr/v1/${b.id}/`) &&
          !m.topic.includes("/enrol/")
        ),
        b.id,
      );
      assert(!log.includes(`as ${b.id} `), `${b.id} never connected as itself`);
    }
    const state = JSON.parse(await Deno.readTextFile(`${setup.dir}/enrolled.json`));
    assertEquals(
      new Set(Object.keys(state)),
      new Set(byState("enrolled").map((b) => b.id)),
    );
    await waitUntil(
      "the responder logged both refusals",
      () => setup.lines.filter((l) => l.includes('"code":"not-allowed"')).length >= unlisted,
    );
  } finally {
    await fleet.stop();
  }
});
