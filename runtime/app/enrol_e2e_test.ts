/**
 * First boot end to end: the real daemon with a provisioning file, against a real Mosquitto run
 * with the shipped broker configuration (firmware/broker/: mutual TLS with the certificate's CN
 * as the user, plus enrol.conf's bootstrap listener) and the enrolment responder signing with the
 * broker's CA. The box enrols, reconnects with mutual TLS as itself, its birth arrives; the file
 * is gone; a restart without the file reuses the stored identity.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { makeClientCertificate, type Mosquitto } from "../testing/mosquitto.ts";
import { startShippedBroker } from "../testing/shipped_broker.ts";
import { CloudClient, waitUntil } from "../testing/fleet_kit.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { brokerCa } from "../testing/test_ca.ts";
import { type AllowEntry, startEnrolResponder } from "../fleet/enrol_responder.ts";
import { enrolTopics } from "../fleet/enrol_schema.ts";

const BOOTSTRAP_PASSWORD = "bootstrap-secret-0001";

async function certClient(broker: Mosquitto, cn: string, filters: string[]): Promise<CloudClient> {
  const certs = broker.certs!;
  const { certFile, keyFile } = await makeClientCertificate(certs, cn);
  return await CloudClient.connect(broker.tlsUrl, filters, {
    ca: await Deno.readTextFile(certs.caFile),
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
  });
}

Deno.test("first boot: provisioning file → enrolment → mutual TLS as itself; the file is wiped; a restart reuses the identity", async () => {
  const { broker, enrolPort } = await startShippedBroker(BOOTSTRAP_PASSWORD);
  await using _broker = broker;
  const certs = broker.certs!;
  const dir = await Deno.makeTempDir({ prefix: "nvr-enrol-e2e-" });
  const allow = new Map<string, AllowEntry>();
  const enrolCert = await makeClientCertificate(certs, "fleet-enrol");
  const responder = await startEnrolResponder(broker.tlsUrl, {
    ca: await Deno.readTextFile(certs.caFile),
    cert: await Deno.readTextFile(enrolCert.certFile),
    key: await Deno.readTextFile(enrolCert.keyFile),
  }, { ca: await brokerCa(certs), allow, stateFile: `${dir}/enrolled.json` });
  await using cloud = await certClient(broker, "fleet-manager", ["nvr/v1/#"]);
  try {
    const file = `${dir}/boot/nvr-provision.json`;
    await Deno.mkdir(`${dir}/boot`);
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        fleetUrl: broker.tlsUrl,
        enrolUrl: `mqtts://127.0.0.1:${enrolPort}`,
        caCert: await Deno.readTextFile(certs.caFile),
        bootstrap: { username: "bootstrap", password: BOOTSTRAP_PASSWORD },
        timeZone: "Europe/Berlin",
        ntpServers: ["0.debian.pool.ntp.org"],
        setupCode: "SHOP-0012-BOX",
      }),
      { mode: 0o600 },
    );
    await Deno.chmod(file, 0o600);
    const identityDir = `${dir}/state/identity`;
    const raw = { provision: { file, identityDir } };
    const quick = { refusedRetryMs: 300, backoffMinMs: 100, backoffMaxMs: 500 };

    let deviceId: string;
    {
      await using h = await startHarness(raw, { dir, enrolTiming: quick });
      deviceId = h.daemon.deviceId;
      // Not on the allow-list yet: refused, and the box asks again.
      await waitUntil(
        "a refusal",
        () =>
          cloud.messages.some((m) =>
            m.topic === enrolTopics(deviceId).reply && m.json?.code === "not-allowed"
          ),
        20_000,
      );
      assertEquals(h.daemon.fleet, null, "no fleet link before enrolment");
      allow.set(deviceId, {});
      const birth = await cloud.waitFor(
        "birth as itself",
        (m) => m.find((x) => x.topic === `nvr/v1/${deviceId}/state` && x.json?.state === "online"),
        30_000,
      );
      assert(birth);
      assert(h.daemon.fleet, "the fleet link runs");
      const log = await broker.logText();
      // Connected on the mutual-TLS listener with its certificate's CN as the username.
      assertMatch(
        log,
        new RegExp(`New client connected from \\S+ as ${deviceId} .*u'${deviceId}'`),
      );
      assertMatch(
        log,
        new RegExp(`New client connected from \\S+ as enrol-${deviceId} .*u'bootstrap'`),
      );
      // The file is gone, its contents in the store, the bootstrap credential forgotten.
      assertEquals(await Deno.stat(file).then(() => "there", () => "gone"), "gone");
      const stored = JSON.parse(await Deno.readTextFile(`${identityDir}/identity.json`));
      assertEquals([stored.bootstrap, stored.deviceId, stored.timeZone], [
        null,
        deviceId,
        "Europe/Berlin",
      ]);
      assertEquals((await Deno.stat(`${identityDir}/device.key`)).mode! & 0o777, 0o600);
      assertEquals((await Deno.stat(`${identityDir}/identity.json`)).mode! & 0o777, 0o600);
      assertEquals((await Deno.stat(identityDir)).mode! & 0o777, 0o700);
      assert(!JSON.stringify(stored).includes(BOOTSTRAP_PASSWORD));
      assert(
        h.log.lines.some((l) => l.msg === "setup code: SHOP-0012-BOX"),
        "the provisioned setup code",
      );
    }
    // A restart (the data disk lost too): no file, no new request; mutual TLS straight away.
    const requests = cloud.messages.filter((m) => m.topic === enrolTopics(deviceId).request).length;
    await Deno.remove(`${dir}/data`, { recursive: true });
    const births = cloud.messages.filter((m) =>
      m.topic === `nvr/v1/${deviceId}/state` && m.json?.state === "online"
    ).length;
    {
      await using h = await startHarness(raw, { dir, enrolTiming: quick });
      await cloud.waitFor("birth again", (m) =>
        m.filter((x) =>
            x.topic === `nvr/v1/${deviceId}/state` && x.json?.state === "online"
          )
            .length > births
          ? true
          : undefined, 30_000);
      assertEquals(h.daemon.deviceId, deviceId);
      assertEquals(
        cloud.messages.filter((m) =>
          m.topic === enrolTopics(deviceId).request
        ).length,
        requests,
      );
      assert(
        h.log.lines.some((l) =>
          l.msg === "setup code: SHOP-0012-BOX"
        ),
        "from the identity store",
      );
    }
    assertEquals(responder.responder.enrolled().size, 1);
  } finally {
    await responder.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
