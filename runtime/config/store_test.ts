import { assert, assertEquals } from "../testing/assert.ts";
import { ConfigStore, loadConfig, validateConfig } from "./mod.ts";

const camera = (id: string) => ({ id, url: `rtsp://10.0.0.5:554/${id}` });

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-config-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("attack: two concurrent changes collide — both land, no shared temp file, no 500", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.json`;
    const store = new ConfigStore(path, validateConfig({ cameras: [camera("a")] }));
    const applied: string[][] = [];
    const add = (id: string) =>
      store.update(
        (cur) => validateConfig({ ...cur, cameras: [...cur.cameras, camera(id)] }),
        (next) => (applied.push(next.cameras.map((c) => c.id)), Promise.resolve()),
      );
    await Promise.all(["b", "c", "d", "e"].map(add));
    const ids = (await loadConfig(path, {})).cameras.map((c) => c.id);
    assertEquals(ids.sort(), ["a", "b", "c", "d", "e"]);
    assertEquals(applied.length, 4);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(left, ["config.json", "config.json.bak"], "no temporary file left behind");
  });
});

Deno.test("file modes: a new config is 0600, and a rewrite keeps the file's mode", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.json`;
    const store = new ConfigStore(path, validateConfig({}));
    const rename = (name: string) =>
      store.update((cur) => ({ ...cur, device: { name } }), () => Promise.resolve());
    await rename("one");
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    await Deno.chmod(path, 0o640);
    await rename("two");
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o640);
    assertEquals((await Deno.stat(`${path}.bak`)).mode! & 0o777, 0o640);
  });
});

Deno.test("power cut leaves an empty config.json → the daemon starts from config.json.bak", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.json`;
    const store = new ConfigStore(path, validateConfig({}));
    for (const name of ["first", "second"]) {
      await store.update((cur) => ({ ...cur, device: { name } }), () => Promise.resolve());
    }
    await Deno.writeTextFile(path, ""); // the power cut
    const warnings: string[] = [];
    const config = await loadConfig(path, {}, (m) => warnings.push(m));
    assertEquals(config.device.name, "first");
    assert(/IS EMPTY OR CORRUPT \(not valid JSON: the file is empty\)/.test(warnings[0] ?? ""));
    // The empty file never replaces the good backup: the next change keeps it.
    await store.update((cur) => ({ ...cur, device: { name: "third" } }), () => Promise.resolve());
    assertEquals((await loadConfig(`${path}.bak`, {})).device.name, "first");
    assertEquals((await loadConfig(path, {})).device.name, "third");
  });
});

Deno.test("a failed change changes nothing and the next one still runs", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.json`;
    const store = new ConfigStore(path, validateConfig({}));
    const failed = await store.update(() => {
      throw new Error("no");
    }, () => Promise.resolve()).catch((e) => e as Error);
    assertEquals((failed as Error).message, "no");
    await store.update((cur) => ({ ...cur, device: { name: "ok" } }), () => Promise.resolve());
    assertEquals(store.current.device.name, "ok");
  });
});
