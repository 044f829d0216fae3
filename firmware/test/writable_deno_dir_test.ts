/**
 * The box's writable DENO_DIR (rootfs-overlay/usr/lib/nvr/writable-deno-dir.sh), on real files: the
 * image's caches copied (writable, the daemon's own), its folders linked (never written), a second
 * start made from scratch; and the unit, the pre-start script and the build agreeing on its path,
 * which is part of every key of V8's code cache the build fills. Needs root (the copies' owner).
 *
 *   flock /tmp/nvr-test.lock .tools/bin/deno test -A --trace-leaks firmware/test/writable_deno_dir_test.ts
 */
import { assert, assertEquals } from "../../runtime/testing/assert.ts";

const root = new URL("../../", import.meta.url).pathname;
const SCRIPT = `${root}rootfs-overlay/usr/lib/nvr/writable-deno-dir.sh`;
const canRun = Deno.uid() === 0;

/** The script with its source folder (the image's /usr/lib/nvr/deno-dir) moved to `src`. */
async function scriptFor(dir: string, src: string): Promise<string> {
  const text = await Deno.readTextFile(SCRIPT);
  const line = "src=/usr/lib/nvr/deno-dir\n";
  assert(text.includes(line), "writable-deno-dir.sh names its source as src=/usr/lib/nvr/deno-dir");
  const path = `${dir}/writable-deno-dir.sh`;
  await Deno.writeTextFile(path, text.replace(line, `src=${src}\n`));
  return path;
}

async function run(script: string, args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command("sh", {
    args: [script, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout) + d.decode(o.stderr) };
}

Deno.test({
  name:
    "writable DENO_DIR: caches copied and writable, gen/ and npm/ linked read-only, remade at each start",
  ignore: !canRun,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "deno-dir-" });
    try {
      const src = `${dir}/image-deno-dir`;
      await Deno.mkdir(`${src}/gen/file/usr/lib/nvr`, { recursive: true });
      await Deno.mkdir(`${src}/npm/registry.npmjs.org`, { recursive: true });
      await Deno.writeTextFile(`${src}/gen/file/usr/lib/nvr/main.ts.js`, "emitted");
      await Deno.writeTextFile(`${src}/v8_code_cache_v2`, "code cache");
      await Deno.writeTextFile(`${src}/dep_analysis_cache_v2`, "analysis");
      const script = await scriptFor(dir, src);
      const dst = `${dir}/run/nvr/deno-dir`;
      await Deno.mkdir(`${dir}/run/nvr`, { recursive: true });

      const first = await run(script, [dst, "root"]);
      assertEquals(first.code, 0, first.out);
      assertEquals((await Deno.stat(dst)).mode! & 0o777, 0o700);
      for (const name of ["v8_code_cache_v2", "dep_analysis_cache_v2"]) {
        const st = await Deno.lstat(`${dst}/${name}`);
        assert(st.isFile, `${name} is a copy, not a link`);
        assertEquals(st.mode! & 0o777, 0o600, `${name} is the daemon's own`);
      }
      assertEquals(await Deno.readTextFile(`${dst}/v8_code_cache_v2`), "code cache");
      for (const name of ["gen", "npm"]) {
        assert((await Deno.lstat(`${dst}/${name}`)).isSymlink, `${name} is a link`);
        assertEquals(await Deno.readLink(`${dst}/${name}`), `${src}/${name}`);
      }
      assertEquals(await Deno.readTextFile(`${dst}/gen/file/usr/lib/nvr/main.ts.js`), "emitted");

      // What the daemon writes lands in the copy; the image's file stays as built.
      await Deno.writeTextFile(`${dst}/v8_code_cache_v2`, "written by the daemon");
      await Deno.writeTextFile(`${dst}/stray`, "left by the last run");
      assertEquals(await Deno.readTextFile(`${src}/v8_code_cache_v2`), "code cache");

      // The next start begins again from the image's caches.
      const second = await run(script, [dst, "root"]);
      assertEquals(second.code, 0, second.out);
      assertEquals(await Deno.readTextFile(`${dst}/v8_code_cache_v2`), "code cache");
      assertEquals((await Array.fromAsync(Deno.readDir(dst))).map((e) => e.name).sort(), [
        "dep_analysis_cache_v2",
        "gen",
        "npm",
        "v8_code_cache_v2",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "writable DENO_DIR: an image without the vendored cache fails the start and says so",
  ignore: !canRun,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "deno-dir-" });
    try {
      const script = await scriptFor(dir, `${dir}/missing`);
      const r = await run(script, [`${dir}/dst`, "root"]);
      assert(r.code !== 0, "exit status");
      assert(r.out.includes(`no ${dir}/missing in this image`), r.out);
      const usage = await run(script, []);
      assert(usage.code !== 0 && usage.out.includes("usage: writable-deno-dir.sh"), usage.out);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("writable DENO_DIR: the unit, the pre-start script and the build use the same path", async () => {
  const unit = await Deno.readTextFile(
    `${root}rootfs-overlay/usr/lib/systemd/system/nvr.service`,
  );
  const prestart = await Deno.readTextFile(`${root}rootfs-overlay/usr/lib/nvr/nvr-prestart.sh`);
  const build = await Deno.readTextFile(`${root}firmware/build_image.sh`);
  const envs = unit.split("\n").filter((l) => l.startsWith("Environment=DENO_DIR="));
  assertEquals(envs, ["Environment=DENO_DIR=/run/nvr/deno-dir"]);
  assert(unit.includes("RuntimeDirectory=nvr"), "/run/nvr is the service's runtime folder");
  assert(
    prestart.includes("\n/usr/lib/nvr/writable-deno-dir.sh /run/nvr/deno-dir nvr\n"),
    "nvr-prestart.sh makes it for the daemon's user",
  );
  assert(
    build.includes("/usr/lib/nvr/writable-deno-dir.sh /run/nvr/deno-dir root") &&
      build.includes("DENO_DIR=/run/nvr/deno-dir"),
    "build_image.sh fills the code cache through the same path",
  );
});
