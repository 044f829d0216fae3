import { assertEquals } from "../testing/assert.ts";
import { systemdNotifier } from "./sd_notify.ts";

/** A receiving datagram socket made by socat, as systemd's would be; returns what it got. */
function receiver(address: string, count: number) {
  const child = new Deno.Command("socat", {
    args: ["-u", address, "STDOUT"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  return {
    async received(): Promise<string[]> {
      const reader = child.stdout.getReader();
      let text = "";
      const deadline = setTimeout(() => child.kill(), 5_000);
      while (text.split("\n").filter(Boolean).length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      clearTimeout(deadline);
      reader.releaseLock();
      try {
        child.kill();
      } catch { /* gone */ }
      await child.stdout.cancel().catch(() => {});
      await child.status;
      return text.split("\n").filter(Boolean);
    },
  };
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

Deno.test("sd_notify: READY and WATCHDOG reach a notify socket, by path and in the abstract namespace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-notify-" });
  try {
    const path = `${dir}/notify.sock`;
    // socat appends a newline to nothing, so each message is sent with one.
    const byPath = receiver(`UNIX-RECV:${path}`, 2);
    await until(() => {
      try {
        return Deno.statSync(path).isSocket === true;
      } catch {
        return false;
      }
    });
    const n = systemdNotifier({ NOTIFY_SOCKET: path, WATCHDOG_USEC: "20000000" })!;
    assertEquals(n.watchdogIntervalMs, 10_000);
    assertEquals(n.notify("READY=1\n"), true);
    assertEquals(n.notify("WATCHDOG=1\n"), true);
    assertEquals(await byPath.received(), ["READY=1", "WATCHDOG=1"]);
    n.close();
    assertEquals(n.notify("WATCHDOG=1\n"), false, "closed");

    const name = `nvr-notify-test-${Deno.pid}`;
    const abstract = receiver(`ABSTRACT-RECV:${name}`, 1);
    const a = systemdNotifier({ NOTIFY_SOCKET: `@${name}` })!;
    assertEquals(a.watchdogIntervalMs, null);
    await until(() => a.notify("STOPPING=1\n")); // until socat listens
    assertEquals(await abstract.received(), ["STOPPING=1"]);
    a.close();

    assertEquals(systemdNotifier({}), null, "not under systemd: no notifier");
    const other = systemdNotifier({
      NOTIFY_SOCKET: path,
      WATCHDOG_USEC: "1000",
      WATCHDOG_PID: "1",
    });
    assertEquals(other?.watchdogIntervalMs, null, "the watchdog is another process's");
    other?.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
