/**
 * firmware/lib/partition_table.sh: the disk layout build_image.sh makes for each board file, read
 * back from a real (sparse) disk image with sfdisk; and the RAUC configuration each board gets
 * names only partitions its layout has.
 */
import { assert, assertEquals, assertMatch } from "../../runtime/testing/assert.ts";
import { runCommand } from "../../runtime/testing/proc.ts";

const repo = new URL("../..", import.meta.url).pathname;
const script = `${repo}firmware/lib/partition_table.sh`;
const boards = `${repo}firmware/boards`;
const UUID_A = "0f2b6a3e-1c1d-4c55-9a51-6f0e5d6f0a0a";
const UUID_B = "5d0c3f8e-2b7a-4f0e-8d7c-3a9b1e2c4d5e";
const BASIC_DATA = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";

async function table(board: string): Promise<string> {
  const r = await runCommand(script, [`${boards}/${board}.json`, UUID_A, UUID_B]);
  assertEquals(r.code, 0, r.err);
  return r.out;
}

Deno.test("partition table: the GRUB boards keep the four partitions the image always had", async () => {
  // The sfdisk script build_image.sh wrote inline before the layout came from the board file.
  const before = (efi: number, rootfs: number, state: number) =>
    "label: gpt\n" +
    `start=2048, size=${efi}MiB, type=U, name=efi\n` +
    `size=${rootfs}MiB, type=L, name=rootfs-a, uuid=${UUID_A}\n` +
    `size=${rootfs}MiB, type=L, name=rootfs-b, uuid=${UUID_B}\n` +
    `size=${state}MiB, type=L, name=state\n`;
  for (const board of ["generic-arm64", "generic-x86_64"]) {
    const { layout } = JSON.parse(await Deno.readTextFile(`${boards}/${board}.json`));
    assertEquals(await table(board), before(layout.efiMiB, layout.rootfsMiB, layout.stateMiB));
    const mib = await runCommand(script, ["--mib", `${boards}/${board}.json`]);
    assertEquals(
      Number(mib.out),
      1 + layout.efiMiB + 2 * layout.rootfsMiB + layout.stateMiB + 1,
    );
  }
});

Deno.test("partition table: rpi4 gets its six partitions on a real disk image, FAT ones as basic data", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-parts-" });
  try {
    const board = JSON.parse(await Deno.readTextFile(`${boards}/rpi4.json`)) as {
      layout: { partitions: { name: string; mib: number; fs: string }[] };
      bootloader: { autobootTxt: string[]; bootPartitions: { A: number; B: number } };
    };
    const mib = Number((await runCommand(script, ["--mib", `${boards}/rpi4.json`])).out);
    const disk = `${dir}/disk.img`;
    await Deno.writeFile(disk, new Uint8Array());
    await Deno.truncate(disk, mib * 2 ** 20); // sparse
    const made = await runCommand("sfdisk", ["--quiet", disk], await table("rpi4"));
    assertEquals(made.code, 0, made.err);
    const read = JSON.parse((await runCommand("sfdisk", ["-J", disk])).out) as {
      partitiontable: {
        label: string;
        partitions: { start: number; size: number; type: string; name: string; uuid: string }[];
      };
    };
    assertEquals(read.partitiontable.label, "gpt");
    const parts = read.partitiontable.partitions;
    assertEquals(
      parts.map((p) => p.name),
      ["efi", "boot-a", "boot-b", "rootfs-a", "rootfs-b", "state"],
    );
    assertEquals(parts.map((p) => p.name), board.layout.partitions.map((p) => p.name));
    assertEquals(parts[0]!.start, 2048);
    for (const [i, p] of parts.entries()) {
      const want = board.layout.partitions[i]!;
      assertEquals(p.size, want.mib * 2048, `${p.name}: ${want.mib} MiB`);
      // The Pi's EEPROM bootloader boots FAT partitions of type basic data (or EFI system).
      assertEquals(
        p.type,
        want.fs === "vfat" ? BASIC_DATA : "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
      );
      if (i > 0) assertEquals(p.start, parts[i - 1]!.start + parts[i - 1]!.size);
    }
    assertEquals(parts[3]!.uuid.toLowerCase(), UUID_A);
    assertEquals(parts[4]!.uuid.toLowerCase(), UUID_B);
    // The partition numbers autoboot.txt and the tryboot backend use are the slots' boot
    // partitions in this table (1-based).
    const { A, B } = board.bootloader.bootPartitions;
    assertEquals([parts[A - 1]!.name, parts[B - 1]!.name], ["boot-a", "boot-b"]);
    assertEquals(board.bootloader.autobootTxt.filter((l) => l.startsWith("boot_partition=")), [
      `boot_partition=${A}`,
      `boot_partition=${B}`,
    ]);
    // GPT's backup table (33 sectors) fits after the last partition.
    const last = parts.at(-1)!;
    assert(last.start + last.size <= mib * 2048 - 33, "no room for GPT's backup table");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("partition table: a layout without rootfs-a, or with a part of a MiB, is refused by name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-parts-" });
  try {
    for (
      const partitions of [
        [{ name: "efi", mib: 16 }, { name: "rootfs-b", mib: 100 }],
        [{ name: "rootfs-a", mib: 1.5 }, { name: "rootfs-b", mib: 100 }],
        [{ name: "rootfs-a", mib: 10, type: "swap" }, { name: "rootfs-b", mib: 10 }],
        [{ name: "rootfs-a", mib: 10 }, { name: "rootfs-b", mib: 10 }, {
          name: "rootfs-b",
          mib: 1,
        }],
      ]
    ) {
      const file = `${dir}/board.json`;
      await Deno.writeTextFile(file, JSON.stringify({ layout: { partitions } }));
      const r = await runCommand(script, [file, UUID_A, UUID_B]);
      assertEquals(r.code, 1, JSON.stringify(partitions));
      assertMatch(r.err, /board\.json: layout\.partitions .* rootfs-a and rootfs-b once each/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RAUC configuration: each board's system.conf names only partitions of its layout", async () => {
  for (const entry of Deno.readDirSync(boards)) {
    if (!entry.name.endsWith(".json")) continue;
    const file = `${boards}/${entry.name}`;
    const board = JSON.parse(await Deno.readTextFile(file)) as {
      bootloader: { type: string };
      raucCustomBackend?: string;
    };
    // The template build_image.sh takes for this bootloader type.
    const specific = `${repo}firmware/rauc/system-${board.bootloader.type}.conf.in`;
    const template = await Deno.readTextFile(specific).catch(() =>
      Deno.readTextFile(`${repo}firmware/rauc/system.conf.in`)
    );
    const names = (await runCommand(script, ["--names", file])).out.trim().split("\n");
    const devices = [...template.matchAll(/by-partlabel\/([\w-]+)/g)].map((m) => m[1]!);
    assert(devices.length >= 2, `${entry.name}: no slots in its system.conf`);
    for (const d of devices) {
      assert(names.includes(d), `${entry.name}: system.conf names ${d}; its layout: ${names}`);
    }
    if (template.includes("@CUSTOM_BACKEND@")) {
      const backend = board.raucCustomBackend ?? "";
      assertMatch(backend, /^\/usr\/lib\/nvr\/boot\/[\w.-]+$/, `${entry.name}: raucCustomBackend`);
      await Deno.stat(`${repo}firmware/boot/${backend.split("/").pop()}`);
    }
  }
});
