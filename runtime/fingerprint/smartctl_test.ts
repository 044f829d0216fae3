import { assert, assertEquals } from "../testing/assert.ts";
import { cachedSmartctl, parseSmartctlJson, systemSmartctl } from "./smartctl.ts";

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

Deno.test("cachedSmartctl: one smartctl per device and window, answered or not; concurrent calls share it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "smartctl-" });
  try {
    const calls = `${dir}/calls`;
    await Deno.writeTextFile(calls, "");
    // A real smartctl stand-in: logs each run; /dev/sdb cannot be opened (exit bit 1, as for a
    // daemon not allowed to open the disk).
    const smartctl = await script(
      dir,
      "smartctl",
      `echo "$*" >>${calls}; case "$*" in *sdb) echo '{"smartctl":{"exit_status":2}}'; exit 2;; esac
       echo '{"model_name":"M","args":"'"$*"'"}'`,
    );
    let t = 1_000_000;
    const cached = cachedSmartctl(systemSmartctl(smartctl), 600_000, () => t);
    const runs = async () => (await Deno.readTextFile(calls)).trim().split("\n").filter(Boolean);

    const [a, b] = await Promise.all([
      cached("/dev/sda", ["-i", "-H"]),
      cached("/dev/sda", ["-i", "-H"]),
    ]);
    assertEquals(a, { model_name: "M", args: "--json -i -H /dev/sda" });
    assertEquals(b, a);
    assertEquals(await cached("/dev/sdb", ["-i", "-H"]), null);
    t += 599_999;
    assertEquals(await cached("/dev/sda", ["-i", "-H"]), a);
    assertEquals(await cached("/dev/sdb", ["-i", "-H"]), null);
    assertEquals(await runs(), ["--json -i -H /dev/sda", "--json -i -H /dev/sdb"]);
    // Other arguments are another question; after the window, asked again.
    await cached("/dev/sda", ["-i"]);
    t += 1;
    await cached("/dev/sda", ["-i", "-H"]);
    await cached("/dev/sdb", ["-i", "-H"]);
    assertEquals((await runs()).length, 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
