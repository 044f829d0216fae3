/**
 * The host with real plugin processes: the w1-temperature plugin on a fixture tree, settings,
 * disable and remove, a crash restarted, a serial port relayed from a socat pty.
 */
import { assertEquals, assertMatch } from "../testing/assert.ts";
import { hostWith, pluginCode, removeTree, REPO, waitFor, writePlugin } from "./plugin_fixture.ts";
import { w1Tree } from "../../plugins/w1-temperature/w1_fixture.ts";
import { removePlugin } from "./install.ts";
import type { SerialOpener } from "./serial_relay.ts";

const W1 = `${REPO}plugins/w1-temperature`;
const SLAVE = (milli: number) =>
  `72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=${milli}\n`;

Deno.test("w1-temperature: readings in health, a sensor-alarm above the threshold, disable and remove", async () => {
  const sys = await w1Tree({
    "28-0000075b1c2a": { w1_slave: SLAVE(23125) },
    "28-00000a1b2c3d": { temperature: "71000\n" },
  });
  const root = await Deno.makeTempDir({ prefix: "plugin-host-" });
  const events: unknown[] = [];
  const { host, dir, status } = await hostWith(root, [W1], {
    sysRoot: sys,
    onEvent: (plugin, detail) => events.push({ plugin, ...detail }),
  }, { "w1-temperature": { intervalSeconds: 1, highC: 50 } });
  try {
    const s = await waitFor("two readings", () => {
      const s = status("w1-temperature");
      return s && s.readings.length === 2 ? s : null;
    });
    assertEquals(s.state, "running");
    assertEquals(
      s.readings.map((r) => [r.name, r.value, r.unit]).sort(),
      [["28-0000075b1c2a", 23.125, "°C"], ["28-00000a1b2c3d", 71, "°C"]],
    );
    await waitFor("the alarm", () => events.length > 0);
    assertEquals(events[0], {
      plugin: "w1-temperature",
      sensor: "28-00000a1b2c3d",
      reason: "above 50 °C",
      value: 71,
    });
    // The sensor cools down and heats up again: a second alarm, and only one.
    await Deno.writeTextFile(
      `${sys}/devices/w1_bus_master1/28-00000a1b2c3d/temperature`,
      "20000\n",
    );
    await waitFor(
      "the cooler reading",
      () => status("w1-temperature")?.readings.some((r) => r.value === 20),
    );
    await Deno.writeTextFile(
      `${sys}/devices/w1_bus_master1/28-00000a1b2c3d/temperature`,
      "52000\n",
    );
    await waitFor("the second alarm", () => events.length === 2);

    await host.apply({ "w1-temperature": { enabled: false, settings: {} } });
    assertEquals(status("w1-temperature")?.state, "disabled");
    await host.apply({ "w1-temperature": { enabled: true, settings: { highC: 500 } } });
    assertEquals(status("w1-temperature")?.state, "failed");
    assertMatch(status("w1-temperature")?.lastError ?? "", /setting highC: 500 is above 125/);
    await removePlugin("w1-temperature", dir);
    await host.apply({});
    assertEquals(host.statuses(), []);
  } finally {
    await host.close();
    await removeTree(root);
    await Deno.remove(sys, { recursive: true });
  }
});

Deno.test("a plugin that crashes is started again after the pause, alone", async () => {
  const root = await Deno.makeTempDir({ prefix: "plugin-host-" });
  const src = await writePlugin(
    root,
    { id: "crashes", name: "c", version: "1" },
    pluginCode(`ctx.reading("up", Date.now(), "ms"); throw new Error("sensor on fire");`),
  );
  const { host, status } = await hostWith(root, [src], { restartMs: [200, 60_000] });
  try {
    const s = await waitFor(
      "two crashes",
      () => (status("crashes")?.restarts ?? 0) >= 2 && status("crashes"),
    );
    assertMatch(s.lastError ?? "", /failed: Error: sensor on fire; starting it again in 60 s/);
    assertEquals(s.state, "retrying");
  } finally {
    await host.close();
    await removeTree(root);
  }
});

Deno.test("serial: the host opens the port the manifest lists and relays both ways; others refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plugin-pty-" });
  const socat = new Deno.Command("socat", {
    args: [`pty,raw,echo=0,link=${dir}/device`, `pty,raw,echo=0,link=${dir}/sensor`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const root = await Deno.makeTempDir({ prefix: "plugin-host-" });
  try {
    await waitFor("socat's links", () => {
      try {
        Deno.statSync(`${dir}/device`), Deno.statSync(`${dir}/sensor`);
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    // Plain Deno.open stands in for runtime/serial's openSerial (no termios: a pty needs none).
    const opened: string[] = [];
    const written: string[] = [];
    const opener: SerialOpener = async (path) => {
      opened.push(path);
      const real = path.replace("/dev/ttyNVR0", `${dir}/device`);
      const file = await Deno.open(real, { read: true, write: true });
      let closed = false;
      return {
        async read() {
          if (closed) return null;
          const buf = new Uint8Array(1024);
          const n = await file.read(buf).catch(() => null);
          return n === null ? null : buf.subarray(0, n);
        },
        write: (bytes: Uint8Array) => {
          written.push(new TextDecoder().decode(bytes));
          return file.write(bytes);
        },
        close() {
          if (!closed) closed = true, file.close();
        },
      };
    };
    const src = await writePlugin(
      root,
      { id: "serial", name: "s", version: "1", permissions: { devices: ["/dev/ttyNVR0"] } },
      pluginCode(`
        try { await ctx.serial("/dev/ttyS0"); } catch (e) { ctx.reading("other", (e as Error).message, ""); }
        const port = await ctx.serial("/dev/ttyNVR0", { baudRate: 9600 });
        let text = "";
        while (!text.includes("\\n")) { const b = await port.read(); if (!b) break; text += new TextDecoder().decode(b); }
        ctx.reading("line", text.trim(), "");
        await port.write(new TextEncoder().encode("PING\\n"));
        await new Promise((r) => ctx.signal.addEventListener("abort", r));
        port.close();`),
    );
    // What the sensor sends before anyone opens the device end waits in the pty pair.
    const sensor = await Deno.open(`${dir}/sensor`, { read: false, write: true });
    await sensor.write(new TextEncoder().encode("T=21.5\n"));
    const { host, status } = await hostWith(root, [src], { serial: opener });
    try {
      const s = await waitFor("the relayed line", () => {
        const s = status("serial");
        return s?.readings.some((r) => r.name === "line") ? s : null;
      });
      const values = Object.fromEntries(s.readings.map((r) => [r.name, r.value]));
      assertEquals(values.line, "T=21.5");
      assertEquals(values.other, "/dev/ttyS0 is not in the manifest's permissions.devices");
      assertEquals(opened, ["/dev/ttyNVR0"]);
      await waitFor("the plugin's write", () => written.join("") === "PING\n");
    } finally {
      await host.close();
      sensor.close();
    }
  } finally {
    socat.kill("SIGTERM");
    await socat.status;
    await removeTree(root);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a plugin stopped while it is being started stops: close() returns, no process left", async () => {
  // The stop landed before the abort listener existed: the plugin ran on and close() waited
  // forever (a daemon stopping right after enabling a plugin hung).
  const root = await Deno.makeTempDir({ prefix: "plugin-host-" });
  const src = await writePlugin(
    root,
    { id: "waits", name: "w", version: "1" },
    pluginCode(`await new Promise((r) => ctx.signal.addEventListener("abort", r));`),
  );
  try {
    for (let round = 0; round < 5; round++) {
      const { host, status } = await hostWith(root, [src]);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<string>((r) => {
        timer = setTimeout(() => r("still open after 30 s"), 30_000);
      });
      const outcome = await Promise.race([host.close().then(() => "closed"), late]);
      clearTimeout(timer);
      assertEquals(outcome, "closed", `round ${round}`);
      assertEquals(status("waits")?.state, "stopped");
      await removeTree(`${root}/plugins`);
    }
  } finally {
    await removeTree(root);
  }
});

Deno.test("a plugin slow to load (a loaded board) is given startMs for its first line, not hangMs; one that never speaks is killed then", async () => {
  const root = await Deno.makeTempDir({ prefix: "plugin-host-" });
  // Module loading stood in for by a top-level wait before the plugin is defined: no line, not
  // even the SDK's heartbeat, comes out of the process until it ends.
  const slowMain = (ms: number) =>
    `await new Promise((r) => setTimeout(r, ${ms}));\n${
      pluginCode(`ctx.reading("up", true, "");
await new Promise((r) => ctx.signal.addEventListener("abort", r));`)
    }`;
  const slow = await writePlugin(root, { id: "slow", name: "s", version: "1" }, slowMain(8_000));
  const mute = await writePlugin(root, { id: "mute", name: "m", version: "1" }, slowMain(600_000));
  const { host, status } = await hostWith(root, [slow, mute], {
    // hangMs well above the SDK's 1 s heartbeat (a loaded machine delays it), well below the
    // slow plugin's 8 s of loading.
    limits: { hangMs: 4_000, startMs: 20_000 },
  });
  try {
    await waitFor("slow's first reading", () => status("slow")?.readings.length === 1);
    assertEquals(status("slow")?.restarts, 0, "not killed at the 4 s hang limit while loading");
    const s = await waitFor("mute to be stopped", () => {
      const s = status("mute");
      return s?.state === "retrying" ? s : null;
    });
    assertMatch(s.lastError ?? "", /did not start within 20 s \(no line from it\) and was killed/);
    assertEquals(status("slow")?.state, "running");
  } finally {
    await host.close();
    await removeTree(root);
  }
});
