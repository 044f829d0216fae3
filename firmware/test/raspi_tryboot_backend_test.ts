/**
 * The Raspberry Pi tryboot backend for RAUC (firmware/boot/raspi-tryboot-backend.sh), run as RAUC
 * runs it, over real files standing in for the boot partition, the device tree's
 * chosen/bootloader node, /proc/cmdline and systemd's reboot-param (the only thing not here is the
 * Pi's firmware reading autoboot.txt: hw-tests/board/rpi4.md checks that on a Pi).
 */
import { assert, assertEquals, assertMatch } from "../../runtime/testing/assert.ts";

function assertStringIncludes(actual: string, expected: string): void {
  assert(
    actual.includes(expected),
    `expected ${JSON.stringify(actual)} to include ${JSON.stringify(expected)}`,
  );
}

const script = new URL("../boot/raspi-tryboot-backend.sh", import.meta.url).pathname;

interface Box {
  dir: string;
  /** Boots the box: the slot on the kernel command line and what the firmware put in the DT. */
  boot(slot: "A" | "B", opts?: { tryboot?: boolean; partition?: number }): Promise<void>;
  run(...args: string[]): Promise<{ code: number; out: string; err: string }>;
  autoboot(): Promise<string>;
  rebootParam(): Promise<string | null>;
  [Symbol.asyncDispose](): Promise<void>;
}

const AUTOBOOT = "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n";

async function box(): Promise<Box> {
  const dir = await Deno.makeTempDir({ prefix: "tryboot-" });
  const efi = `${dir}/efi`;
  const dt = `${dir}/dt`;
  await Deno.mkdir(efi);
  await Deno.mkdir(dt);
  await Deno.writeTextFile(`${efi}/autoboot.txt`, AUTOBOOT);
  const u32 = (n: number) => new Uint8Array([0, 0, 0, n]);
  const env = {
    NVR_TRYBOOT_DIR: efi,
    NVR_TRYBOOT_DT: dt,
    NVR_TRYBOOT_CMDLINE: `${dir}/cmdline`,
    NVR_TRYBOOT_REBOOT_PARAM: `${dir}/run/reboot-param`,
  };
  const b: Box = {
    dir,
    async boot(slot, opts = {}) {
      const partition = opts.partition ?? (opts.tryboot ? (slot === "A" ? 2 : 3) : 2);
      await Deno.writeTextFile(
        `${dir}/cmdline`,
        `console=ttyS1,115200 root=PARTLABEL=rootfs-${slot.toLowerCase()} ro rauc.slot=${slot}\n`,
      );
      await Deno.writeFile(`${dt}/tryboot`, u32(opts.tryboot ? 1 : 0));
      await Deno.writeFile(`${dt}/partition`, u32(partition));
      // /run is a tmpfs: a reboot empties it.
      await Deno.remove(`${dir}/run`, { recursive: true }).catch(() => {});
    },
    async run(...args) {
      const o = await new Deno.Command("sh", {
        args: [script, ...args],
        env,
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      const dec = new TextDecoder();
      return { code: o.code, out: dec.decode(o.stdout).trim(), err: dec.decode(o.stderr).trim() };
    },
    autoboot: () => Deno.readTextFile(`${efi}/autoboot.txt`),
    rebootParam: () => Deno.readTextFile(`${dir}/run/reboot-param`).catch(() => null),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
  return b;
}

/** What the Pi firmware boots next: [tryboot] when the reboot sets the flag, else [all]. */
function nextBoot(autoboot: string, rebootParam: string | null): number {
  const section = rebootParam?.includes("tryboot") ? "[tryboot]" : "[all]";
  const lines = autoboot.split("\n");
  const at = lines.indexOf(section);
  const line = lines.slice(at + 1).find((l) => l.startsWith("boot_partition="));
  return Number(line!.split("=")[1]);
}

Deno.test("tryboot backend: a fresh box reports A primary and both slots good", async () => {
  await using b = await box();
  await b.boot("A");
  assertEquals((await b.run("get-primary")).out, "A");
  assertEquals((await b.run("get-state", "A")).out, "good");
  assertEquals((await b.run("get-state", "B")).out, "good");
  assertEquals((await b.run("get-current")).out, "A");
});

Deno.test("tryboot backend: an update to B is tried once, then committed when B is marked good", async () => {
  await using b = await box();
  await b.boot("A");
  // What RAUC does on install: the target is marked bad before it is written, primary after.
  assertEquals((await b.run("set-state", "B", "bad")).code, 0);
  assertEquals((await b.run("get-state", "B")).out, "bad");
  assertEquals((await b.run("set-primary", "B")).code, 0);
  assertEquals((await b.run("get-state", "B")).out, "good");
  assertEquals((await b.run("get-primary")).out, "B", "the next (trial) boot is B");
  assertEquals(await b.rebootParam(), "0 tryboot\n");
  assertEquals(await b.autoboot(), AUTOBOOT, "[all] still boots A");
  assertEquals(nextBoot(await b.autoboot(), await b.rebootParam()), 3);

  // The reboot: the firmware boots partition 3 with the tryboot flag, and clears the flag.
  await b.boot("B", { tryboot: true });
  assertEquals((await b.run("get-current")).out, "B");
  assertEquals((await b.run("get-primary")).out, "A", "until marked good, A boots normally");
  assertEquals((await b.run("set-state", "B", "good")).code, 0);
  assertEquals((await b.run("get-primary")).out, "B");
  assertEquals(
    await b.autoboot(),
    "[all]\ntryboot_a_b=1\nboot_partition=3\n[tryboot]\nboot_partition=2\n",
  );
  assertEquals(nextBoot(await b.autoboot(), await b.rebootParam()), 3, "B boots from now on");
});

Deno.test("tryboot backend: a power cut or reset during B's trial boots A again, B never committed", async () => {
  await using b = await box();
  await b.boot("A");
  await b.run("set-state", "B", "bad");
  await b.run("set-primary", "B");
  await b.boot("B", { tryboot: true });
  // Power cut before mark-good: the firmware cleared the flag, so the next boot is [all].
  await b.boot("A");
  assertEquals(nextBoot(await b.autoboot(), await b.rebootParam()), 2);
  assertEquals((await b.run("get-primary")).out, "A");
  assertEquals((await b.run("get-current")).out, "A");
});

Deno.test("tryboot backend: B marked bad in its trial (health gate failed) leaves A the normal slot", async () => {
  await using b = await box();
  await b.boot("A");
  await b.run("set-state", "B", "bad");
  await b.run("set-primary", "B");
  await b.boot("B", { tryboot: true });
  assertEquals((await b.run("set-state", "B", "bad")).code, 0);
  assertEquals(await b.autoboot(), AUTOBOOT);
  await b.boot("A"); // the gate reboots without the flag
  assertEquals(nextBoot(await b.autoboot(), await b.rebootParam()), 2);
  assertEquals((await b.run("get-state", "B")).out, "bad");
});

Deno.test("tryboot backend: mark-good of B outside a trial boot does not make it the normal slot", async () => {
  await using b = await box();
  await b.boot("A");
  await b.run("set-state", "B", "good");
  assertEquals(await b.autoboot(), AUTOBOOT);
  // B running, but from the fallback (no flag): not a trial, nothing committed.
  await b.boot("B", { tryboot: false, partition: 3 });
  await b.run("set-state", "B", "good");
  assertEquals(await b.autoboot(), AUTOBOOT);
});

Deno.test("tryboot backend: marking the other slot bad disarms a pending trial", async () => {
  await using b = await box();
  await b.boot("A");
  await b.run("set-primary", "B");
  assertEquals(await b.rebootParam(), "0 tryboot\n");
  await b.run("set-state", "B", "bad");
  assertEquals(await b.rebootParam(), null);
  assertEquals(nextBoot(await b.autoboot(), await b.rebootParam()), 2);
  assertEquals(nextBoot(await b.autoboot(), "0 tryboot"), 2, "even a stray tryboot boots A");
});

Deno.test("tryboot backend: autoboot.txt stays within the firmware's 512 bytes", async () => {
  await using b = await box();
  await b.boot("B", { tryboot: true });
  await b.run("set-state", "B", "good");
  assert((await b.autoboot()).length <= 512);
});

Deno.test("tryboot backend: bad input is refused with a message that names it", async () => {
  await using b = await box();
  await b.boot("A");
  const unknown = await b.run("set-primary", "C");
  assertEquals(unknown.code, 1);
  assertStringIncludes(unknown.err, "unknown slot 'C'");
  assertEquals(await b.autoboot(), AUTOBOOT, "nothing written");
  const state = await b.run("set-state", "B", "maybe");
  assertEquals(state.code, 1);
  assertStringIncludes(state.err, "good or bad");

  await Deno.writeTextFile(
    `${b.dir}/efi/autoboot.txt`,
    "[all]\nboot_partition=7\n[tryboot]\nboot_partition=3\n",
  );
  const strange = await b.run("get-primary");
  assertEquals(strange.code, 1);
  assertMatch(strange.err, /boot partition '7' in .*autoboot\.txt is neither/);

  await Deno.remove(`${b.dir}/efi/autoboot.txt`);
  const missing = await b.run("get-primary");
  assertEquals(missing.code, 1);
  assertMatch(missing.err, /autoboot\.txt is missing/);

  await Deno.writeTextFile(`${b.dir}/cmdline`, "console=ttyS1,115200 ro\n");
  const noSlot = await b.run("get-current");
  assertEquals(noSlot.code, 1);
  assertStringIncludes(noSlot.err, "no rauc.slot=");
});
