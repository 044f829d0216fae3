/**
 * Licensing in the running daemon: with trusted keys set, cameras record only as the licence
 * allows; a licence for this box unlocks them at once; a tampered or foreign one is refused and
 * the installed one stays.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { generateLicenceKeyPair, signLicence } from "../licence/mod.ts";
import { collectFingerprint, fingerprintHash } from "../fingerprint/mod.ts";
import { LicenceRejectedError, loadLicencePolicy } from "./licence_keeper.ts";
import { memoryLogger } from "../lib/log.ts";

const small = { codec: "h265", width: 320, height: 240, fps: 15 } as const;

Deno.test("the camera limit follows the licence; tampered and foreign licences are refused", async () => {
  const keys = await generateLicenceKeyPair();
  await using cam = await startVirtualCamera(small);
  await using keysFile = await imageKeysFile([{ id: "fleet-1", publicKey: keys.publicKeyRaw }]);
  await using h = await startHarness({
    licence: { keysFile: keysFile.path },
    cameras: [{ id: "a", url: cam.rtspUrl }, { id: "b", url: cam.rtspUrl }],
  });
  // No licence yet: nothing records, and each camera says why.
  const refused = await h.until("a", (s) => s.state === "failed", "a refused");
  assertMatch(refused.lastError ?? "", /^Not licensed: /);
  assertEquals(h.daemon.licence.status()?.state, "none");

  const hash = await fingerprintHash(await collectFingerprint({}));
  const payload = {
    v: 1 as const,
    licenceId: "lic-1",
    deviceId: h.daemon.deviceId,
    fingerprintHash: hash,
    maxCameras: 1,
    issuedAt: Date.now(),
    expiresAt: Date.now() + 30 * 86_400_000,
  };
  const licence = await signLicence(payload, keys.privateKey, "fleet-1");

  const tampered = { ...licence, payload: licence.payload.slice(0, -2) + "AA" };
  await assertRejects(() => h.daemon.licence.install(tampered), LicenceRejectedError);
  const foreign = await signLicence(
    { ...payload, fingerprintHash: "0".repeat(64) },
    keys.privateKey,
    "fleet-1",
  );
  await assertRejects(() => h.daemon.licence.install(foreign), LicenceRejectedError);
  assertEquals(h.daemon.licence.status()?.state, "none", "a refused licence changes nothing");

  const status = await h.daemon.licence.install(licence);
  assertEquals(status.state, "valid");
  await h.until("a", (s) => s.segments >= 1, "a records under the licence", 20_000);
  const b = h.camera("b");
  assertEquals(b.state, "failed");
  assertMatch(b.lastError ?? "", /^Not licensed: licence valid/);
  assert(JSON.parse(await Deno.readTextFile(`${h.dir}/data/licence.json`)).signature);
});

/** The image's keys file as a fixture: read-only (0444), as the image ships it. */
async function imageKeysFile(
  publicKeys: { id: string; publicKey: string }[],
  mode = 0o444,
): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-keys-" });
  const path = `${dir}/licence-keys.json`;
  await Deno.writeTextFile(path, JSON.stringify({ publicKeys, graceDays: 14 }));
  await Deno.chmod(path, mode);
  return { path, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("attack: licence keys file writable by the daemon's user (replaced with one's own key) — not trusted", async () => {
  const keys = await generateLicenceKeyPair();
  const log = memoryLogger("debug");
  await using readOnly = await imageKeysFile([{ id: "k", publicKey: keys.publicKeyRaw }]);
  assertEquals((await loadLicencePolicy(readOnly.path, log))?.publicKeys.length, 1);
  await using writable = await imageKeysFile([{ id: "k", publicKey: keys.publicKeyRaw }], 0o644);
  assertEquals(await loadLicencePolicy(writable.path, log), {
    publicKeys: [],
    graceDays: 0,
    unlicensedCameras: 0,
  });
  assertMatch(JSON.stringify(log.lines), /writable by the daemon's user/);
  assertEquals(await loadLicencePolicy(`${readOnly.path}.absent`, log), null, "no file: off");
});
