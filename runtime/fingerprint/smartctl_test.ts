import { assert, assertEquals } from "../testing/assert.ts";
import { parseSmartctlJson, systemSmartctl } from "./smartctl.ts";

async function script(dir: string, name: string, body: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

Deno.test("systemSmartctl: parses stdout whatever the exit bits; missing or hung smartctl is null", async () => {
  const dir = await Deno.makeTempDir({ prefix: "smartctl-" });
  try {
    // smartctl exits 4 (a SMART command failed) yet prints the disk: still an answer.
    const ok = await script(
      dir,
      "ok",
      `echo '{"smartctl":{"exit_status":4},"serial_number":"S1","args":"'"$*"'"}'; exit 4`,
    );
    assertEquals(await systemSmartctl(ok)("/dev/sda", ["-i"]), {
      smartctl: { exit_status: 4 },
      serial_number: "S1",
      args: "--json -i /dev/sda",
    });
    const cannotOpen = await script(dir, "open", `echo '{"smartctl":{"exit_status":2}}'; exit 2`);
    assertEquals(await systemSmartctl(cannotOpen)("/dev/sda", ["-i"]), null);
    assertEquals(await systemSmartctl(`${dir}/absent`)("/dev/sda", ["-i"]), null);
    const hung = await script(dir, "hung", "exec sleep 30");
    const started = performance.now();
    assertEquals(await systemSmartctl(hung, 200)("/dev/sda", ["-i"]), null);
    assert(performance.now() - started < 5000, "killed after the timeout");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseSmartctlJson: objects only", () => {
  assertEquals(parseSmartctlJson("not json"), null);
  assertEquals(parseSmartctlJson("[1]"), null);
  assertEquals(parseSmartctlJson('{"model_name":"X"}'), { model_name: "X" });
});
