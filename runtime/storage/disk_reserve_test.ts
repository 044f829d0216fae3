import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { DiskFullError, keepReserve, RESERVE_NAME, withReserve } from "./disk_reserve.ts";

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
