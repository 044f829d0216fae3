/**
 * The modbus-rtu plugin in its own sandboxed process under the real plugin host, its one serial
 * port opened by the host (runtime/serial over FFI) on the virtual slave's socat pty: the XY-MD02
 * preset, custom registers at 19200 8E1, alarms, bad settings, the slave unplugged mid-poll and
 * plugged in again, and a slave that floods the line with garbage.
 */
import { assert, assertEquals, assertMatch } from "../../runtime/testing/assert.ts";
import { hostWith, removeTree, REPO, waitFor } from "../../runtime/plugins/plugin_fixture.ts";
import type { PluginHost, PluginStatus } from "../../runtime/plugins/plugin_host.ts";
import { type ModbusSlaveOptions, startModbusSlave } from "../../hw-tests/sim/modbus_slave.ts";

const SRC = `${REPO}plugins/modbus-rtu`;
const ID = "modbus-rtu";

interface Run {
  host: PluginHost;
  status: () => PluginStatus | undefined;
  events: { sensor: string; reason: string; value?: unknown }[];
  logs: string[];
  value: (name: string) => unknown;
}

async function withPlugin(
  slaveOptions: ModbusSlaveOptions,
  settings: Record<string, unknown>,
  body: (run: Run, slave: Awaited<ReturnType<typeof startModbusSlave>>) => Promise<void>,
): Promise<void> {
  await using slave = await startModbusSlave(slaveOptions);
  const root = await Deno.makeTempDir({ prefix: "plugin-modbus-" });
  const events: Run["events"] = [];
  const { host, status, logs } = await hostWith(root, [SRC], {
    devRoot: slave.dir,
    onEvent: (_plugin, detail) => events.push(detail),
  }, { [ID]: settings });
  try {
    await body({
      host,
      status: () => status(ID),
      events,
      logs,
      value: (name) => status(ID)?.readings.find((r) => r.name === name)?.value,
    }, slave);
  } finally {
    await host.close();
    await removeTree(root);
  }
}

Deno.test("modbus-rtu: the XY-MD02 preset at 9600 8N1 — readings in health, one sensor-alarm per excursion", async () => {
  await withPlugin(
    { input: { 1: 0x131, 2: 546 } },
    { intervalSeconds: 1, alarms: "temperature>40; humidity<20" },
    async (run, slave) => {
      // The link reading follows the poll's values: wait for both (a first poll that timed out
      // on a loaded machine leaves link at "timeout" until the next one answers).
      await waitFor(
        "the first readings",
        () => run.value("temperature") === 30.5 && run.value("link") === "ok",
      );
      const s = run.status()!;
      assertEquals(s.state, "running");
      assertEquals(
        s.readings.map((r) => [r.name, r.value, r.unit]).sort(),
        [["humidity", 54.6, "%RH"], ["link", "ok", ""], ["temperature", 30.5, "°C"]],
      );
      // The manual's one request for both: 01 04 00 01 00 02 20 0B.
      assertEquals(
        [...slave.requests()[0]!.frame],
        [0x01, 0x04, 0x00, 0x01, 0x00, 0x02, 0x20, 0x0b],
      );
      slave.setInput(1, 0xff33); // −20.5 °C
      await waitFor("a negative temperature", () => run.value("temperature") === -20.5);
      slave.setInput(1, 412);
      await waitFor("the alarm", () => run.events.length === 1);
      assertEquals(run.events[0], { sensor: "temperature", reason: "above 40 °C", value: 41.2 });
      slave.setInput(2, 150);
      await waitFor("the humidity alarm", () => run.events.length === 2);
      assertEquals(run.events[1], { sensor: "humidity", reason: "below 20 %RH", value: 15 });
      // Still above 40 and below 20 at the next polls: no more alarms.
      const polls = slave.requests().length;
      await waitFor("two more polls", () => slave.requests().length >= polls + 2);
      assertEquals(run.events.length, 2);
    },
  );
});

Deno.test("modbus-rtu: custom holding and input registers at 19200 8E1, scaled, grouped into reads", async () => {
  await withPlugin(
    {
      baudRate: 19200,
      parity: "even",
      holding: { 16: 0x0001, 17: 0x86a0, 200: 7 },
      input: { 3: 0xfffe },
    },
    {
      baudRate: 19200,
      parity: "even",
      intervalSeconds: 1,
      preset: "",
      registers: "energy:holding:0x10:u32:0.01:kWh; level:holding:200; delta:input:3:s16:0.5",
    },
    async (run, slave) => {
      await waitFor("the readings", () => run.value("delta") !== undefined);
      assertEquals(run.value("energy"), 1000); // 0x186A0 = 100000 × 0.01
      assertEquals(run.value("level"), 7);
      assertEquals(run.value("delta"), -1);
      const frames = slave.requests().slice(0, 3).map((r) => [...r.frame.subarray(1, 6)]);
      assertEquals(frames, [[3, 0, 16, 0, 2], [3, 0, 200, 0, 1], [4, 0, 3, 0, 1]]);
    },
  );
});

Deno.test("modbus-rtu: bad settings stop the plugin with the setting named", async () => {
  await withPlugin({}, { preset: "", registers: "t:coil:1" }, async (run, slave) => {
    // start() throws: the host says why and tries again later (60 s in these tests).
    await waitFor("the failure", () => run.status()?.state === "retrying");
    assertMatch(
      run.status()!.lastError ?? "",
      /failed: SettingError: setting registers, entry 1 \("t:coil:1"\): "coil" is not input or holding/,
    );
    assertEquals(slave.requests().length, 0);
  });
});

Deno.test("modbus-rtu: the slave unplugged mid-poll — a link alarm, then readings again once it is back", async () => {
  await withPlugin(
    { input: { 1: 215, 2: 452 } },
    { intervalSeconds: 1, timeoutMs: 300, retries: 1 },
    async (run, slave) => {
      await waitFor("the first readings", () => run.value("temperature") === 21.5);
      // Unplugged while a request waits for its answer.
      slave.setMode("silent");
      const asked = slave.requests().length;
      await waitFor("a request that will not be answered", () => slave.requests().length > asked);
      await slave.unplug();
      await waitFor("the link alarm", () => run.events.some((e) => e.sensor === "link"));
      assert(
        ["unplugged", "timeout"].includes(String(run.value("link"))),
        String(run.value("link")),
      );
      assertEquals(run.status()?.state, "running", "the plugin lives on without its device");
      slave.setMode("normal");
      slave.setInput(1, 230);
      await slave.replug();
      await waitFor(
        "readings again",
        () => run.value("temperature") === 23,
        60_000,
        () =>
          `status ${JSON.stringify(run.status())}\nslave requests ${slave.requests().length}` +
          `\nlog:\n${run.logs.slice(-30).join("\n")}`,
      );
      await waitFor("the link fine again", () => run.value("link") === "ok");
      assert(run.logs.some((l) => l.includes("answers again")), run.logs.join("\n"));
      assertEquals(run.status()?.restarts, 0);
    },
  );
});

Deno.test("attack: modbus slave floods garbage — bounded buffer, plugin keeps polling", async () => {
  await withPlugin(
    { input: { 1: 215, 2: 452 } },
    { intervalSeconds: 1, timeoutMs: 300, retries: 1 },
    async (run, slave) => {
      await waitFor("the first readings", () => run.value("temperature") === 21.5);
      // 1 MiB at once (a pty is faster than any wire), then 300 random bytes in place of every
      // answer (more than any frame), with garbage at the line's rate in between.
      await slave.sendRaw(new Uint8Array(1 << 20).map((_, i) => (i * 131 + 7) & 0xff));
      slave.setMode("garbage");
      const flood = slave.flood(60_000);
      await waitFor("the link alarm", () => run.events.some((e) => e.sensor === "link"));
      assert(run.value("link") !== "ok", String(run.value("link")));
      assert(run.value("temperature") === 21.5, "no value was made up from garbage");
      slave.setMode("normal");
      await slave.stopFlood();
      await flood;
      slave.setInput(1, 250);
      await waitFor("readings after the flood", () => run.value("temperature") === 25, 60_000);
      const s = run.status()!;
      assertEquals([s.state, s.restarts], ["running", 0]);
      // Whatever the garbage did to each poll, the log says so once per kind of trouble, not
      // once per byte or frame.
      const said = run.logs.filter((l) => l.includes("plugin: "));
      assert(said.length < 50, said.join("\n"));
    },
  );
});
