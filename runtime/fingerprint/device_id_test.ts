import { assertEquals, assertMatch, assertRejects } from "../testing/assert.ts";
import { fixtureSources } from "./sources_fixture.ts";
import {
  collectFingerprint,
  deriveDeviceId,
  DeviceIdError,
  deviceIdPath,
  sha256Hex,
} from "./mod.ts";

Deno.test("deviceId from the board serial: nvr- and the first 16 hex of its SHA-256", async () => {
  const fp = await collectFingerprint(await fixtureSources("rpi4"));
  const id = await deriveDeviceId(fp, { dataDir: "/nonexistent" });
  const want = `nvr-${(await sha256Hex("10000000abcd1234")).slice(0, 16)}`;
  assertEquals(id.deviceId, want);
  assertEquals(id.basis, "board-serial");
  // Same box, another collection (reboot/reinstall): same id.
  const again = await deriveDeviceId(await collectFingerprint(await fixtureSources("rpi4")), {
    dataDir: "/nonexistent",
  });
  assertEquals(again.deviceId, want);
});

Deno.test("deviceId without a board serial: the first bound NIC's MAC (not a USB dongle)", async () => {
  const fp = await collectFingerprint(await fixtureSources("x86"));
  const noSerial = { ...fp, board: { ...fp.board, serial: null, identifiers: [] } };
  const id = await deriveDeviceId(noSerial, { dataDir: "/nonexistent" });
  assertEquals(id.basis, "mac");
  assertEquals(id.deviceId, `nvr-${(await sha256Hex("58:47:ca:71:2a:10")).slice(0, 16)}`);
  assertMatch(id.source, /enp2s0\/address$/);
});

Deno.test("deviceId with neither: a random id kept in <dataDir>/device-id", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fp-id-" });
  try {
    const fp = await collectFingerprint(await fixtureSources("x86"));
    const bare = { ...fp, board: { ...fp.board, serial: null, identifiers: [] }, network: [] };
    const first = await deriveDeviceId(bare, { dataDir: dir });
    assertMatch(first.deviceId, /^nvr-[0-9a-f]{16}$/);
    assertEquals(first.basis, "persisted");
    assertEquals((await Deno.readTextFile(deviceIdPath(dir))).trim(), first.deviceId);
    assertEquals((await deriveDeviceId(bare, { dataDir: dir })).deviceId, first.deviceId);
    await Deno.writeTextFile(deviceIdPath(dir), "garbage\n");
    await assertRejects(() => deriveDeviceId(bare, { dataDir: dir }), DeviceIdError, "device-id");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
