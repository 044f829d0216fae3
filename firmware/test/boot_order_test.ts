/**
 * The image's boot order, checked on the host from the files the build copies (no QEMU): what
 * the image test found on a slow, loaded machine must not come back.
 * - The recording disk's mount is asked for only once nvr-data-disk.service has found or formatted
 *   the SSD, so no device timeout can run out while it formats (run of 23:09: 201 s, past 120 s).
 * - nvr.service starts without the SSD (it records nothing and says why) and without the network.
 * - Nothing waits for network-online.target (run of 22:36: wait-online failed after a power cut).
 * systemd's own fstab generator reads the image's fstab when it is installed (Debian: systemd).
 *
 *   flock /tmp/nvr-test.lock .tools/bin/deno test -A --trace-leaks firmware/test/boot_order_test.ts
 */
import { assert, assertEquals } from "../../runtime/testing/assert.ts";

const root = new URL("../../", import.meta.url).pathname;
const overlay = `${root}rootfs-overlay`;
const units = `${overlay}/usr/lib/systemd/system`;

/** The [Section] Key=value lines of a unit file, values of repeated keys in order. */
function unitKeys(text: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = head[1]!;
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = `${section}.${line.slice(0, eq).trim()}`;
    keys.set(key, [...(keys.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return keys;
}

/** Every value of a key, split on spaces (After=a b and After=c give a, b, c). */
function words(keys: Map<string, string[]>, key: string): string[] {
  return (keys.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter((w) => w !== "");
}

const unit = async (name: string) => unitKeys(await Deno.readTextFile(`${units}/${name}`));

function ssdLine(fstab: string): string[] {
  const line = fstab.split("\n").find((l) => /^\S+\s+\/mnt\/ssd\s/.test(l));
  assert(line, "rootfs-overlay/etc/fstab has a line for /mnt/ssd");
  return line.trim().split(/\s+/);
}

const GENERATORS = ["/usr/lib/systemd/system-generators", "/lib/systemd/system-generators"];

async function fstabGenerator(): Promise<string | null> {
  for (const dir of GENERATORS) {
    const path = `${dir}/systemd-fstab-generator`;
    if (await Deno.stat(path).then((s) => s.isFile, () => false)) return path;
  }
  return null;
}

Deno.test("boot order: the SSD mount is not asked for at boot, so no device timeout runs while nvr-data-disk formats", async () => {
  const fstab = await Deno.readTextFile(`${overlay}/etc/fstab`);
  const [what, , type, options = ""] = ssdLine(fstab);
  assertEquals([what, type], ["LABEL=nvr-data", "ext4"]);
  const opts = options.split(",");
  assert(opts.includes("noauto"), `noauto: local-fs.target must not pull the mount (${options})`);
  assert(opts.includes("nofail"), `nofail (${options})`);
  assert(opts.includes("x-systemd.after=nvr-data-disk.service"), options);
  const disk = await unit("nvr-data-disk.service");
  assertEquals(
    disk.get("Service.ExecStartPost"),
    ["/bin/systemctl --no-block start mnt-ssd.mount"],
    "nvr-data-disk.service asks for the mount once the disk exists (without waiting for it: " +
      "the mount is ordered after this unit)",
  );
  assertEquals(disk.get("Service.Type"), ["oneshot"]);
  assertEquals(disk.get("Service.RemainAfterExit"), ["yes"]);

  // What systemd itself makes of the fstab at boot.
  const generator = await fstabGenerator();
  if (generator === null) {
    console.warn(`skipped the generator half: no systemd-fstab-generator in ${GENERATORS}`);
    return;
  }
  const out = await Deno.makeTempDir({ prefix: "fstab-gen-" });
  try {
    const o = await new Deno.Command(generator, {
      args: [out, out, out],
      env: { SYSTEMD_FSTAB: `${overlay}/etc/fstab`, SYSTEMD_LOG_LEVEL: "warning" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(o.stderr);
    assert(o.success, `systemd-fstab-generator failed: ${err}`);
    const pulled: string[] = [];
    for (const wants of ["local-fs.target.wants", "local-fs.target.requires"]) {
      try {
        for (const e of Deno.readDirSync(`${out}/${wants}`)) pulled.push(`${wants}/${e.name}`);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    assert(pulled.includes("local-fs.target.requires/var-lib-nvr\\x2dstate.mount"), pulled.join());
    assert(
      !pulled.some((p) => p.endsWith("/mnt-ssd.mount")),
      `the boot pulls mnt-ssd.mount: ${pulled.join(", ")}`,
    );
    const mount = unitKeys(await Deno.readTextFile(`${out}/mnt-ssd.mount`));
    assert(words(mount, "Unit.After").includes("nvr-data-disk.service"), "mount after the format");
    assertEquals(mount.get("Mount.What"), ["/dev/disk/by-label/nvr-data"]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("boot order: nvr.service starts without its SSD and keeps restarting", async () => {
  const nvr = await unit("nvr.service");
  const after = words(nvr, "Unit.After");
  for (const u of ["nvr-data-disk.service", "mnt-ssd.mount", "local-fs.target"]) {
    assert(after.includes(u), `nvr.service is ordered after ${u} (After=${after.join(" ")})`);
  }
  assert(words(nvr, "Unit.Wants").includes("nvr-data-disk.service"), "Wants=nvr-data-disk");
  for (const hard of ["Requires", "Requisite", "BindsTo", "RequiresMountsFor", "PartOf"]) {
    const on = words(nvr, `Unit.${hard}`).filter((u) => /mnt-ssd|\/mnt\/ssd|nvr-data-disk/.test(u));
    assertEquals(
      on,
      [],
      `nvr.service ${hard}= the SSD: a failed mount would keep it from starting`,
    );
  }
  assertEquals(nvr.get("Service.Restart"), ["always"]);
  // Its pre-start makes the data folder only on a mounted SSD (the root is read-only, where
  // install -d fails and would fail the start).
  const prestart = await Deno.readTextFile(`${overlay}/usr/lib/nvr/nvr-prestart.sh`);
  const guarded = /if mountpoint -q \/mnt\/ssd; then\n\s+install -d [^\n]* \/mnt\/ssd\/nvr\n/;
  assert(guarded.test(prestart), "nvr-prestart.sh: install -d /mnt/ssd/nvr under mountpoint -q");
  assertEquals(
    prestart.split("\n").filter((l) => /install -d .*\/mnt\/ssd/.test(l)).length,
    1,
    "no other unguarded install -d under /mnt/ssd",
  );
});

Deno.test("boot order: nothing waits for network-online, wait-online is masked", async () => {
  for await (const e of Deno.readDir(units)) {
    if (!e.isFile) continue;
    const keys = await unit(e.name);
    for (const dep of ["Wants", "Requires", "After"]) {
      assert(
        !words(keys, `Unit.${dep}`).includes("network-online.target"),
        `${e.name}: ${dep}=network-online.target (the daemon's links reconnect by themselves)`,
      );
    }
  }
  const build = await Deno.readTextFile(`${root}firmware/build_image.sh`);
  assert(
    /^systemctl --root="\$root" --quiet mask systemd-networkd-wait-online\.service$/m.test(build),
    "build_image.sh masks systemd-networkd-wait-online.service",
  );
});

Deno.test("boot order: networkd configures links only once udev has finished them (a link it took mid-processing failed for good)", async () => {
  const dropIn = unitKeys(
    await Deno.readTextFile(`${units}/systemd-networkd.service.d/nvr-udev-settle.conf`),
  );
  assert(words(dropIn, "Unit.Wants").includes("nvr-udev-settle.service"), "networkd wants it");
  assert(words(dropIn, "Unit.After").includes("nvr-udev-settle.service"), "networkd after it");
  const settle = await unit("nvr-udev-settle.service");
  const [exec] = settle.get("Service.ExecStart") ?? [];
  assert(
    exec?.startsWith("-/bin/udevadm settle --timeout="),
    `bounded and never failing ("-"): ${exec}`,
  );
  const waitS = Number(/--timeout=(\d+)/.exec(exec ?? "")?.[1]);
  const limitS = Number(settle.get("Service.TimeoutStartSec")?.[0]);
  assert(
    waitS > 0 && limitS > waitS,
    `settle gives up (${waitS} s) before systemd kills it (${limitS} s)`,
  );
  assert(
    !words(settle, "Unit.Before").includes("sysinit.target"),
    "only networkd waits for it, not the rest of the boot",
  );
  assertEquals(settle.get("Unit.DefaultDependencies"), ["no"]);
  assert(words(settle, "Unit.After").includes("systemd-udev-trigger.service"), "after coldplug");
});
