/**
 * The host's default serial opener is runtime/serial over FFI: bytes from the virtual sensor
 * (hw-tests/sim, a socat pty pair) reach a real plugin process and its writes reach the sensor.
 */
import { assertEquals } from "../testing/assert.ts";
import { startSerialSensor } from "../../hw-tests/sim/serial_sensor.ts";
import { hostWith, pluginCode, removeTree, waitFor, writePlugin } from "./plugin_fixture.ts";

Deno.test("serial: the default opener (runtime/serial) relays a socat pty to a plugin process and back", async () => {
  await using sensor = await startSerialSensor({ intervalMs: 200, drift: false });
  const root = await Deno.makeTempDir({ prefix: "plugin-serial-" });
  const src = await writePlugin(
    root,
    { id: "relay", name: "r", version: "1", permissions: { devices: ["/dev/device"] } },
    pluginCode(`
      const port = await ctx.serial("/dev/device", { baudRate: 115200 });
      let text = "";
      while (!/\\$TH,[^\\n]*\\n/.test(text)) {
        const b = await port.read();
        if (!b) break;
        text += new TextDecoder().decode(b);
      }
      ctx.reading("line", /\\$TH,[^\\r\\n]*/.exec(text)?.[0] ?? "", "");
      await port.write(new TextEncoder().encode("PING\\n"));
      await new Promise((r) => ctx.signal.addEventListener("abort", r));
      port.close();`),
  );
  // No `serial` option: the host's own opener, with /dev mapped to the sensor's folder.
  const { host, status } = await hostWith(root, [src], { devRoot: sensor.dir });
  try {
    const line = await waitFor("a relayed reading", () => {
      const r = status("relay")?.readings.find((r) => r.name === "line");
      return r ? String(r.value) : null;
    });
    assertEquals(/^\$TH,\d+,21\.50,45\.0\*[0-9A-F]{2}$/.test(line), true, line);
    await waitFor(
      "the plugin's write at the sensor",
      () => new TextDecoder().decode(sensor.received()).includes("PING\n"),
    );
  } finally {
    await host.close();
    await removeTree(root);
  }
});
