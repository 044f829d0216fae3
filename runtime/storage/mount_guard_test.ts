import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { StorageUnavailableError } from "./data_dir.ts";
import { checkMount, type MountStatus, parseMountinfo, requireMounted } from "./mount_guard.ts";
import { mountTmpfs } from "../testing/tmpfs.ts";

const ROOT_LINE = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard";
const escape = (path: string) => path.replaceAll(" ", "\\040");
const mountLine = (id: number, path: string, source = "/dev/sda1") =>
  `${id} 27 8:1 / ${escape(path)} rw,noatime shared:5 - ext4 ${source} rw`;

/** A folder with <dir>/proc/self/mountinfo holding `lines`, and a <dir>/ssd folder. */
async function fixture(fn: (dir: string, proc: (...lines: string[]) => string) => Promise<void>) {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "nvr-mount-" }));
  try {
    await Deno.mkdir(`${dir}/ssd`);
    let n = 0;
    const proc = (...lines: string[]) => {
      const root = `${dir}/proc${n++}`;
      Deno.mkdirSync(`${root}/self`, { recursive: true });
      Deno.writeTextFileSync(`${root}/self/mountinfo`, [ROOT_LINE, ...lines].join("\n") + "\n");
      return root;
    };
    await fn(dir, proc);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const state = (s: MountStatus) => s.state;

Deno.test("mountinfo lines are parsed, with escaped spaces and optional fields", () => {
  assertEquals(parseMountinfo(`${ROOT_LINE}\n${mountLine(40, "/mnt/my ssd")}\ngarbage\n`), [
    { mountPoint: "/", device: "254:0", fsType: "ext4", source: "/dev/vda" },
    { mountPoint: "/mnt/my ssd", device: "8:1", fsType: "ext4", source: "/dev/sda1" },
  ]);
});

Deno.test("no requireMount: no check", () => {
  assertEquals(checkMount("/anywhere", null, "/nonexistent"), { state: "not-required", ok: true });
});

Deno.test("the data folder on the required mount (fixture) is accepted", async () => {
  await fixture(async (dir, proc) => {
    const root = proc(mountLine(40, `${dir}/ssd`));
    const status = checkMount(`${dir}/ssd/nvr`, `${dir}/ssd/`, root);
    assertEquals(status, {
      state: "mounted",
      ok: true,
      mount: { mountPoint: `${dir}/ssd`, device: "8:1", fsType: "ext4", source: "/dev/sda1" },
    });
    // Through a symlink, the real place counts.
    await Deno.symlink(`${dir}/ssd`, `${dir}/link`);
    assertEquals(state(checkMount(`${dir}/link/nvr`, `${dir}/ssd`, root)), "mounted");
    // A mount point with a space in its name.
    await Deno.mkdir(`${dir}/my ssd`);
    const spaced = proc(mountLine(41, `${dir}/my ssd`));
    assertEquals(state(checkMount(`${dir}/my ssd/nvr`, `${dir}/my ssd`, spaced)), "mounted");
  });
});

Deno.test("SSD not mounted: refused, naming the folder, the mount and what to do", async () => {
  await fixture(async (dir, proc) => {
    const root = proc();
    const status = checkMount(`${dir}/ssd/nvr`, `${dir}/ssd`, root);
    assertEquals([status.state, status.ok], ["not-mounted", false]);
    const err = assertThrows(
      () => requireMounted(`${dir}/ssd/nvr`, `${dir}/ssd`, root),
      StorageUnavailableError,
    );
    assert(err.message.startsWith(`Data folder '${dir}/ssd/nvr' cannot be used:`), err.message);
    assert(err.message.includes(`nothing is mounted at '${dir}/ssd'`), err.message);
    assert(err.message.includes("Mount the recording disk"), err.message);
    // Nothing was created on the root filesystem.
    assertEquals(await Array.fromAsync(Deno.readDir(`${dir}/ssd`)), []);
  });
});

Deno.test("data folder on the root filesystem, or on a mount inside the SSD: refused", async () => {
  await fixture(async (dir, proc) => {
    await Deno.mkdir(`${dir}/ssd/usb`);
    const root = proc(mountLine(40, `${dir}/ssd`), mountLine(41, `${dir}/ssd/usb`, "/dev/sdb1"));
    const onRoot = checkMount(`${dir}/var/nvr`, `${dir}/ssd`, root);
    assertEquals(onRoot.state, "outside-mount");
    assert(
      !onRoot.ok && onRoot.why.includes("it is on '/' (ext4 /dev/vda)"),
      JSON.stringify(onRoot),
    );
    const nested = checkMount(`${dir}/ssd/usb/nvr`, `${dir}/ssd`, root);
    assertEquals(nested.state, "outside-mount");
    assert(!nested.ok && nested.holder?.source === "/dev/sdb1");
  });
});

Deno.test("an unreadable mount table is a refusal, not a pass", async () => {
  await fixture((dir) => {
    const status = checkMount(`${dir}/ssd/nvr`, `${dir}/ssd`, `${dir}/no-proc`);
    assertEquals([status.state, status.ok], ["unknown", false]);
    return Promise.resolve();
  });
});

Deno.test("real tmpfs: mounted, another device below it, then unmounted", async () => {
  await fixture(async (dir) => {
    const ssd = await mountTmpfs(`${dir}/ssd`, 2 ** 20);
    if (!ssd) return; // mounting refused here: the fixture tests above cover the logic
    try {
      assertEquals(state(checkMount(`${dir}/ssd/nvr`, `${dir}/ssd`)), "mounted");
      assertEquals(state(checkMount(`${dir}/other`, `${dir}/ssd`)), "outside-mount");
      // The real table lists the tmpfs, but a fixture that lists only the mount point, not the
      // tmpfs under it, is caught by the device numbers.
      await Deno.mkdir(`${dir}/plain`);
      await using inner = await mountTmpfs(`${dir}/plain/inner`, 2 ** 20);
      if (inner) {
        await Deno.mkdir(`${dir}/proc/self`, { recursive: true });
        await Deno.writeTextFile(
          `${dir}/proc/self/mountinfo`,
          `${ROOT_LINE}\n${mountLine(40, `${dir}/plain`)}\n`,
        );
        const status = checkMount(`${dir}/plain/inner/nvr`, `${dir}/plain`, `${dir}/proc`);
        assertEquals(status.state, "other-device");
      }
    } finally {
      await ssd.unmount();
    }
    assertEquals(state(checkMount(`${dir}/ssd/nvr`, `${dir}/ssd`)), "not-mounted");
  });
});
