/** Installing plugins: archives with checksums, hostile archives and manifests, code checks. */
import { assert, assertEquals, assertMatch, assertRejects } from "../testing/assert.ts";
import {
  ArchiveError,
  installFromArchive,
  installFromFolder,
  readInstalled,
  removePlugin,
  sha256Hex,
} from "./install.ts";
import { ManifestError, parseManifest, resolveSettings } from "./manifest.ts";
import { PluginCodeError } from "./code_check.ts";
import { writeTar } from "./tar.ts";
import { sandboxArgs } from "./sandbox.ts";
import { pluginCode, removeTree, REPO } from "./plugin_fixture.ts";

const MANIFEST = { id: "demo", name: "Demo", version: "1.0.0" };
const MAIN = pluginCode(`ctx.reading("x", 1, "");`);

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const out = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(out).arrayBuffer());
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "plugin-install-" });
  try {
    await fn(dir);
  } finally {
    await removeTree(dir);
  }
}

Deno.test("install from a tar.gz with its checksum: read-only files in <plugins>/<id>/", () =>
  withDir(async (dir) => {
    const archive = await gzip(writeTar([
      { path: "demo/plugin.json", data: JSON.stringify(MANIFEST) },
      { path: "demo/main.ts", data: MAIN },
    ]));
    const m = await installFromArchive(archive, await sha256Hex(archive), `${dir}/plugins`);
    assertEquals(m.id, "demo");
    assertEquals((await Deno.stat(`${dir}/plugins/demo/main.ts`)).mode! & 0o777, 0o444);
    assertEquals((await Deno.stat(`${dir}/plugins/demo`)).mode! & 0o777, 0o555);
    assertEquals((await readInstalled(`${dir}/plugins`)).installed.map((p) => p.id), ["demo"]);
    assertEquals(await removePlugin("demo", `${dir}/plugins`), true);
    assertEquals((await readInstalled(`${dir}/plugins`)).installed, []);
  }));

Deno.test("attack: archive whose checksum does not match — refused", () =>
  withDir(async (dir) => {
    const archive = writeTar([
      { path: "plugin.json", data: JSON.stringify(MANIFEST) },
      { path: "main.ts", data: MAIN },
    ]);
    const wrong = await sha256Hex(new TextEncoder().encode("something else"));
    const err = await assertRejects(
      () => installFromArchive(archive, wrong, `${dir}/plugins`),
      ArchiveError,
    );
    assertMatch(
      err.message,
      /SHA-256 is [0-9a-f]{64}, not the "[0-9a-f]{64}" given; nothing was installed/,
    );
    await assertRejects(() => installFromArchive(archive, "", `${dir}/plugins`), ArchiveError);
    assertEquals((await readInstalled(`${dir}/plugins`)).installed, []);
  }));

Deno.test("attack: archive with ../ paths — refused", () =>
  withDir(async (dir) => {
    for (const path of ["../evil.ts", "demo/../../evil.ts", "/tmp/evil.ts", "./a/./b"]) {
      const archive = writeTar([
        { path: "plugin.json", data: JSON.stringify(MANIFEST) },
        { path, data: "export {}" },
      ]);
      const err = await assertRejects(
        () =>
          installFromArchive(archive, "", `${dir}/plugins`).catch(async (e) => {
            // The checksum is checked first; give the right one so the paths are what is refused.
            if (String(e).includes("SHA-256")) {
              return installFromArchive(archive, await sha256Hex(archive), `${dir}/plugins`);
            }
            throw e;
          }),
        ArchiveError,
      );
      assertMatch(err.message, /not a plain relative path/);
    }
    // A symbolic link in the archive is refused too.
    const link = writeTar([{ path: "plugin.json", data: JSON.stringify(MANIFEST) }]);
    link[156] = 0x32; // typeflag '2' on the first entry
    await assertRejects(
      () => installFromArchive(link, "0".repeat(64), `${dir}/plugins`),
      ArchiveError,
    );
    const entries = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert(!entries.includes("evil.ts"), `written outside: ${entries}`);
    assertEquals((await readInstalled(`${dir}/plugins`)).installed, []);
  }));

Deno.test("attack: manifest asks for --allow-net — refused at install", () =>
  withDir(async (dir) => {
    for (
      const permissions of [{ net: ["0.0.0.0"] }, { "--allow-net": true }, { run: ["sh"] }, {
        write: ["/"],
      }]
    ) {
      const src = `${dir}/src`;
      await Deno.mkdir(src, { recursive: true });
      await Deno.writeTextFile(`${src}/plugin.json`, JSON.stringify({ ...MANIFEST, permissions }));
      await Deno.writeTextFile(`${src}/main.ts`, MAIN);
      const err = await assertRejects(
        () => installFromFolder(src, `${dir}/plugins`),
        ManifestError,
      );
      assertMatch(err.message, /plugin\.json: permissions\.[-\w]+: plugins are never given/);
    }
    // Read outside /sys, and a raw flag at the top level, are refused the same way.
    assertRejectsSync(() =>
      parseManifest({ ...MANIFEST, permissions: { read: ["/etc/nvr"] } }, "m")
    );
    assertRejectsSync(() =>
      parseManifest({ ...MANIFEST, permissions: { read: ["/sys/../etc"] } }, "m")
    );
    assertRejectsSync(() => parseManifest({ ...MANIFEST, denoFlags: ["--allow-net"] }, "m"));
    assertEquals((await readInstalled(`${dir}/plugins`)).installed, []);
  }));

function assertRejectsSync(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    assert(err instanceof ManifestError, String(err));
    return;
  }
  throw new Error("expected a ManifestError");
}

Deno.test("plugin code that imports outside its folder, or imports dynamically, is refused at install", () =>
  withDir(async (dir) => {
    const cases: Record<string, string> = {
      static: `import x from "/etc/passwd" with { type: "text" };\n${MAIN}`,
      json: `import x from "../../secret.json" with { type: "json" };\n${MAIN}`,
      dynamic:
        `const f = "/etc/nvr/config.json";\nawait import /* hidden */ (f, { with: { type: "json" } });\n${MAIN}`,
    };
    await Deno.writeTextFile(`${dir}/secret.json`, "{}");
    for (const [name, main] of Object.entries(cases)) {
      const src = `${dir}/src-${name}/deeper`;
      await Deno.mkdir(src, { recursive: true });
      await Deno.writeTextFile(`${src}/plugin.json`, JSON.stringify(MANIFEST));
      await Deno.writeTextFile(`${src}/main.ts`, main);
      const err = await assertRejects(
        () => installFromFolder(src, `${dir}/plugins`),
        PluginCodeError,
      );
      assertMatch(
        err.message,
        /(plugins may import only files in their own folder|dynamic import)/,
      );
    }
    const src = `${dir}/src-link`;
    await Deno.mkdir(src);
    await Deno.writeTextFile(`${src}/plugin.json`, JSON.stringify(MANIFEST));
    await Deno.symlink("/etc/passwd", `${src}/main.ts`);
    await assertRejects(
      () => installFromFolder(src, `${dir}/plugins`),
      PluginCodeError,
      "symbolic link",
    );
  }));

Deno.test("settings are checked against the manifest's schema, defaults filled in", () => {
  const m = parseManifest(
    JSON.parse(Deno.readTextFileSync(`${REPO}plugins/w1-temperature/plugin.json`)),
    "w1",
  );
  assertEquals(resolveSettings(m, {}), { intervalSeconds: 10, highC: 60, lowC: -20 });
  assertEquals(resolveSettings(m, { highC: 40 }).highC, 40);
  for (
    const [values, message] of [
      [{ highC: 500 }, "setting highC: 500 is above 125"],
      [{ highC: "hot" }, 'setting highC: "hot": expected a number'],
      [{ path: "/etc" }, "setting path: not a setting of this plugin"],
    ] as const
  ) {
    try {
      resolveSettings(m, values);
      throw new Error("accepted");
    } catch (err) {
      assert(err instanceof ManifestError && err.message.includes(message), String(err));
    }
  }
});

Deno.test("sandbox: the plugin process gets its folder and manifest paths to read, and nothing else", () => {
  const m = parseManifest(
    JSON.parse(Deno.readTextFileSync(`${REPO}plugins/w1-temperature/plugin.json`)),
    "w1",
  );
  const args = sandboxArgs(m, "/data/plugins/w1-temperature", "/fixture/sys");
  const allows = args.filter((a) => a.startsWith("--allow"));
  assertEquals(allows, [
    "--allow-read=/data/plugins/w1-temperature,/fixture/sys/bus/w1/devices,/fixture/sys/devices",
  ]);
  for (
    const flag of [
      "--no-prompt",
      "--no-remote",
      "--cached-only",
      "--no-npm",
      "--no-config",
      "--deny-net",
      "--deny-run",
      "--deny-ffi",
      "--deny-env",
      "--deny-sys",
      "--deny-write",
      "--deny-import",
    ]
  ) {
    assert(args.includes(flag), `missing ${flag}`);
  }
  assert(
    args.includes("--v8-flags=--max-old-space-size=32,--disallow-code-generation-from-strings"),
  );
});
