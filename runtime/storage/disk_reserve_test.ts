import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { DiskFullError, keepReserve, RESERVE_NAME, withReserve } from "./disk_reserve.ts";
import { diskSpace } from "./disk_space.ts";

// What node:sqlite throws when the disk is full: SQLITE_FULL in errcode (the kind, not the words).
const full = () => Object.assign(new Error("database or disk is full"), { errcode: 13 });

Deno.test("keepReserve writes the room out once; withReserve gives it up only for a full disk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-reserve-" });
  try {
    assert(await keepReserve(dir, 100_000));
    const path = `${dir}/${RESERVE_NAME}`;
    const stat = await Deno.stat(path);
    assertEquals(stat.size, 100_000);
    assert(stat.blocks !== null && stat.blocks * 512 >= 100_000, "written out, not sparse");
    assert(await keepReserve(dir, 100_000));
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), [RESERVE_NAME]);

    // Another error goes through and the reserve stays.
    assertThrows(
      () =>
        withReserve(dir, () => {
          throw new Error("no such table");
        }),
      Error,
      "no such table",
    );
    assert((await Deno.stat(path)).isFile);
    // Full once: the reserve goes, the write is tried again and its answer returned.
    let tries = 0;
    assertEquals(
      withReserve(dir, () => {
        if (tries++ === 0) throw full();
        return 7;
      }),
      7,
    );
    await Deno.stat(path).then(() => assert(false, "reserve still there"), () => {});
    // Full twice: a DiskFullError that says what to do.
    assertThrows(
      () =>
        withReserve(dir, () => {
          throw full();
        }),
      DiskFullError,
      "free space on it",
    );
    assert(await keepReserve(dir, 100_000));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a used reserve is made again only with the free-space minimum left over: it never takes back room released for recording", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-reserve-room-" });
  const mounted = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir],
    stderr: "null",
  }).output().then((o) => o.success, () => false);
  if (!mounted) {
    await Deno.remove(dir);
    console.warn("skipped: cannot mount a tmpfs (needs root)");
    return;
  }
  try {
    const reserve = 512 * 1024;
    const minimum = 256 * 1024;
    const leaveFree = () => minimum;
    const available = () => diskSpace(dir).availableBytes;
    // What an operator's release leaves on a full disk: the reserve's room, a little more.
    await Deno.writeFile(
      `${dir}/recordings.bin`,
      new Uint8Array(2048 * 1024 - reserve - 64 * 1024),
    );
    const before = available();
    assert(before >= reserve && before < reserve + minimum, `${before} bytes free`);
    assertEquals(await keepReserve(dir, reserve, RESERVE_NAME, { leaveFree }), false);
    assertEquals(available(), before, "the room stays free for recording");
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["recordings.bin"]);

    // Retention freed more than the minimum: the reserve is made again.
    await Deno.truncate(`${dir}/recordings.bin`, 512 * 1024);
    assert(await keepReserve(dir, reserve, RESERVE_NAME, { leaveFree }));
    assertEquals((await Deno.stat(`${dir}/${RESERVE_NAME}`)).size, reserve);
    assert(available() >= minimum, `${available()} bytes left free`);
    // Without the option (start-up, tests): made whenever it fits, as before.
    await Deno.remove(`${dir}/${RESERVE_NAME}`);
    await Deno.truncate(`${dir}/recordings.bin`, 2048 * 1024 - reserve - 64 * 1024);
    assert(await keepReserve(dir, reserve, RESERVE_NAME));
  } finally {
    await new Deno.Command("umount", { args: ["-l", dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
});
