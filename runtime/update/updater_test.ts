/**
 * The updater with a real HTTP server, the real `rauc` (info with a test keyring; install on this
 * machine, which has no RAUC slots, fails for real) and real files. Only where RAUC would need
 * slots (install that succeeds, status, mark-good) is it replaced, and the test says so.
 */
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { memoryLogger } from "../lib/log.ts";
import { ProtocolError, type UpdateCommand } from "../fleet/schema.ts";
import { makeBundle, makeSigningKey } from "./bundle_fixture.ts";
import { serveBundle } from "./bundle_server.ts";
import { type Rauc, raucCli } from "./rauc.ts";
import { Updater, type UpdaterDeps } from "./updater.ts";
import { createHash } from "node:crypto";

const BOARD = "nvr-test-board";
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function fixture(
  opts: { signer?: "image" | "other"; compatible?: string; version?: string } = {},
) {
  const dir = await Deno.makeTempDir({ prefix: "updater-test-" });
  const image = await makeSigningKey(dir, "image");
  const signer = opts.signer === "other" ? await makeSigningKey(dir, "other") : image;
  const path = await makeBundle(dir, "b", {
    signer,
    compatible: opts.compatible ?? BOARD,
    version: opts.version ?? "0.2.0",
  });
  const bytes = await Deno.readFile(path);
  return { dir, image, bytes };
}

function deps(dir: string, keyring: string, over: Partial<UpdaterDeps> = {}) {
  const calls = { reboots: 0, progress: [] as number[], changed: 0 };
  const d: UpdaterDeps = {
    dataDir: `${dir}/data`,
    version: "0.1.0",
    log: memoryLogger("debug"),
    rauc: raucCli({ keyring }),
    compatible: () => Promise.resolve(BOARD),
    bootId: () => Promise.resolve("boot-1"),
    reboot: () => {
      calls.reboots++;
      return Promise.resolve();
    },
    rebootWindow: () => null,
    progress: (p) => calls.progress.push(p.percent),
    changed: () => calls.changed++,
    download: { retryMs: 10, attempts: 2 },
    rebootDelayMs: 0,
    ...over,
  };
  return { d, calls };
}

const command = (
  url: string,
  bytes: Uint8Array,
  over: Partial<UpdateCommand> = {},
): UpdateCommand => ({
  cmd: "update",
  url,
  size: bytes.byteLength,
  sha256: sha(bytes),
  version: "0.2.0",
  ...over,
});

async function refused(
  updater: Updater,
  cmd: UpdateCommand,
  includes: string,
): Promise<ProtocolError> {
  const err = await assertRejects(() => updater.update(cmd), ProtocolError, includes);
  assertEquals(err.code, "refused", err.message);
  assertEquals(updater.lastUpdate()?.state, "refused");
  assertEquals(updater.lastUpdate()?.reason, err.message);
  return err;
}

function leftovers(dir: string): string[] {
  return [...Deno.readDirSync(`${dir}/data/.update`)].map((e) => e.name).filter((n) =>
    n !== "last.json"
  ).sort();
}

Deno.test("attack: update to an older version (downgrade) — refused before a byte is downloaded", async () => {
  const { dir, image, bytes } = await fixture({ version: "0.0.9" });
  await using server = serveBundle(bytes);
  const { d } = deps(dir, image.cert);
  const updater = await Updater.open(d);
  await refused(
    updater,
    command(server.url, bytes, { version: "0.0.9" }),
    "downgrades are refused",
  );
  await refused(
    updater,
    command(server.url, bytes, { version: "0.1.0" }),
    "not newer than the running 0.1.0",
  );
  assertEquals(server.ranges.length, 0, "nothing downloaded");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("attack: update bundle with a wrong SHA-256 — refused through the updater, nothing kept", async () => {
  const { dir, image, bytes } = await fixture();
  await using server = serveBundle(bytes);
  const { d } = deps(dir, image.cert);
  const updater = await Updater.open(d);
  await refused(
    updater,
    command(server.url, bytes, { sha256: "ab".repeat(32) }),
    "not the announced",
  );
  assertEquals(leftovers(dir), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("attack: update bundle signed by another key — refused by RAUC through the updater", async () => {
  const { dir, image, bytes } = await fixture({ signer: "other" });
  await using server = serveBundle(bytes);
  const { d } = deps(dir, image.cert);
  const updater = await Updater.open(d);
  await refused(
    updater,
    command(server.url, bytes),
    "signature is not valid for this image's keyring",
  );
  assertEquals(leftovers(dir), [], "the bundle is removed");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("attack: update bundle for another board — refused through the updater", async () => {
  const { dir, image, bytes } = await fixture({ compatible: "other-board" });
  await using server = serveBundle(bytes);
  const { d } = deps(dir, image.cert);
  const updater = await Updater.open(d);
  await refused(updater, command(server.url, bytes), "the bundle is for 'other-board'");
  assertEquals(leftovers(dir), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("attack: truncated update bundle — refused through the updater", async () => {
  const { dir, image, bytes } = await fixture();
  await using server = serveBundle(bytes, { cutAfter: 5000, cuts: Infinity });
  const { d } = deps(dir, image.cert);
  const updater = await Updater.open(d);
  await refused(updater, command(server.url, bytes), "the bundle is truncated");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a verified bundle reaches the real rauc install, which fails on a machine without slots", async () => {
  const { dir, image, bytes } = await fixture();
  await using server = serveBundle(bytes);
  const { d, calls } = deps(dir, image.cert);
  const updater = await Updater.open(d);
  const first = updater.update(command(server.url, bytes));
  const again = await assertRejects(
    () => updater.update(command(server.url, bytes)),
    ProtocolError,
  );
  assertEquals([again.code, again.message], [
    "refused",
    "an update is already running; wait for its result",
  ]);
  const err = await assertRejects(() => first, ProtocolError, "rauc install");
  assertEquals(err.code, "failed");
  assertEquals(updater.lastUpdate()?.state, "failed");
  assertEquals(calls.reboots, 0);
  assertEquals(calls.progress.at(-1), 100);
  assertEquals(leftovers(dir), [], "no pending record, no bundle");
  await Deno.remove(dir, { recursive: true });
});

/** Real info; install/status/mark-good need RAUC slots, so they are recorded here (seam). */
function slotted(real: Rauc, log: string[]): Rauc {
  return {
    info: (b) => real.info(b),
    install: (b) => {
      log.push(`install ${b.split("/").at(-1)}`);
      return Promise.resolve();
    },
    status: () =>
      Promise.resolve({
        compatible: BOARD,
        booted: "A",
        slots: [
          { name: "rootfs.0", bootname: "A", state: "booted", bootStatus: "good" },
          { name: "rootfs.1", bootname: "B", state: "inactive", bootStatus: "good" },
        ],
      }),
    markGood: () => Promise.resolve(void log.push("mark-good")),
    markBad: () => Promise.resolve(void log.push("mark-bad")),
  };
}

Deno.test("installed: pending record written, result with the slot, reboot now; a second update is refused", async () => {
  const { dir, image, bytes } = await fixture();
  await using server = serveBundle(bytes);
  const raucLog: string[] = [];
  let rebooted!: () => void;
  const reboot = new Promise<void>((r) => rebooted = r);
  const { d } = deps(dir, image.cert, {
    rauc: slotted(raucCli({ keyring: image.cert }), raucLog),
    reboot: () => Promise.resolve(rebooted()),
    now: () => 1_000_000,
  });
  const updater = await Updater.open(d);
  const result = await updater.update(command(server.url, bytes));
  assertEquals(result, {
    from: "0.1.0",
    to: "0.2.0",
    slot: "rootfs.1",
    state: "installed",
    rebootAt: 1_000_000,
  });
  await reboot;
  assertEquals(raucLog, ["install bundle.raucb"]);
  const pending = JSON.parse(await Deno.readTextFile(`${dir}/data/.update/pending.json`));
  assertEquals(pending, {
    from: "0.1.0",
    to: "0.2.0",
    slot: "rootfs.1",
    installedAt: 1_000_000,
    bootId: "boot-1",
    reboot: "now",
  });
  assertEquals((await Deno.stat(`${dir}/data/.update/pending.json`)).mode! & 0o777, 0o600);
  assertEquals(leftovers(dir), ["pending.json"], "the bundle is gone once installed");
  await assertRejects(
    () => updater.update(command(server.url, bytes)),
    ProtocolError,
    "waits for its reboot",
  );
  updater.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test('reboot "window": the reboot waits for the next window', async () => {
  const { dir, image, bytes } = await fixture();
  await using server = serveBundle(bytes);
  const at = new Date(2026, 0, 1, 12, 0).getTime();
  const { d, calls } = deps(dir, image.cert, {
    rauc: slotted(raucCli({ keyring: image.cert }), []),
    rebootWindow: () => "02:00-04:00",
    now: () => at,
  });
  const updater = await Updater.open(d);
  const result = await updater.update(command(server.url, bytes, { reboot: "window" }));
  assertEquals(result.rebootAt, new Date(2026, 0, 2, 2, 0).getTime());
  assertEquals(calls.reboots, 0);
  updater.stop(); // clears the timer
  await Deno.remove(dir, { recursive: true });
});

Deno.test("after the reboot: the old version running means the update was rolled back, with the gate's reason", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/data/.update`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/data/.update/pending.json`,
    JSON.stringify({
      from: "0.1.0",
      to: "0.2.0",
      slot: "rootfs.1",
      installedAt: 1,
      bootId: "boot-0",
      reboot: "now",
      gateFailed: "not recording: door (retrying)",
    }),
  );
  const { d } = deps(dir, "/nonexistent", { rauc: slotted(raucCli(), []) });
  const updater = await Updater.open(d);
  await updater.afterBoot({ serviceUp: () => true, fleetConnected: () => true, cameras: () => [] });
  const last = updater.lastUpdate();
  assert(last);
  assertEquals([last.state, last.from, last.to, last.slot, last.reason], [
    "rolled-back",
    "0.1.0",
    "0.2.0",
    "rootfs.1",
    "not recording: door (retrying)",
  ]);
  assertEquals(leftovers(dir), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("after the reboot: a new slot whose daemon never reached its gate is reported rolled back with the image backstop's reason", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/data/.update`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/data/.update/pending.json`,
    JSON.stringify({
      from: "0.1.0",
      to: "0.2.0",
      slot: "rootfs.1",
      installedAt: 1,
      bootId: "boot-0",
      reboot: "now",
    }),
  );
  // As rootfs-overlay/usr/lib/nvr/firstboot/mark-good.sh writes it before marking the slot bad.
  await Deno.writeTextFile(
    `${dir}/data/.update/trial-failed`,
    "nvr.service failed (the new version's daemon does not start; see its journal)\n",
  );
  const { d } = deps(dir, "/nonexistent", { rauc: slotted(raucCli(), []) });
  const updater = await Updater.open(d);
  await updater.afterBoot({ serviceUp: () => true, fleetConnected: () => true, cameras: () => [] });
  const last = updater.lastUpdate();
  assert(last);
  assertEquals([last.state, last.to, last.reason], [
    "rolled-back",
    "0.2.0",
    "nvr.service failed (the new version's daemon does not start; see its journal)",
  ]);
  assertEquals(leftovers(dir), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("after a power cut in the middle of an install: the old version reports the update failed, and nothing is marked", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/data/.update`, { recursive: true });
  // What an update leaves once it started and before its install finished: no pending.json.
  await Deno.writeTextFile(
    `${dir}/data/.update/started.json`,
    JSON.stringify({ from: "0.1.0", to: "0.2.0", bootId: "boot-0", ts: 1 }),
  );
  await Deno.writeTextFile(`${dir}/data/.update/bundle.part`, "half a bundle");
  const calls: string[] = [];
  const { d } = deps(dir, "/nonexistent", { rauc: slotted(raucCli(), calls) });
  const updater = await Updater.open(d);
  await updater.afterBoot({ serviceUp: () => true, fleetConnected: () => true, cameras: () => [] });
  const last = updater.lastUpdate();
  assert(last);
  assertEquals([last.state, last.from, last.to], ["failed", "0.1.0", "0.2.0"]);
  assert(/restarted \(power cut or reset\) before the install finished/.test(last.reason ?? ""));
  assertEquals(
    calls.filter((c) => c !== "status"),
    [],
    "no slot marked after an interrupted install",
  );
  assertEquals(leftovers(dir), []);
  await Deno.remove(dir, { recursive: true });
});
