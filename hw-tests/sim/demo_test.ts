/**
 * `make run` (`deno task demo`) as a new user runs it, in a subprocess on loopback only: its own
 * folder (NVR_DEMO_DIR), free ports for the broker and the cameras (NVR_DEMO_PORTS=free) and the
 * page moved off 8080 (NVR_LISTEN). What it prints, that the page answers and both cameras record
 * (one H.265, one H.264, both with a sub-stream), then Ctrl-C (SIGINT to its process group): exit
 * 0, no "broker connection lost", nothing left.
 */
import { assert, assertEquals, assertMatch } from "../../runtime/testing/assert.ts";
import { httpsClient } from "../../runtime/testing/https_client.ts";
import { indexPath, SegmentIndex } from "../../runtime/storage/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Processes (other than this one) whose environment holds `marker`: the demo's, by its folder. */
async function processesWith(marker: string): Promise<string[]> {
  const found: string[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    const environ = await Deno.readFile(`/proc/${e.name}/environ`).catch(() => null);
    if (environ === null || !new TextDecoder().decode(environ).includes(marker)) continue;
    const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
    found.push(`${e.name} ${cmd.replaceAll("\0", " ").slice(0, 160)}`);
  }
  return found;
}

async function until<T>(what: string, ms: number, get: () => T | null | Promise<T | null>) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name: "demo: make run prints where to go, records both cameras and stops cleanly on Ctrl-C",
  // Linux: /proc and process groups; mosquitto and socat installed (make deps).
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "nvr-demo-" });
    const marker = `NVR_DEMO_DIR=${dir}`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "demo"],
      cwd: ROOT,
      env: { NVR_DEMO_DIR: dir, NVR_DEMO_PORTS: "free", NVR_LISTEN: "127.0.0.1:0" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Its own process group, as a terminal's foreground job: Ctrl-C goes to the group.
      detached: true,
    }).spawn();
    let out = "";
    let err = "";
    const dec = () => new TextDecoder();
    const drained = Promise.all([
      (async () => {
        const d = dec();
        for await (const c of child.stdout) out += d.decode(c, { stream: true });
      })(),
      (async () => {
        const d = dec();
        for await (const c of child.stderr) err += d.decode(c, { stream: true });
      })(),
    ]);
    let exited = false;
    const status = child.status.finally(() => exited = true);
    const tail = () => `\n--- stderr ---\n${err.slice(-3000)}\n--- stdout ---\n${out.slice(-2000)}`;
    let index: SegmentIndex | null = null;
    try {
      // Everything it prints once the page answers.
      await until("the demo's 'press Ctrl-C' line", 60_000, () => {
        if (exited) throw new Error(`the demo exited early${tail()}`);
        return err.includes("[demo] press Ctrl-C to stop everything") ? true : null;
      }).catch((e) => {
        throw new Error(`${(e as Error).message}${tail()}`);
      });
      const said = (re: RegExp) => {
        const m = re.exec(err);
        assert(m, `the demo says ${re}${tail()}`);
        return m;
      };
      // The page on the address actually listened on (not 8080, not /healthz). Port 0: the
      // daemon binds a free one itself; a port picked here and bound seconds later (the demo's
      // start) could be taken by another test meanwhile.
      const port = Number(said(/\[demo\] open https:\/\/127\.0\.0\.1:(\d+)\/\n/)[1]);
      assert(port > 0 && port !== 8080, `the port really listened on: ${port}`);
      const code = said(/the first visit creates the admin account: setup code (\S+)/)[1];
      assertEquals(code, (await Deno.readTextFile(`${dir}/data/setup-code`)).trim());
      const deviceId = said(/\[demo\] device id: (\S+)/)[1];
      assert(deviceId && !deviceId.startsWith("("), `a device id, not the placeholder${tail()}`);
      const config = JSON.parse(await Deno.readTextFile(`${dir}/demo.config.json`));
      const brokerPort = new URL(config.mqtt.url).port;
      said(
        new RegExp(
          `fleet topics: mosquitto_sub -h 127\\.0\\.0\\.1 -p ${brokerPort} -t 'nvr/v1/#' -v`,
        ),
      );

      // The page answers there, over the box's own certificate.
      using https = httpsClient(await Deno.readTextFile(`${dir}/data/tls/cert.pem`), port);
      const page = await https.fetch("/");
      assertEquals(page.status, 200);
      assertMatch(await page.text(), /<html/i);

      // Both cameras record: a segment of each in the index (10 s segments).
      index = SegmentIndex.open(indexPath(`${dir}/data`));
      const db = index;
      await until("a segment of demo1 and of demo2", 45_000, () => {
        const now = Date.now();
        const ok = ["demo1", "demo2"].every((cam) => db.range(cam, now - 600_000, now).length > 0);
        return ok ? true : null;
      }).catch((e) => {
        throw new Error(`${(e as Error).message}${tail()}`);
      });
      // Every path the page has (issue 14): one H.265 camera (MSE with H.265, else its H.264
      // sub-stream or the transcode) and one H.264 camera, both with a sub-stream.
      const now = Date.now();
      assertEquals(
        ["demo1", "demo2"].map((cam) => db.range(cam, now - 600_000, now)[0]?.codec),
        ["h265", "h264"],
        "demo1 records H.265, demo2 H.264",
      );
      assertEquals(
        config.cameras.map((c: { subUrl?: string }) => typeof c.subUrl === "string"),
        [true, true],
        "both demo cameras have a sub-stream",
      );
    } finally {
      index?.close();
      // Ctrl-C: the terminal sends SIGINT to the foreground process group.
      if (!exited) Deno.kill(-child.pid, "SIGINT");
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([
      status,
      new Promise<null>((r) => timer = setTimeout(() => r(null), 30_000)),
    ]);
    clearTimeout(timer);
    if (ended === null) {
      Deno.kill(-child.pid, "SIGKILL");
      await status;
    }
    await drained;
    const left = await processesWith(marker);
    for (const p of left) {
      // Only this test's own processes (their environment holds its folder), by id.
      try {
        Deno.kill(Number(p.split(" ")[0]), "SIGKILL");
      } catch { /* gone */ }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    assert(ended !== null, `the demo stopped within 30 s of Ctrl-C${tail()}`);
    assertEquals(ended.code, 0, `exit code after Ctrl-C${tail()}`);
    assert(!/broker connection lost/i.test(out + err), `no "broker connection lost"${tail()}`);
    assertMatch(err, /\[demo\] stopped\n/);
    assertEquals(left, [], "no process of the demo left");
  },
});
