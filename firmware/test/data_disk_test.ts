/**
 * The image's first-boot data disk script (rootfs-overlay/usr/lib/nvr/firstboot/data-disk.sh)
 * against real loop devices: it formats a blank disk and never touches a disk holding anything.
 * Needs root and loop devices (as `make image` does); skipped elsewhere.
 *
 *   flock /tmp/nvr-test.lock .tools/bin/deno test -A --trace-leaks firmware/test/data_disk_test.ts
 */
import { assert, assertEquals } from "../../runtime/testing/assert.ts";

const SCRIPT = new URL("../../rootfs-overlay/usr/lib/nvr/firstboot/data-disk.sh", import.meta.url)
  .pathname;
const MiB = 2 ** 20;
const canRun = Deno.uid() === 0 && (() => {
  try {
    return Deno.statSync("/dev/loop-control").isCharDevice;
  } catch {
    return false;
  }
})();

async function sh(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout) + d.decode(o.stderr) };
}

interface Disk {
  file: string;
  dev: string;
}

/** A 128 MiB sparse file on a loop device (with partition scanning), prepared by `fill`. */
async function withDisks(
  fills: ((file: string) => Promise<void>)[],
  body: (disks: Disk[], label: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "data-disk-" });
  const disks: Disk[] = [];
  try {
    for (const [i, fill] of fills.entries()) {
      const file = `${dir}/disk${i}.img`;
      await sh("truncate", ["-s", `${128 * MiB}`, file]);
      await fill(file);
      const l = await sh("losetup", ["--find", "--show", "--partscan", file]);
      assertEquals(l.code, 0, l.out);
      disks.push({ file, dev: l.out.trim() });
    }
    // A label no disk of this machine has (ext4 labels: 16 bytes at most), so the script's "already there" look-up finds none.
    await body(disks, `nvr-t-${crypto.randomUUID().slice(0, 8)}`);
  } finally {
    for (const d of disks) await sh("losetup", ["--detach", d.dev]);
    await Deno.remove(dir, { recursive: true });
  }
}

async function runScript(disks: Disk[], label: string) {
  const o = await new Deno.Command("bash", {
    args: [SCRIPT],
    env: { NVR_DATA_DISKS: disks.map((d) => d.dev).join(" "), NVR_DATA_LABEL: label },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: o.code, log: new TextDecoder().decode(o.stderr) };
}

async function digest(file: string): Promise<string> {
  return (await sh("sha256sum", [file])).out.split(" ")[0] ?? "";
}

async function writeAt(file: string, offset: number, text: string): Promise<void> {
  const f = await Deno.open(file, { write: true });
  try {
    await f.seek(offset, Deno.SeekMode.Start);
    await f.write(new TextEncoder().encode(text));
  } finally {
    f.close();
  }
}

const blank = () => Promise.resolve();

Deno.test({
  name: "data disk: a blank disk is partitioned (GPT) and formatted ext4 with the label",
  ignore: !canRun,
  fn: () =>
    withDisks([blank], async ([disk], label) => {
      const r = await runScript([disk!], label);
      assertEquals(r.code, 0, r.log);
      const found = await sh("blkid", ["-c", "/dev/null", "-L", label]);
      assertEquals(found.out.trim(), `${disk!.dev}p1`, found.out);
      const fs = await sh("blkid", ["-o", "value", "-s", "TYPE", `${disk!.dev}p1`]);
      assertEquals(fs.out.trim(), "ext4");
      // Second boot: the disk is found by its label and left as it is.
      const before = await digest(disk!.file);
      const again = await runScript([disk!], label);
      assertEquals(again.code, 0, again.log);
      assertEquals(await digest(disk!.file), before);
    }),
});

Deno.test({
  name: "attack: disk with data but no signature in its first MiB — never formatted",
  ignore: !canRun,
  fn: () =>
    withDisks(
      [(f) => writeAt(f, 4096, "recordings of last year, raw\n")],
      async ([disk], label) => {
        const before = await digest(disk!.file);
        const r = await runScript([disk!], label);
        assertEquals(r.code, 1, r.log);
        assert(r.log.includes("first MiB is not all zeroes"), r.log);
        assertEquals(await digest(disk!.file), before);
      },
    ),
});

Deno.test({
  name: "attack: disk with data only in its last MiB (e.g. a backup GPT) — never formatted",
  ignore: !canRun,
  fn: () =>
    withDisks([(f) => writeAt(f, 128 * MiB - 512, "EFI PART")], async ([disk], label) => {
      const before = await digest(disk!.file);
      const r = await runScript([disk!], label);
      assertEquals(r.code, 1, r.log);
      assertEquals(await digest(disk!.file), before);
    }),
});

Deno.test({
  name: "attack: disk holding another filesystem (not labelled nvr-data) — never formatted",
  ignore: !canRun,
  fn: () =>
    withDisks([async (f) => {
      const r = await sh("mkfs.ext4", ["-q", "-F", "-L", "photos", f]);
      assertEquals(r.code, 0, r.out);
    }], async ([disk], label) => {
      const before = await digest(disk!.file);
      const r = await runScript([disk!], label);
      assertEquals(r.code, 1, r.log);
      assert(r.log.includes("holds ext4"), r.log);
      assertEquals(await digest(disk!.file), before);
    }),
});

Deno.test({
  name: "attack: two blank disks — the script does not guess which one to format",
  ignore: !canRun,
  fn: () =>
    withDisks([blank, blank], async (disks, label) => {
      const before = await Promise.all(disks.map((d) => digest(d.file)));
      const r = await runScript(disks, label);
      assertEquals(r.code, 1, r.log);
      assert(r.log.includes("more than one blank disk"), r.log);
      assertEquals(await Promise.all(disks.map((d) => digest(d.file))), before);
    }),
});
