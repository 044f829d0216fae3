/**
 * Hostile plugins against the sandbox: each runs as a real plugin process under the host, tries
 * one thing, and reports what happened as a reading (or is stopped). Real processes, files and
 * sockets on 127.0.0.1.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { hostWith, pluginCode, removeTree, waitFor, writePlugin } from "./plugin_fixture.ts";

const manifest = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: id,
  version: "0.0.1",
  ...extra,
});

/** A plugin that runs `attempt` (an async expression) and reports "ok" or the error's name. */
const tryIt = (label: string, attempt: string) => `
  try { await (${attempt}); ctx.reading(${JSON.stringify(label)}, "ok", ""); }
  catch (e) { ctx.reading(${JSON.stringify(label)}, (e as Error).name, ""); }`;

async function outcomes(id: string, body: string, names: string[], extra = {}) {
  const root = await Deno.makeTempDir({ prefix: "plugin-attack-" });
  const src = await writePlugin(
    root,
    manifest(id, extra),
    pluginCode(body + "\nawait new Promise((r) => ctx.signal.addEventListener('abort', r));"),
  );
  const { host, status } = await hostWith(root, [src]);
  try {
    const readings = await waitFor(`${id} to report ${names}`, () => {
      const r = status(id)?.readings ?? [];
      return names.every((n) => r.some((x) => x.name === n)) ? r : null;
    });
    return { readings: Object.fromEntries(readings.map((r) => [r.name, r.value])), root };
  } finally {
    await host.close();
    await removeTree(root);
  }
}

Deno.test("attack: plugin reads the daemon config — refused", async () => {
  const secretDir = await Deno.makeTempDir({ prefix: "nvr-etc-" });
  const config = `${secretDir}/config.json`;
  await Deno.writeTextFile(config, JSON.stringify({ mqtt: { password: "hunter2" } }));
  try {
    const { readings } = await outcomes(
      "reads-config",
      [
        tryIt("read", `Deno.readTextFile(${JSON.stringify(config)})`),
        tryIt("stat", `Deno.stat(${JSON.stringify(config)})`),
        tryIt("fetch", `fetch(${JSON.stringify("file://" + config)})`),
        tryIt("write", `Deno.writeTextFile(${JSON.stringify(secretDir + "/x")}, "x")`),
        tryIt("eval", `Promise.resolve().then(() => eval("1"))`),
        tryIt("worker", `Promise.resolve().then(() => new (globalThis as any).Worker("data:,1"))`),
      ].join("\n"),
      ["read", "stat", "fetch", "write", "eval", "worker"],
    );
    assertEquals(readings, {
      read: "NotCapable",
      stat: "NotCapable",
      fetch: "NotCapable",
      write: "NotCapable",
      eval: "EvalError",
      worker: "TypeError",
    });
  } finally {
    await Deno.remove(secretDir, { recursive: true });
  }
});

Deno.test("attack: plugin opens a socket — refused", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const accepting = (async () => {
    for await (const conn of listener) accepted++, conn.close();
  })();
  try {
    const { port } = listener.addr as Deno.NetAddr;
    const { readings } = await outcomes(
      "opens-socket",
      [
        tryIt("connect", `Deno.connect({ hostname: "127.0.0.1", port: ${port} })`),
        tryIt(
          "listen",
          `Promise.resolve().then(() => Deno.listen({ hostname: "127.0.0.1", port: 0 }))`,
        ),
        tryIt("fetch", `fetch("http://127.0.0.1:${port}/")`),
        tryIt(
          "udp",
          `Promise.resolve().then(() => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }))`,
        ),
      ].join("\n"),
      ["connect", "listen", "fetch", "udp"],
    );
    assertEquals(readings.connect, "NotCapable");
    assertEquals(readings.listen, "NotCapable");
    assertEquals(readings.fetch, "NotCapable");
    assert(readings.udp !== "ok", `udp: ${readings.udp}`);
    assertEquals(accepted, 0);
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
});

Deno.test("attack: plugin spawns a process — refused", async () => {
  const { readings } = await outcomes(
    "spawns",
    [
      tryIt(
        "spawn",
        `Promise.resolve().then(() => new Deno.Command("/bin/sh", { args: ["-c", "true"] }).spawn())`,
      ),
      tryIt("ffi", `Promise.resolve().then(() => Deno.dlopen("libc.so.6", {}))`),
      tryIt("env", `Promise.resolve().then(() => Deno.env.get("HOME"))`),
      tryIt("kill", `Promise.resolve().then(() => Deno.kill(1, "SIGTERM"))`),
    ].join("\n"),
    ["spawn", "ffi", "env", "kill"],
  );
  assertEquals(readings, {
    spawn: "NotCapable",
    ffi: "NotCapable",
    env: "NotCapable",
    kill: "NotCapable",
  });
});

/** Starts `body` as a plugin with tight limits; resolves with its status once it was stopped. */
async function stoppedFor(
  id: string,
  body: string,
  extra: Record<string, unknown> = {},
  limits = {},
  whileRunning?: (root: string) => Promise<AsyncDisposable>,
) {
  const root = await Deno.makeTempDir({ prefix: "plugin-attack-" });
  const src = await writePlugin(root, manifest(id, extra), pluginCode(body));
  // A well-behaved neighbour: it must keep running while the other one is stopped.
  const good = await writePlugin(
    root,
    manifest("neighbour"),
    pluginCode(
      `ctx.reading("alive", true, ""); await new Promise((r) => ctx.signal.addEventListener("abort", r));`,
    ),
  );
  const { host, status } = await hostWith(root, [src, good], {
    limits: { cpuWindowMs: 3_000, hangMs: 20_000, ...limits },
  });
  try {
    await waitFor("the neighbour to run", () => status("neighbour")?.state === "running");
    await using _crowd = whileRunning ? await whileRunning(root) : undefined;
    const s = await waitFor(`${id} to be stopped`, () => {
      const s = status(id);
      return s?.state === "retrying" ? s : null;
    }, 90_000);
    assertEquals(status("neighbour")?.state, "running");
    assertEquals(status("neighbour")?.restarts, 0);
    return s;
  } finally {
    await host.close();
    await removeTree(root);
  }
}

/** The pid of the process whose command line holds both strings (polled; bounded). */
async function pidOf(a: string, b: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    for await (const e of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
      if (cmd.includes(a) && cmd.includes(b)) return Number(e.name);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no process with "${a}" and "${b}" in its command line`);
}

/** Pins `pid` (all its threads) to core 0 and starts two busy loops there: a crowded core. */
async function crowdCoreZero(pid: number): Promise<AsyncDisposable> {
  const pin = await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", "0", String(pid)],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!pin.success) throw new Error(`taskset: ${new TextDecoder().decode(pin.stderr)}`);
  const hogs = [0, 1].map(() =>
    new Deno.Command("taskset", {
      args: ["-c", "0", "timeout", "120", "sh", "-c", "while :; do :; done"],
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
  return {
    async [Symbol.asyncDispose]() {
      for (const hog of hogs) {
        try {
          hog.kill("SIGTERM"); // timeout passes it on to the loop (SIGKILL would orphan it)
        } catch { /* already gone */ }
        await hog.status;
      }
    },
  };
}

Deno.test("attack: plugin spins the CPU — stopped", async (t) => {
  await t.step("busy 90% of the time but still beating", async () => {
    // On a crowded box the spinner gets only a slice of a core (about 2/L at load average L on 2
    // cores; a CI run at load 10 gave it under 50 % for 90 s), but it is ready to run all the
    // time: the host counts its run-queue wait as well, so it is stopped whatever the load.
    const s = await stoppedFor(
      "spins",
      `
      setInterval(() => { const t = Date.now(); while (Date.now() - t < 90) {} }, 100);
      await new Promise((r) => ctx.signal.addEventListener("abort", r));`,
    );
    assertMatch(
      s.lastError ?? "",
      /used \d+% of a core( and waited for one \d+% of the time)? for 3 s \(at most 50%\) and was stopped/,
    );
  });
  await t.step("busy 90% of the time on a core it shares with two busy loops", async () => {
    // It gets a third of the core (about 30 %, under the 50 % limit) but is ready to run 90 %
    // of the time: counted by use alone it would never be stopped.
    const s = await stoppedFor(
      "spins-crowded",
      `
      setInterval(() => { const t = Date.now(); while (Date.now() - t < 90) {} }, 100);
      await new Promise((r) => ctx.signal.addEventListener("abort", r));`,
      {},
      {},
      async (root) => crowdCoreZero(await pidOf(root, "spins-crowded")),
    );
    assertMatch(
      s.lastError ?? "",
      /used \d+% of a core and waited for one \d+% of the time for 3 s \(at most 50%\) and was stopped/,
    );
  });
  await t.step("a loop that never yields: the heartbeat stops", async () => {
    const s = await stoppedFor("hangs", `ctx.reading("x", 1, ""); for (;;) {}`, {}, {
      hangMs: 4_000,
      cpuWindowMs: 60_000,
    });
    assertMatch(s.lastError ?? "", /stopped answering for 4 s and was killed/);
  });
});

Deno.test("attack: plugin grows its memory — stopped", async (t) => {
  await t.step("on the V8 heap: its cap", async () => {
    const s = await stoppedFor(
      "grows-heap",
      `
      const hoard: string[][] = [];
      setInterval(() => { const a: string[] = []; for (let i = 0; i < 200_000; i++) a.push("x" + i); hoard.push(a); }, 5);
      await new Promise((r) => ctx.signal.addEventListener("abort", r));`,
      { memoryMb: 16 },
    );
    assertMatch(s.lastError ?? "", /(ran out of its 16 MiB memory cap|grew to \d+ MiB of memory)/);
  });
  await t.step("off the heap (buffers): resident memory", async () => {
    const s = await stoppedFor(
      "grows-buffers",
      `
      const hoard: Uint8Array[] = [];
      setInterval(() => hoard.push(new Uint8Array(8 << 20).fill(1)), 20);
      await new Promise((r) => ctx.signal.addEventListener("abort", r));`,
      { memoryMb: 16 },
      { rssExtraMb: 64 },
    );
    assertMatch(s.lastError ?? "", /grew to \d+ MiB of memory \(at most 80 MiB\) and was stopped/);
  });
});

Deno.test("attack: plugin floods its output — stopped", async (t) => {
  await t.step("one endless line", async () => {
    const s = await stoppedFor(
      "floods-line",
      `
      const junk = new TextEncoder().encode("A".repeat(65536));
      for (;;) Deno.stdout.writeSync(junk);`,
    );
    assertMatch(s.lastError ?? "", /wrote a line longer than 65536 bytes/);
  });
  await t.step("many well-formed messages", async () => {
    const s = await stoppedFor(
      "floods-lines",
      `
      for (;;) { for (let i = 0; i < 1000; i++) ctx.reading("r" + (i % 10), i, ""); await new Promise((r) => setTimeout(r, 1)); }`,
    );
    assertMatch(s.lastError ?? "", /flooded its output/);
  });
  await t.step("garbage that is not JSON", async () => {
    const s = await stoppedFor(
      "writes-garbage",
      `
      Deno.stdout.writeSync(new TextEncoder().encode("rm -rf /\\n"));
      await new Promise((r) => ctx.signal.addEventListener("abort", r));`,
    );
    assertMatch(s.lastError ?? "", /wrote a line that is not JSON/);
  });
});
