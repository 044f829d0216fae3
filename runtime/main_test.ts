import { assertEquals, assertMatch } from "./testing/assert.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

async function runMain(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("a bad config stops start-up with exit 78 and names the key, value and what is allowed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/nvr.json`;
    await Deno.writeTextFile(file, JSON.stringify({ storage: { segmentSeconds: 0 }, camras: [] }));
    const { code, stderr } = await runMain(["--config", file]);
    assertEquals(code, 78);
    assertMatch(stderr, new RegExp(`Invalid configuration in ${file}:`));
    assertMatch(stderr, /camras: unknown key; known keys here: analytics, cameras, device/);
    assertMatch(
      stderr,
      /storage\.segmentSeconds: 0 is not allowed; allowed: whole seconds from 2 to 3600/,
    );

    const missing = await runMain([], { NVR_CONFIG: `${dir}/absent.json` });
    assertEquals(missing.code, 78);
    assertMatch(
      missing.stderr,
      /absent\.json:\n {2}- cannot read the config file: the file does not exist/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
