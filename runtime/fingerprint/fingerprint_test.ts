import { assert, assertEquals } from "../testing/assert.ts";
import { FIXTURE_BOARDS, fixtureRoot, fixtureSources, stripRoot } from "./sources_fixture.ts";
import {
  canonicalJson,
  collectFingerprint,
  type Fingerprint,
  fingerprintBinding,
  fingerprintHash,
  isPlaceholderSerial,
  sameFingerprint,
} from "./mod.ts";

interface Expected {
  fingerprint: Fingerprint;
  hash: string;
}

async function expected(board: string): Promise<Expected> {
  return JSON.parse(await Deno.readTextFile(`${fixtureRoot(board)}/expected.json`)) as Expected;
}

for (const board of FIXTURE_BOARDS) {
  Deno.test(`fingerprint of the ${board} fixture box is testdata/${board}/expected.json`, async () => {
    const fp = await collectFingerprint(await fixtureSources(board));
    const want = await expected(board);
    assertEquals(stripRoot(fp, fixtureRoot(board)), want.fingerprint);
    // The pinned hash: changing it re-binds every licence in the field, so it must be on purpose.
    assertEquals(await fingerprintHash(fp), want.hash, "licence binding hash");
  });
}

Deno.test("x86 fixture: OEM placeholders skipped, virtual NICs and disks skipped, USB stick and NIC not bound", async () => {
  const fp = await collectFingerprint(await fixtureSources("x86"));
  assertEquals(fp.board.serial?.value, "9a3f6c1e-5b7d-4e2a-8c0f-1d2e3f4a5b6c");
  assert(fp.board.serial?.source.endsWith("/sys/class/dmi/id/product_uuid"));
  assertEquals(fp.disks.map((d) => d.name), ["nvme0n1", "sda", "sdb"]);
  assertEquals(fp.network.map((n) => n.name), ["enp2s0", "enx00e04c680001", "wlp3s0"]);
  assertEquals(fingerprintBinding(fp), {
    v: 1,
    board: "9a3f6c1e-5b7d-4e2a-8c0f-1d2e3f4a5b6c",
    disks: ["2130E5F1A2B3", "S62ANJ0R712345K"],
    macs: ["58:47:ca:71:2a:10", "d4:d8:53:9a:bc:de"],
  });
});

Deno.test("rpi4 fixture: the SSD behind the USB bridge keeps udev's serial, smartctl's is innerSerial", async () => {
  const fp = await collectFingerprint(await fixtureSources("rpi4"));
  const sda = fp.disks.find((d) => d.name === "sda");
  assertEquals(sda?.serial?.value, "1234567D9A1B");
  assertEquals(sda?.innerSerial, {
    value: "S49WNP0N123456A",
    source: "smartctl --json -i /dev/sda",
  });
  // Without smartctl the binding is the same: it never depends on a command that can fail.
  const without = await collectFingerprint({ ...await fixtureSources("rpi4"), smartctl: null });
  assertEquals(await fingerprintHash(without), await fingerprintHash(fp));
});

function shuffled<T>(items: readonly T[]): T[] {
  return [...items].reverse();
}

Deno.test("hash: same under reordering, IP changes, camera changes and an added USB NIC or stick", async () => {
  const fp = await collectFingerprint(await fixtureSources("x86"));
  const hash = await fingerprintHash(fp);
  const reordered: Fingerprint = {
    ...fp,
    board: { ...fp.board, identifiers: shuffled(fp.board.identifiers) },
    disks: shuffled(fp.disks),
    network: shuffled(fp.network).map((n) => ({ ...n, addresses: shuffled(n.addresses) })),
  };
  assertEquals(await fingerprintHash(reordered), hash, "reordered");
  const moved: Fingerprint = {
    ...fp,
    network: fp.network.map((n) => ({ ...n, addresses: [{ value: "10.9.9.9", source: "x" }] })),
    cameras: [{
      id: "cam1",
      origin: "config",
      vendor: null,
      model: null,
      serial: null,
      firmware: null,
      hardwareId: null,
      ip: { value: "10.0.0.8", source: "config:cameras[0].url" },
      mac: null,
      onvifError: "no ONVIF URL configured",
    }],
  };
  assertEquals(await fingerprintHash(moved), hash, "new IPs and a camera");
  assert(!sameFingerprint(moved, fp), "but the fingerprint itself changed (republish)");
  const plugged: Fingerprint = {
    ...fp,
    disks: [...fp.disks, {
      ...fp.disks[2]!,
      name: "sdc",
      serial: { value: "NEWSTICK", source: "x" },
    }],
    network: [...fp.network, {
      ...fp.network[1]!,
      name: "enx1",
      mac: { value: "00:e0:4c:00:00:02", source: "x" },
    }],
  };
  assertEquals(await fingerprintHash(plugged), hash, "USB stick and USB NIC plugged in");
  assert(sameFingerprint(reordered, reordered) && sameFingerprint(fp, structuredClone(fp)));
});

Deno.test("hash: changes when the board serial, a fixed disk's serial or a permanent MAC changes", async () => {
  const fp = await collectFingerprint(await fixtureSources("jetson"));
  const hash = await fingerprintHash(fp);
  const board: Fingerprint = {
    ...fp,
    board: { ...fp.board, serial: { value: "1422021099999", source: "x" } },
  };
  const disk: Fingerprint = {
    ...fp,
    disks: fp.disks.map((d) =>
      d.name === "nvme0n1" ? { ...d, serial: { value: "S4EUNX0N000000X", source: "x" } } : d
    ),
  };
  const nic: Fingerprint = {
    ...fp,
    network: fp.network.map((n) =>
      n.name === "eth0" ? { ...n, mac: { value: "48:b0:2d:3a:4b:5d", source: "x" } } : n
    ),
  };
  const hashes = await Promise.all([board, disk, nic].map(fingerprintHash));
  assertEquals(new Set([hash, ...hashes]).size, 4, "four different hashes");
  // A source is not part of the hash.
  const resourced: Fingerprint = {
    ...fp,
    board: {
      ...fp.board,
      serial: { value: fp.board.serial!.value, source: "/proc/cpuinfo:Serial" },
    },
  };
  assertEquals(await fingerprintHash(resourced), hash);
});

Deno.test("Rockchip: the fused serial in /proc/cpuinfo wins over the devicetree one", async () => {
  const boardFixture = new URL("../board/testdata/rockchip-rk3588", import.meta.url).pathname;
  const fp = await collectFingerprint({
    sysRoot: `${boardFixture}/sys`,
    procRoot: `${boardFixture}/proc`,
    smartctl: null,
    networkInterfaces: () => [],
  });
  assertEquals(fp.board.id, "rockchip");
  assertEquals(fp.board.serial?.value, "7b2e5c1f9a3d4e60");
  assertEquals(fp.board.serialCaveat, null);
  assertEquals(fp.board.identifiers.map((s) => s.value), ["7b2e5c1f9a3d4e60", "c3d9b8674f4b94f6"]);

  const dir = await Deno.makeTempDir({ prefix: "fp-rk-" });
  try {
    await Deno.mkdir(`${dir}/sys/firmware/devicetree/base`, { recursive: true });
    await Deno.mkdir(`${dir}/proc`);
    for (const name of ["model", "compatible", "serial-number"]) {
      await Deno.copyFile(
        `${boardFixture}/sys/firmware/devicetree/base/${name}`,
        `${dir}/sys/firmware/devicetree/base/${name}`,
      );
    }
    await Deno.writeTextFile(
      `${dir}/proc/cpuinfo`,
      "processor\t: 0\nSerial\t\t: 0000000000000000\n",
    );
    const dtOnly = await collectFingerprint({
      sysRoot: `${dir}/sys`,
      procRoot: `${dir}/proc`,
      smartctl: null,
      networkInterfaces: () => [],
    });
    assertEquals(dtOnly.board.serial?.value, "c3d9b8674f4b94f6");
    assert(dtOnly.board.serialCaveat?.includes("bootloader"), "caveat says why");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("placeholder serials are not serials", () => {
  for (const junk of ["To be filled by O.E.M.", "Default string", "0000000000000000", "", "  "]) {
    assert(isPlaceholderSerial(junk), junk);
  }
  assert(isPlaceholderSerial("03000200-0400-0500-0006-000700080009"));
  assert(isPlaceholderSerial("00000000-0000-0000-0000-000000000000"));
  for (const real of ["10000000abcd1234", "PF3ABCDE", "1422021012345"]) {
    assert(!isPlaceholderSerial(real), real);
  }
});

Deno.test("canonicalJson sorts keys at every level and keeps array order", () => {
  assertEquals(
    canonicalJson({ b: 1, a: { d: [2, 1], c: null } }),
    '{"a":{"c":null,"d":[2,1]},"b":1}',
  );
});

Deno.test("this machine: collectFingerprint reads the real /sys and /proc without throwing", async () => {
  const fp = await collectFingerprint({ smartctl: null });
  assert(fp.disks.every((d) => !/^(loop|zram|ram|dm-)/.test(d.name)), "no virtual disks");
  assert(fp.network.every((n) => n.name !== "lo" && !n.name.startsWith("veth")), "no virtual NICs");
  assert(fp.board.identifiers.every((s) => !isPlaceholderSerial(s.value)));
  assertEquals((await fingerprintHash(fp)).length, 64);
});
