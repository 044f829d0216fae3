/** The rauc wrapper against the real `rauc` binary and real signed bundles. */
import { assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import { makeBundle, makeSigningKey } from "./bundle_fixture.ts";
import { checkBundle, parseStatus, raucCli, RaucError } from "./rauc.ts";
import { compareVersions } from "./version.ts";

const BOARD = "nvr-test-board";

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "rauc-test-" });
  const image = await makeSigningKey(dir, "image");
  return { dir, image, rauc: raucCli({ keyring: image.cert }) };
}

Deno.test("rauc info verifies a bundle signed with the image's key and reads compatible + version", async () => {
  const { dir, image, rauc } = await setup();
  const bundle = await makeBundle(dir, "good", {
    signer: image,
    compatible: BOARD,
    version: "0.2.0",
  });
  const info = await rauc.info(bundle);
  assertEquals(info, { compatible: BOARD, version: "0.2.0" });
  checkBundle(info, { compatible: BOARD, version: "0.2.0", running: "0.1.0" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("attack: update bundle signed by another key — rauc info refuses it", async () => {
  const { dir, rauc } = await setup();
  const other = await makeSigningKey(dir, "attacker");
  const bundle = await makeBundle(dir, "evil", {
    signer: other,
    compatible: BOARD,
    version: "9.0.0",
  });
  const err = await assertRejects(() => rauc.info(bundle), RaucError, "signature is not valid");
  assertEquals(err.kind, "signature");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("attack: truncated update bundle — rauc info refuses it", async () => {
  const { dir, image, rauc } = await setup();
  const bundle = await makeBundle(dir, "good", {
    signer: image,
    compatible: BOARD,
    version: "0.2.0",
  });
  const bytes = await Deno.readFile(bundle);
  for (const cut of [bytes.byteLength - 100, 10_000, 100]) {
    await Deno.writeFile(`${dir}/cut.raucb`, bytes.subarray(0, cut));
    const err = await assertRejects(() => rauc.info(`${dir}/cut.raucb`), RaucError);
    assertEquals(err.kind === "format" || err.kind === "signature", true, `${cut}: ${err.message}`);
  }
  await Deno.writeFile(`${dir}/junk.raucb`, new TextEncoder().encode("x".repeat(100)));
  assertEquals(
    (await assertRejects(() => rauc.info(`${dir}/junk.raucb`), RaucError)).kind,
    "format",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("attack: update bundle for another board — signed, but refused by our check", async () => {
  const { dir, image, rauc } = await setup();
  const bundle = await makeBundle(dir, "other", {
    signer: image,
    compatible: "some-other-board",
    version: "0.2.0",
  });
  const info = await rauc.info(bundle);
  const err = assertThrows(
    () => checkBundle(info, { compatible: BOARD, version: "0.2.0", running: "0.1.0" }),
    RaucError,
    "the bundle is for 'some-other-board', this board is 'nvr-test-board'",
  );
  assertEquals(err.kind, "board");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("attack: update to an older version (downgrade) — refused by our check", () => {
  const info = { compatible: BOARD, version: "0.1.0" };
  for (const running of ["0.1.0", "0.2.0", "1.0.0"]) {
    const err = assertThrows(
      () => checkBundle(info, { compatible: BOARD, version: "0.1.0", running }),
      RaucError,
      "downgrades are refused",
    );
    assertEquals(err.kind, "version");
  }
  // The manifest must say what the command said.
  assertThrows(
    () =>
      checkBundle({ compatible: BOARD, version: "0.3.0" }, {
        compatible: BOARD,
        version: "0.2.0",
        running: "0.1.0",
      }),
    RaucError,
    "the command said '0.2.0'",
  );
});

Deno.test("versions are ordered like semver, pre-releases before the release", () => {
  const ordered = [
    "0.1.0",
    "0.1.1",
    "0.2.0-rc.1",
    "0.2.0-rc.2",
    "0.2.0-rc.10",
    "0.2.0",
    "0.10.0",
    "1.0.0",
  ];
  for (let i = 1; i < ordered.length; i++) {
    assertEquals(compareVersions(ordered[i - 1]!, ordered[i]!) < 0, true, ordered[i]);
    assertEquals(compareVersions(ordered[i]!, ordered[i - 1]!) > 0, true, ordered[i]);
  }
  assertEquals(compareVersions("0.2.0", "0.2.0"), 0);
});

Deno.test("rauc status JSON: the booted slot and its boot status", () => {
  const status = parseStatus(JSON.stringify({
    compatible: BOARD,
    booted: "B",
    boot_primary: "rootfs.1",
    slots: [
      { "rootfs.0": { class: "rootfs", bootname: "A", state: "inactive", boot_status: "good" } },
      { "rootfs.1": { class: "rootfs", bootname: "B", state: "booted", boot_status: "bad" } },
    ],
  }));
  assertEquals(status.booted, "B");
  assertEquals(status.slots[1], {
    name: "rootfs.1",
    bootname: "B",
    state: "booted",
    bootStatus: "bad",
  });
});
