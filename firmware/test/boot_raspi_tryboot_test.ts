/**
 * firmware/lib/boot_raspi-tryboot.sh with the rpi4 board file, on a root filesystem laid out as
 * Debian's linux-image-arm64 and raspi-firmware lay it out (small stand-in files), read back from
 * the real FAT images with mtools.
 */
import { assert, assertEquals, assertMatch } from "../../runtime/testing/assert.ts";

const repo = new URL("../..", import.meta.url).pathname;
const script = `${repo}firmware/lib/boot_raspi-tryboot.sh`;
const board = `${repo}firmware/boards/rpi4.json`;
const KVER = "6.1.0-99-arm64";

async function sh(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

async function fakeRoot(dir: string): Promise<string> {
  const root = `${dir}/rootfs`;
  await Deno.mkdir(`${root}/boot`, { recursive: true });
  await Deno.mkdir(`${root}/usr/lib/raspi-firmware`, { recursive: true });
  await Deno.mkdir(`${root}/usr/lib/linux-image-${KVER}/broadcom`, { recursive: true });
  await Deno.writeTextFile(`${root}/boot/vmlinuz-${KVER}`, "kernel");
  await Deno.writeTextFile(`${root}/boot/initrd.img-${KVER}`, "initrd");
  for (const f of ["start4.elf", "fixup4.dat", "start.elf", "bootcode.bin"]) {
    await Deno.writeTextFile(`${root}/usr/lib/raspi-firmware/${f}`, f);
  }
  for (const f of ["bcm2711-rpi-4-b.dtb", "bcm2711-rpi-400.dtb", "bcm2711-rpi-cm4-io.dtb"]) {
    await Deno.writeTextFile(`${root}/usr/lib/linux-image-${KVER}/broadcom/${f}`, f);
  }
  return root;
}

Deno.test("rpi4 boot partitions: each slot's FAT holds the Pi 4 files and its own cmdline.txt", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raspi-boot-" });
  try {
    const root = await fakeRoot(dir);
    const out = `${dir}/out`;
    const r = await sh(script, [board, root, out, "rootfs-a", "rootfs-b"]);
    assertEquals(r.code, 0, r.err);
    for (const slot of ["A", "B"]) {
      const img = `${out}/boot-${slot}.vfat`;
      const list = await sh("mdir", ["-b", "-i", img, "::/"]);
      const names = list.out.trim().split("\n").map((l) => l.replace("::/", "")).sort();
      assertEquals(names, [
        "bcm2711-rpi-4-b.dtb",
        "bcm2711-rpi-400.dtb",
        "bcm2711-rpi-cm4-io.dtb",
        "cmdline.txt",
        "config.txt",
        "fixup4.dat",
        "initrd.img",
        "start4.elf",
        "vmlinuz",
      ]);
      const cmdline = (await sh("mtype", ["-i", img, "::/cmdline.txt"])).out;
      assertMatch(cmdline, new RegExp(`root=PARTLABEL=rootfs-${slot.toLowerCase()} ro `));
      assertMatch(cmdline, new RegExp(`rauc\\.slot=${slot}\\n$`));
      assertMatch(cmdline, /console=ttyS1,115200/);
      assert(!/\brw\b|cma=/.test(cmdline), `raspi-firmware's rw/cma must not be there: ${cmdline}`);
      const config = (await sh("mtype", ["-i", img, "::/config.txt"])).out;
      assertMatch(config, /^arm_64bit=1$/m);
      assertMatch(config, /^kernel=vmlinuz$/m);
      assertMatch(config, /^initramfs initrd\.img$/m);
      assertEquals((await sh("mtype", ["-i", img, "::/vmlinuz"])).out, "kernel");
    }
    const autoboot = (await sh("mtype", ["-i", `${out}/efi.vfat`, "::/autoboot.txt"])).out;
    assertEquals(autoboot, "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rpi4 boot partitions: a missing device tree is named, with the board field to fix", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raspi-boot-" });
  try {
    const root = await fakeRoot(dir);
    await Deno.remove(`${root}/usr/lib/linux-image-${KVER}/broadcom/bcm2711-rpi-400.dtb`);
    const r = await sh(script, [board, root, `${dir}/out`, "rootfs-a", "rootfs-b"]);
    assertEquals(r.code, 1);
    assertMatch(
      r.err,
      /no device tree .*bcm2711-rpi-400\.dtb for kernel 6\.1\.0-99-arm64 \(bootloader\.dtbs in/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rpi4 boot partitions: firmware from FIRMWARE_ROOT (unpacked beside the root filesystem)", async () => {
  // build_image.sh unpacks bootloader.firmwarePackages (raspi-firmware) with firmware_packages.sh
  // and never installs them in the root filesystem.
  const dir = await Deno.makeTempDir({ prefix: "raspi-boot-" });
  try {
    const root = await fakeRoot(dir);
    const firmware = `${dir}/firmware`;
    await Deno.mkdir(`${firmware}/usr/lib`, { recursive: true });
    await Deno.rename(`${root}/usr/lib/raspi-firmware`, `${firmware}/usr/lib/raspi-firmware`);
    const out = `${dir}/out`;
    const without = await sh(script, [board, root, out, "rootfs-a", "rootfs-b"]);
    assertEquals(without.code, 1);
    assertMatch(
      without.err,
      /no .*\/usr\/lib\/raspi-firmware\/start4\.elf: check bootloader\.firmwarePackages/,
    );
    const o = await new Deno.Command(script, {
      args: [board, root, out, "rootfs-a", "rootfs-b"],
      env: { FIRMWARE_ROOT: firmware },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(o.code, 0, new TextDecoder().decode(o.stderr));
    assertEquals(
      (await sh("mtype", ["-i", `${out}/boot-A.vfat`, "::/start4.elf"])).out,
      "start4.elf",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
