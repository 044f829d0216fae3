/**
 * Attacks on the command topic (issue 12), each against a real Mosquitto and the real link with
 * its Deno KV file: a retained command, a replayed request id, a command that arrives after its
 * expiresAt. The hooks record what ran; a command that must not run leaves them empty.
 */
import { assertEquals, assertMatch } from "../testing/assert.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { type FleetLink, startFleetLink } from "./link.ts";
import { deviceTopics } from "./schema.ts";
import {
  CloudClient,
  type HookState,
  removeDir,
  testLink,
  waitUntil,
} from "../testing/fleet_kit.ts";

const topics = deviceTopics("nvr-test-0001");
const restartDoor = JSON.stringify({ cmd: "restart-camera", camera: "door" });

/** Starts the link on `dir` (its KV file survives a stop) and waits for its subscriptions. */
async function startLink(
  url: string,
  dir: string,
): Promise<{ link: FleetLink; hooks: HookState }> {
  const { deps, hooks } = testLink(url, dir);
  const link = await startFleetLink(deps);
  await waitUntil("subscribed", () => link.status().subscribed);
  return { link, hooks };
}

/** The n-th result published on cmd-result/<id> (1-based). */
function nthResult(cloud: CloudClient, id: string, n: number) {
  return cloud.waitFor(
    `result ${n} of ${id}`,
    () => cloud.on(topics.cmdResult(id))[n - 1]?.json,
  );
}

Deno.test("attack: retained cmd/ message runs on every connect", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [`${topics.prefix}cmd-result/#`]);
  // Left on the broker before the box connects.
  await cloud.publish(topics.cmd("k-1"), restartDoor, true);
  try {
    for (let connect = 1; connect <= 2; connect++) {
      const { link, hooks } = await startLink(broker.url, dir);
      try {
        const result = await nthResult(cloud, "k-1", connect);
        assertEquals([result.ok, result.code], [false, "retained"], `connect ${connect}`);
        assertEquals(hooks.restarted, [], `connect ${connect}: nothing ran`);

        // Published with the retain flag while the box is connected: without "retain as
        // published" the broker clears the flag on live delivery and the command would run now.
        if (connect === 1) {
          await cloud.publish(topics.cmd("k-2"), restartDoor, true);
          const live = await nthResult(cloud, "k-2", 1);
          assertEquals([live.ok, live.code], [false, "retained"]);
          assertMatch(String(live.error), /retained commands are not executed/);
          assertEquals(hooks.restarted, [], "a live retained command did not run");
        }
      } finally {
        await link.stop();
      }
    }
  } finally {
    await cloud.publish(topics.cmd("k-1"), "", true);
    await cloud.publish(topics.cmd("k-2"), "", true);
    await removeDir(dir);
  }
});

Deno.test("attack: replayed command with a request id seen before", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [`${topics.prefix}cmd-result/#`]);
  try {
    const first = await startLink(broker.url, dir);
    try {
      await cloud.publish(topics.cmd("r-1"), restartDoor);
      assertEquals((await nthResult(cloud, "r-1", 1)).ok, true);
      assertEquals(first.hooks.restarted, ["door"], "the first delivery runs");
      // The same id again, as captured, and with another command under it.
      await cloud.publish(topics.cmd("r-1"), restartDoor);
      await cloud.publish(
        topics.cmd("r-1"),
        JSON.stringify({ cmd: "restart-camera", camera: "yard" }),
      );
      const again = await nthResult(cloud, "r-1", 3);
      assertEquals(again.result, { camera: "door" }, "answered with the stored result");
      assertEquals(first.hooks.restarted, ["door"], "replays did not run");
    } finally {
      await first.link.stop();
    }
    // After a restart of the daemon (the same KV file): still seen.
    const second = await startLink(broker.url, dir);
    try {
      await cloud.publish(topics.cmd("r-1"), restartDoor);
      const replay = await nthResult(cloud, "r-1", 4);
      assertEquals(replay.result, { camera: "door" });
      assertEquals(second.hooks.restarted, [], "a replay after a restart did not run");
    } finally {
      await second.link.stop();
    }
  } finally {
    await removeDir(dir);
  }
});

Deno.test("attack: command delivered after its expiresAt", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [`${topics.prefix}cmd-result/#`]);
  try {
    // Already past when it is published.
    const first = await startLink(broker.url, dir);
    try {
      await cloud.publish(
        topics.cmd("e-1"),
        JSON.stringify({ cmd: "restart-camera", camera: "door", expiresAt: Date.now() - 1 }),
      );
      const late = await nthResult(cloud, "e-1", 1);
      assertEquals([late.ok, late.code], [false, "expired"]);
      assertMatch(String(late.error), /the command expired at .*; send it again/);
      assertEquals(first.hooks.restarted, []);
    } finally {
      await first.link.stop();
    }
    // Valid when published, held by the broker for the offline box (its persistent session),
    // delivered after it expired.
    const expiresAt = Date.now() + 200;
    await cloud.publish(
      topics.cmd("e-2"),
      JSON.stringify({ cmd: "restart-camera", camera: "door", expiresAt }),
    );
    await waitUntil("the command expired", () => Date.now() > expiresAt);
    const second = await startLink(broker.url, dir);
    try {
      const queued = await nthResult(cloud, "e-2", 1);
      assertEquals([queued.ok, queued.code], [false, "expired"]);
      assertEquals(second.hooks.restarted, [], "an expired command did not run");
    } finally {
      await second.link.stop();
    }
  } finally {
    await removeDir(dir);
  }
});

Deno.test("attack: apply-config nested 100 000 deep overflows the stack", async () => {
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [`${topics.prefix}cmd-result/#`]);
  const { link, hooks } = await startLink(broker.url, dir);
  try {
    // 600 KB would be refused as too large; 100 000 levels of arrays fit in 256 KiB.
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    await cloud.publish(topics.cmd("d-1"), `{"cmd":"apply-config","config":{"device":${deep}}}`);
    const result = await nthResult(cloud, "d-1", 1);
    assertEquals([result.ok, result.code], [false, "config-rejected"], String(result.error));
    assertMatch(String(result.error), /^device: expected an object/);
    assertEquals([hooks.applied, link.status().configVersion], [[], 0]);
    // And the link goes on.
    await cloud.publish(topics.cmd("d-2"), JSON.stringify({ cmd: "ping" }));
    assertEquals((await nthResult(cloud, "d-2", 1)).ok, true);
  } finally {
    await link.stop();
    await removeDir(dir);
  }
});
