/** Thresholds with hysteresis and the alarm rate cap, without a sensor. */
import { assertEquals, assertThrows } from "../../runtime/testing/assert.ts";
import { Alarms, type AlarmSettings } from "./alarms.ts";
import { Throttle } from "./throttle.ts";

const SETTINGS: AlarmSettings = {
  highC: 30,
  lowC: 5,
  hysteresisC: 0.5,
  highHumidity: 80,
  hysteresisHumidity: 3,
  doorAlarm: true,
};

Deno.test("alarms: a temperature hovering at the threshold raises one alarm, not one a reading", () => {
  const a = new Alarms(SETTINGS);
  assertEquals(a.reading(29.9, 50), []);
  assertEquals(a.reading(30.01, 50), [
    { sensor: "temperature", reason: "above 30 °C", value: 30.01 },
  ]);
  for (const t of [29.99, 30.02, 29.8, 30.1, 29.6, 30.3]) {
    assertEquals(a.reading(t, 50), [], `${t}`);
  }
  assertEquals(a.reading(29.5, 50), []); // back by the hysteresis: cleared
  assertEquals(a.reading(30.2, 50).length, 1); // a new excursion
  assertEquals(a.reading(4.9, 50), [{ sensor: "temperature", reason: "below 5 °C", value: 4.9 }]);
  assertEquals(a.reading(5.2, 50), []); // not back by 0.5 yet
  assertEquals(a.reading(4.8, 50), []);
});

Deno.test("alarms: humidity with its own hysteresis; the door once per opening", () => {
  const a = new Alarms(SETTINGS);
  assertEquals(a.reading(20, 81), [{ sensor: "humidity", reason: "above 80 %", value: 81 }]);
  assertEquals(a.reading(20, 78), []);
  assertEquals(a.reading(20, 81), []);
  assertEquals(a.reading(20, 77), []);
  assertEquals(a.reading(20, 80.5).length, 1);
  assertEquals(a.door(false), []);
  assertEquals(a.door(true), [{ sensor: "door", reason: "door opened", value: "open" }]);
  assertEquals(a.door(true), []); // the sensor repeats its state after every reading
  assertEquals(a.door(false), []);
  assertEquals(a.door(true).length, 1);
  assertEquals(new Alarms({ ...SETTINGS, doorAlarm: false }).door(true), []);
});

Deno.test("alarms: lowC not below highC is refused, naming both settings", () => {
  assertThrows(
    () => new Alarms({ ...SETTINGS, lowC: 30 }),
    RangeError,
    "lowC (30) must be below highC (30)",
  );
});

Deno.test("throttle: at most count in any window", () => {
  const t = new Throttle(3, 1000);
  assertEquals([0, 10, 20, 30].map((ms) => t.take(ms)), [true, true, true, false]);
  assertEquals(t.take(999), false);
  assertEquals(t.take(1000), true); // the first left the window
});
