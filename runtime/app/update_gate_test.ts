/**
 * The whole daemon after an update's reboot, with a real Mosquitto and a real virtual camera:
 * the trial boot's health gate marks the slot good when everything records, or marks it bad and
 * reboots when a camera does not; the outcome is `lastUpdate` in `state`. Then `update` commands
 * over the fleet: a downgrade refused, and a good bundle downloaded (progress events), verified by
 * the real rauc and handed to the real `rauc install`, which fails on this machine (no slots).
 * RAUC's slot status, mark-good/bad and the reboot are the parts replaced here (they need the
 * image); the image test runs them for real.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient } from "../testing/fleet_kit.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { makeBundle, makeSigningKey } from "../update/bundle_fixture.ts";
import { serveBundle } from "../update/bundle_server.ts";
import { type Rauc, raucCli } from "../update/rauc.ts";
import { createHash } from "node:crypto";

const small = { codec: "h265", width: 320, height: 240, fps: 15 } as const;
const BOARD = "nvr-test-board";

async function onTrial(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/data/.update`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/data/.update/pending.json`,
    JSON.stringify({
      from: "0.1.0",
      to: "0.2.0",
      slot: "rootfs.1",
      installedAt: 1,
      bootId: "boot-before",
      reboot: "now",
    }),
  );
}

/** The real rauc for bundles; slot status and marking recorded (they need RAUC slots). */
function trialRauc(keyring: string, calls: string[]): Rauc {
  const real = raucCli({ keyring });
  return {
    info: (b) => real.info(b),
    install: (b) => real.install(b),
    status: () =>
      Promise.resolve({
        compatible: BOARD,
        booted: "B",
        slots: [
          { name: "rootfs.0", bootname: "A", state: "inactive", bootStatus: "good" },
          { name: "rootfs.1", bootname: "B", state: "booted", bootStatus: "good" },
        ],
      }),
    markGood: () => Promise.resolve(void calls.push("mark-good")),
    markBad: () => Promise.resolve(void calls.push("mark-bad")),
  };
}

Deno.test("trial boot: every camera records for the steady time → slot marked good, lastUpdate good; then update commands over the fleet", async () => {
  await using broker = await Mosquitto.start();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  await using cloud = await CloudClient.connect(url, ["nvr/v1/#"]);
  await using cam = await startVirtualCamera(small);
  const dir = await Deno.makeTempDir({ prefix: "nvr-update-" });
  await using _cleanup = { [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
  await onTrial(dir);
  const keys = await makeSigningKey(dir, "image");
  const calls: string[] = [];
  await using h = await startHarness({
    mqtt: { url, healthIntervalSeconds: 5 },
    cameras: [{ id: "door", url: cam.rtspUrl }],
  }, {
    dir,
    update: {
      version: "0.2.0",
      rauc: trialRauc(keys.cert, calls),
      compatible: () => Promise.resolve(BOARD),
      bootId: () => Promise.resolve("boot-after"),
      reboot: () => Promise.resolve(void calls.push("reboot")),
      gate: { steadyMs: 2_000, limitMs: 60_000, pollMs: 200 },
      download: { retryMs: 10 },
    },
  });
  const base = `nvr/v1/${h.daemon.fleet!.deviceId}`;
  const state = (want: string) =>
    cloud.waitFor(
      `state with lastUpdate ${want}`,
      (m) =>
        m.find((x) =>
          x.topic === `${base}/state` &&
          (x.json?.lastUpdate as Record<string, unknown> | undefined)?.state === want
        ),
      60_000,
    );
  const good = await state("good");
  assertEquals(good.json?.version, "0.2.0");
  const last = good.json?.lastUpdate as Record<string, unknown>;
  assertEquals([last.from, last.to, last.slot], ["0.1.0", "0.2.0", "rootfs.1"]);
  assertEquals(calls, ["mark-good"]);
  assertEquals(await Deno.stat(`${dir}/data/.update/pending.json`).catch(() => null), null);

  const result = async (id: string) =>
    (await cloud.waitFor(
      `result of ${id}`,
      (m) => m.find((x) => x.topic === `${base}/cmd-result/${id}`),
      30_000,
    )).json ?? {};
  const answer = async (id: string, command: unknown) => {
    await cloud.publish(`${base}/cmd/${id}`, JSON.stringify(command));
    return (await cloud.waitFor(
      `result of ${id}`,
      (m) => m.find((x) => x.topic === `${base}/cmd-result/${id}`),
      30_000,
    )).json ?? {};
  };
  const bundle = await Deno.readFile(
    await makeBundle(dir, "next", { signer: keys, compatible: BOARD, version: "0.3.0" }),
  );
  await using server = serveBundle(bundle);
  const update = {
    cmd: "update",
    url: server.url,
    size: bundle.byteLength,
    sha256: createHash("sha256").update(bundle).digest("hex"),
    version: "0.3.0",
  };
  const down = await answer("u1", { ...update, version: "0.1.5" });
  assertEquals([down.ok, down.code], [false, "refused"]);
  assertMatch(String(down.error), /not newer than the running 0\.2\.0; downgrades are refused/);
  assertEquals(server.ranges.length, 0);

  // Pings are answered while an update runs; the real rauc install fails here (no slots).
  await cloud.publish(`${base}/cmd/u2`, JSON.stringify(update));
  const pong = await answer("p1", { cmd: "ping" });
  assertEquals(pong.ok, true);
  // A repeat of the running command (QoS 1 may deliver it twice) is not run twice.
  await cloud.publish(`${base}/cmd/u2`, JSON.stringify(update));
  const installed = await result("u2");
  assertEquals([installed.ok, installed.code], [false, "failed"], JSON.stringify(installed));
  assertMatch(String(installed.error), /rauc install/);
  const progress = cloud.messages.filter((x) =>
    x.topic === `${base}/events` && x.json?.kind === "update-progress"
  );
  assert(progress.length >= 1, "update-progress events");
  assertEquals((progress.at(-1)?.json?.detail as Record<string, unknown>).percent, 100);
  assert(!calls.includes("reboot"), "nothing rebooted");
  assertEquals(server.ranges, [null], "run once: downloaded once");
});

Deno.test("trial boot: a camera that never records → health gate fails, slot marked bad, reboot; lastUpdate says why", async () => {
  await using broker = await Mosquitto.start();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  await using cloud = await CloudClient.connect(url, ["nvr/v1/#"]);
  await using cam = await startVirtualCamera(small);
  const dir = await Deno.makeTempDir({ prefix: "nvr-update-" });
  await using _cleanup = { [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
  await onTrial(dir);
  const calls: string[] = [];
  let rebooted!: () => void;
  const reboot = new Promise<void>((r) => rebooted = r);
  await using h = await startHarness({
    mqtt: { url, healthIntervalSeconds: 5 },
    cameras: [
      { id: "door", url: cam.rtspUrl },
      { id: "gone", url: "rtsp://127.0.0.1:9/nothing" },
    ],
  }, {
    dir,
    update: {
      version: "0.2.0",
      rauc: trialRauc("/nonexistent", calls),
      compatible: () => Promise.resolve(BOARD),
      bootId: () => Promise.resolve("boot-after"),
      reboot: () => {
        calls.push("reboot");
        rebooted();
        return Promise.resolve();
      },
      gate: { steadyMs: 2_000, limitMs: 4_000, pollMs: 200 },
    },
  });
  await reboot;
  assertEquals(calls, ["mark-bad", "reboot"]);
  const base = `nvr/v1/${h.daemon.fleet!.deviceId}`;
  const trial = await cloud.waitFor(
    "state with the gate's reason",
    (m) =>
      m.find((x) =>
        x.topic === `${base}/state` &&
        /rebooting into the old slot/.test(JSON.stringify(x.json?.lastUpdate ?? ""))
      ),
    15_000,
  );
  assertMatch(
    JSON.stringify(trial.json?.lastUpdate),
    /health gate failed after 4 s: not recording: gone \((starting|retrying|failed)\)/,
  );
  const pending = JSON.parse(await Deno.readTextFile(`${dir}/data/.update/pending.json`));
  assertMatch(pending.gateFailed, /not recording: gone/);
});
