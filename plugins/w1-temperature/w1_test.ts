/** The w1 parsing and thresholds, on fixture trees laid out like the kernel's. */
import { assertEquals } from "../../runtime/testing/assert.ts";
import { w1Tree } from "./w1_fixture.ts";
import { parseTemperature, parseW1Slave, readSensors, Thresholds } from "./w1.ts";

const GOOD = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n";
const BAD_CRC = "72 01 4b 46 7f ff 0e 10 57 : crc=57 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n";
const NEGATIVE = "5e ff 4b 46 7f ff 02 10 2d : crc=2d YES\n5e ff 4b 46 7f ff 02 10 2d t=-10125\n";

Deno.test("w1_slave: the t= value when the CRC line says YES; refused otherwise", () => {
  assertEquals(parseW1Slave(GOOD), { celsius: 23.125 });
  assertEquals(parseW1Slave(NEGATIVE), { celsius: -10.125 });
  assertEquals(parseW1Slave(BAD_CRC), { error: 'CRC check failed ("crc=57 NO")' });
  assertEquals(parseW1Slave(""), { error: 'CRC check failed ("")' });
  assertEquals(
    parseW1Slave(GOOD.replace("t=23125", "t=85000")),
    { error: "85 °C power-on value (no conversion yet)" },
  );
  assertEquals(parseTemperature("23125\n"), { celsius: 23.125 });
  assertEquals(parseTemperature("junk"), { error: 'not a number: "junk"' });
  assertEquals(parseTemperature("200000"), { error: "200 °C is out of range" });
});

Deno.test("readSensors: every 28-* device, the newer temperature file first, others skipped", async () => {
  const root = await w1Tree({
    "28-0000075b1c2a": { w1_slave: GOOD },
    "28-00000a1b2c3d": { temperature: "-5500\n", w1_slave: BAD_CRC },
    "28-00000fffffff": { w1_slave: BAD_CRC },
    "10-000802b4c1d2": { w1_slave: GOOD }, // a DS18S20: another family, not read
  });
  try {
    assertEquals(await readSensors(root), [
      { id: "28-0000075b1c2a", celsius: 23.125 },
      { id: "28-00000a1b2c3d", celsius: -5.5 },
      { id: "28-00000fffffff", error: 'CRC check failed ("crc=57 NO")' },
    ]);
    assertEquals(await readSensors(`${root}/missing`), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("thresholds: one alarm per excursion", () => {
  const t = new Thresholds(30, 0);
  assertEquals(t.check("a", 20), null);
  assertEquals(t.check("a", 31), { sensor: "a", reason: "above 30 °C", value: 31 });
  assertEquals(t.check("a", 35), null);
  assertEquals(t.check("a", 25), null);
  assertEquals(t.check("a", -1), { sensor: "a", reason: "below 0 °C", value: -1 });
  assertEquals(t.check("b", 40), { sensor: "b", reason: "above 30 °C", value: 40 });
});
