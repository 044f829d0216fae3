import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { diskSpace, DiskSpaceError, isDiskFull } from "./disk_space.ts";
import { mountTmpfs } from "../testing/tmpfs.ts";

/** `df -B1 --output=size,used,avail PATH`, in bytes. */
async function df(path: string): Promise<{ size: number; used: number; avail: number }> {
  const out = await new Deno.Command("df", {
    args: ["-B1", "--output=size,used,avail", path],
    stdout: "piped",
  }).output();
  assert(out.success, `df failed for ${path}`);
  const line = new TextDecoder().decode(out.stdout).trim().split("\n")[1] ?? "";
  const [size, used, avail] = line.trim().split(/\s+/).map(Number);
  return { size: size ?? NaN, used: used ?? NaN, avail: avail ?? NaN };
}

Deno.test("statvfs agrees with df on the filesystem of a temp folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-df-" });
  try {
    const before = diskSpace(dir);
    const ref = await df(dir);
    const after = diskSpace(dir);
    assertEquals(before.totalBytes, ref.size);
    // Others write to this disk meanwhile: df's figures must lie between the two readings.
    const slack = 64 * 2 ** 20;
    const lo = Math.min(before.availableBytes, after.availableBytes) - slack;
    const hi = Math.max(before.availableBytes, after.availableBytes) + slack;
    assert(ref.avail >= lo && ref.avail <= hi, `df avail ${ref.avail}, statvfs ${lo}..${hi}`);
    assert(before.freeBytes >= before.availableBytes);
    assert(before.totalBytes >= before.freeBytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("statvfs agrees with df exactly on a quiet tmpfs, before and after a write", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-df-tmpfs-" });
  try {
    await using fs = await mountTmpfs(`${dir}/mnt`, 8 * 2 ** 20);
    if (!fs) return; // mounting refused here: the test above still checks the layout
    const empty = diskSpace(fs.path);
    const ref = await df(fs.path);
    assertEquals(empty.totalBytes, 8 * 2 ** 20);
    assertEquals([empty.totalBytes, empty.availableBytes], [ref.size, ref.avail]);
    assertEquals(empty.freeBytes, ref.size - ref.used);

    await Deno.writeFile(`${fs.path}/blob`, new Uint8Array(3 * 2 ** 20));
    const full = diskSpace(fs.path);
    const ref2 = await df(fs.path);
    assertEquals([full.availableBytes, full.freeBytes], [ref2.avail, ref2.size - ref2.used]);
    assertEquals(empty.availableBytes - full.availableBytes, 3 * 2 ** 20);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("statvfs of a missing folder names it and the C error", () => {
  const err = assertThrows(() => diskSpace("/nonexistent/nvr-data"), DiskSpaceError);
  assertEquals(err.errno, 2);
  assert(err.message.includes("'/nonexistent/nvr-data': No such file or directory"), err.message);
});

Deno.test("isDiskFull goes by the error's kind or code, through wrapping causes, never its words", () => {
  const enospc = Object.assign(new Error("No space left on device (os error 28)"), {
    code: "ENOSPC",
  });
  assert(isDiskFull(enospc));
  assert(isDiskFull(Object.assign(new Error("database or disk is full"), { errcode: 13 })));
  assert(isDiskFull({ kind: "disk-full" }));
  assert(isDiskFull(new Error("Data folder cannot be used", { cause: enospc })));
  assert(!isDiskFull(new Error("No space left on device")), "words alone say nothing");
  assert(!isDiskFull(Object.assign(new Error("x"), { code: "EACCES" })));
  assert(!isDiskFull(null));
});
