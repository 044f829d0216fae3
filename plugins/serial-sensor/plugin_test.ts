/**
 * The serial-sensor plugin under the real plugin host (its own sandboxed process, the host's
 * runtime/serial opener) against the virtual sensor of hw-tests/sim on a socat pty pair.
 */
import { assert, assertEquals } from "../../runtime/testing/assert.ts";
import { startSerialSensor } from "../../hw-tests/sim/serial_sensor.ts";
import { formatDoorLine, formatReadingLine } from "./protocol.ts";
import { hostWith, removeTree, REPO, waitFor } from "../../runtime/plugins/plugin_fixture.ts";
import type { PluginStatus } from "../../runtime/plugins/plugin_host.ts";

const SRC = `${REPO}plugins/serial-sensor`;
type Alarm = { sensor: string; reason: string; value?: unknown };

/** A temp folder standing for /dev, the plugin host over it, the alarms it raised. */
async function setup(settings: Record<string, unknown> = {}) {
  const root = await Deno.makeTempDir({ prefix: "serial-sensor-" });
  const dev = `${root}/dev`;
  await Deno.mkdir(dev);
  const alarms: Alarm[] = [];
  const { host, status, logs } = await hostWith(root, [SRC], {
    devRoot: dev,
    onEvent: (_plugin, detail) => alarms.push(detail),
  }, { "serial-sensor": { staleSeconds: 5, ...settings } });
  const reading = (name: string) =>
    status("serial-sensor")?.readings.find((r) => r.name === name)?.value;
  return {
    dev,
    alarms,
    logs,
    host,
    status: () => status("serial-sensor") as PluginStatus,
    reading,
    async [Symbol.asyncDispose]() {
      await host.close();
      await removeTree(root);
    },
  };
}

Deno.test("serial-sensor: readings reach health; a hovering temperature raises one alarm; the door one per opening", async () => {
  await using t = await setup({ highC: 30, hysteresisC: 0.5 });
  await using sensor = await startSerialSensor({
    dir: t.dev,
    deviceName: "ttyUSB0",
    intervalMs: 100,
    drift: false,
    initial: { temperatureC: 22.25, humidity: 41.5 },
  });
  await waitFor("the first readings", () => t.reading("temperature") === 22.25);
  assertEquals(t.reading("humidity"), 41.5);
  assertEquals(t.reading("connected"), true);
  assertEquals(t.status().state, "running");

  // Hover around 30 °C, each value for a few readings: one alarm.
  for (const temperatureC of [30.2, 29.9, 30.1, 29.7, 30.3, 29.8, 30.05]) {
    sensor.setValues({ temperatureC });
    const sent = sensor.readingsSent;
    await waitFor("two readings", () => sensor.readingsSent >= sent + 2);
  }
  sensor.setValues({ temperatureC: 29.4 }); // back by the hysteresis
  await waitFor("29.4 °C read", () => t.reading("temperature") === 29.4);
  assertEquals(t.alarms, [{ sensor: "temperature", reason: "above 30 °C", value: 30.2 }]);
  sensor.setValues({ temperatureC: 31 });
  await waitFor("a second excursion's alarm", () => t.alarms.length === 2);

  await sensor.setDoor(true);
  await waitFor("door open", () => t.reading("door") === "open");
  await waitFor("the door alarm", () => t.alarms.length === 3);
  assertEquals(t.alarms[2], { sensor: "door", reason: "door opened", value: "open" });
  // The sensor repeats the state after every reading: still one alarm.
  const sent = sensor.readingsSent;
  await waitFor("five more readings", () => sensor.readingsSent >= sent + 5);
  await sensor.setDoor(false);
  await waitFor("door closed", () => t.reading("door") === "closed");
  assertEquals(t.alarms.length, 3);
  await sensor.setDoor(true);
  await waitFor("the second opening's alarm", () => t.alarms.length === 4);
  assertEquals(t.status().restarts, 0);
});

Deno.test("serial-sensor: unplugged, it says so and reads again once the sensor is back, in the same process", async () => {
  await using t = await setup();
  const first = await startSerialSensor({
    dir: t.dev,
    deviceName: "ttyUSB0",
    intervalMs: 100,
    drift: false,
    initial: { temperatureC: 20 },
  });
  try {
    await waitFor("the first sensor's reading", () => t.reading("temperature") === 20);
  } finally {
    await first.stop(); // socat gone: hang-up, and the link is removed
  }
  await waitFor("the plugin notices", () => t.reading("connected") === false);
  await using second = await startSerialSensor({
    dir: t.dev,
    deviceName: "ttyUSB0",
    intervalMs: 100,
    drift: false,
    initial: { temperatureC: 25.5 },
  });
  await waitFor(
    "the plugged-in sensor's reading",
    () => t.reading("temperature") === 25.5,
    60_000,
    () => `status ${JSON.stringify(t.status())}\nlog:\n${t.logs.slice(-30).join("\n")}`,
  );
  assertEquals(t.reading("connected"), true);
  assertEquals(t.status().state, "running");
  assertEquals(t.status().restarts, 0);
  assert(
    t.logs.some((l) => l.includes("the port was closed (unplugged?); opening it again")),
    "the unplug is logged",
  );
  assertEquals(second.running, true);
});

Deno.test("attack: a sensor floods its port with readings, door flaps and garbage — rate-limited, the plugin keeps running", async () => {
  await using t = await setup({ highC: 30, hysteresisC: 0 });
  await using sensor = await startSerialSensor({
    dir: t.dev,
    deviceName: "ttyUSB0",
    intervalMs: 60_000, // silent: the test writes everything
    drift: false,
  });
  await waitFor("the first reading", () => t.reading("temperature") === 21.5);
  // 3000 sentences in one burst (a hot/cold and open/closed flap in each pair), with binary noise
  // and over-long lines between: far beyond the host's 200 messages a second if passed on.
  let burst = "";
  for (let i = 0; i < 1500; i++) {
    burst += formatReadingLine({ seq: i, temperatureC: i % 2 ? 35 : 20, humidity: 50 });
    burst += formatDoorLine({ doorOpen: i % 2 === 0 });
    if (i % 100 === 0) burst += "\x00\xff$TH,garbage*ZZ\r\n" + "A".repeat(500) + "\n";
  }
  // Bounded: a plugin stopped for flooding would leave the burst unread in the pty for good.
  let written = false;
  sensor.sendRaw(burst).then(() => written = true, () => {});
  await waitFor("the burst read from the pty", () => written);
  await sensor.sendRaw(formatReadingLine({ seq: 9999, temperatureC: 12.34, humidity: 50 }));
  await waitFor("the reading after the flood", () => t.reading("temperature") === 12.34);
  const s = t.status();
  assertEquals([s.state, s.restarts, s.lastError], ["running", 0, null]);
  assert(t.alarms.length <= 10, `${t.alarms.length} alarms passed the cap of 10 a minute`);
  assert(t.alarms.length >= 2, "alarms up to the cap are sent");
  assert(t.logs.some((l) => l.includes("bad line(s) skipped")), "garbage is logged");
  assert(t.logs.some((l) => l.includes("alarms a minute: not all are sent")), "the cap is logged");
});

Deno.test("serial-sensor: a sensor that goes silent is opened again after staleSeconds", async () => {
  await using t = await setup({ staleSeconds: 2 });
  await using sensor = await startSerialSensor({
    dir: t.dev,
    deviceName: "ttyUSB0",
    intervalMs: 100,
    drift: false,
    initial: { temperatureC: 18 },
  });
  await waitFor("a reading", () => t.reading("temperature") === 18);
  sensor.pause();
  await waitFor("the silence noticed", () => t.reading("connected") === false);
  assert(t.logs.some((l) => l.includes("no valid sentence for 2 s; opening it again")));
  sensor.setValues({ temperatureC: 19 });
  sensor.resume();
  await waitFor("reading again", () => t.reading("temperature") === 19);
  assertEquals(t.status().restarts, 0);
});
