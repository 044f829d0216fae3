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
    assertMatch(stderr, /camras: unknown key; known keys here: analytics, cameras, clock, device/);
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

Deno.test("under systemd: READY=1 once serving, WATCHDOG=1 while healthy, STOPPING=1 on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-notify-main-" });
  const socket = `${dir}/notify.sock`;
  // systemd's side: a datagram socket. The states carry no newline (as sd_notify sends them), so
  // socat's output is read as one run of text: "READY=1WATCHDOG=1…".
  const systemd = new Deno.Command("socat", {
    args: ["-u", `UNIX-RECV:${socket}`, "STDOUT"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const ready = await Deno.stat(socket).then((s) => s.isSocket, () => false);
    if (ready) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const file = `${dir}/nvr.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      http: { listen: "127.0.0.1:0", tls: "off" },
      storage: { dataDir: `${dir}/data`, minFreeBytes: "1M", minFreePercent: 0 },
    }),
  );
  const daemon = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--config", file],
    env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: "400000" }, // a ping every 200 ms
    stdout: "null",
    stderr: "null",
  }).spawn();
  let text = "";
  const reader = systemd.stdout.getReader();
  try {
    const until = async (what: RegExp) => {
      const end = Date.now() + 30_000;
      while (!what.test(text) && Date.now() < end) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      assertMatch(text, what);
    };
    await until(/^READY=1/);
    await until(/READY=1(WATCHDOG=1){2}/);
    daemon.kill("SIGTERM");
    await until(/STOPPING=1$/);
    assertEquals((await daemon.status).code, 0);
  } finally {
    try {
      daemon.kill("SIGKILL");
    } catch { /* exited */ }
    await daemon.status;
    reader.releaseLock();
    systemd.kill();
    await systemd.stdout.cancel().catch(() => {});
    await systemd.status;
    await Deno.remove(dir, { recursive: true });
  }
});
