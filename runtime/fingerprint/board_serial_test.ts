import { assertEquals } from "../testing/assert.ts";
import { readBoardIdentity } from "./board_serial.ts";
import { collectFingerprint } from "./collect.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "nvr-board-serial-" });
  for (const [path, text] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return root;
}

Deno.test("DMI serial unreadable in /sys (root only): the pre-start step's copy is read", async () => {
  const root = await tree({
    "proc/cpuinfo": "processor\t: 0\n",
    "run/dmi/product_serial": "NVRTEST0001\n",
    "run/dmi/product_uuid": "6a1f0b2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b\n",
  });
  try {
    const id = await readBoardIdentity({
      sysRoot: `${root}/sys`,
      procRoot: `${root}/proc`,
      dmiCopy: `${root}/run/dmi`,
    });
    assertEquals(id.serial, { value: "NVRTEST0001", source: `${root}/run/dmi/product_serial` });
    assertEquals(id.identifiers.length, 2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("DMI serial readable in /sys: /sys wins over the copy", async () => {
  const root = await tree({
    "proc/cpuinfo": "processor\t: 0\n",
    "sys/class/dmi/id/product_serial": "FROM-SYS-42\n",
    "run/dmi/product_serial": "STALE-COPY\n",
  });
  try {
    const id = await readBoardIdentity({
      sysRoot: `${root}/sys`,
      procRoot: `${root}/proc`,
      dmiCopy: `${root}/run/dmi`,
    });
    assertEquals(id.serial?.value, "FROM-SYS-42");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the whole fingerprint reads the DMI copy too (the daemon's user on the image)", async () => {
  const root = await tree({
    "proc/cpuinfo": "processor\t: 0\n",
    "run/dmi/product_serial": "NVRTEST0002\n",
  });
  try {
    const fp = await collectFingerprint({
      sysRoot: `${root}/sys`,
      procRoot: `${root}/proc`,
      dmiCopy: `${root}/run/dmi`,
      devRoot: `${root}/dev`,
      runUdevRoot: `${root}/run/udev`,
      smartctl: null,
      networkInterfaces: () => [],
    });
    assertEquals(fp.board.serial?.value, "NVRTEST0002");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
