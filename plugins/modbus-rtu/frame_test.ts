/**
 * Framing, CRC and timing against frames published in the specs and the XY-MD02's manual, the
 * register map and the alarms. Pure: no ports, no clock.
 */
import { assert, assertEquals, assertThrows } from "../../runtime/testing/assert.ts";
import { crcBitwise } from "../../hw-tests/sim/modbus_slave.ts";
import { crc16, crcOk, withCrc } from "./crc.ts";
import {
  decodeAnswer,
  encodeAnswer,
  encodeException,
  encodeRequest,
  frameLength,
  ModbusError,
  type ReadRequest,
  silenceMs,
} from "./frame.ts";
import {
  Alarms,
  parseAlarms,
  parseRegisters,
  planReads,
  PRESETS,
  SettingError,
  valueOf,
} from "./registers.ts";

const hex = (s: string) => new Uint8Array(s.trim().split(/\s+/).map((b) => parseInt(b, 16)));

Deno.test("CRC-16/MODBUS: the serial line spec's example, the catalogue check value, the sim's bitwise CRC", () => {
  // MODBUS over Serial Line V1.02 §6.2.2: frame 02 07 has CRC 0x1241, sent as 41 12.
  assertEquals(crc16(hex("02 07")), 0x1241);
  assertEquals(withCrc(hex("02 07")), hex("02 07 41 12"));
  // The CRC catalogue's check value of CRC-16/MODBUS over "123456789".
  assertEquals(crc16(new TextEncoder().encode("123456789")), 0x4b37);
  let seed = 1;
  for (let n = 0; n < 200; n++) {
    const bytes = new Uint8Array(n + 1).map(() =>
      (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24
    );
    assertEquals(crc16(bytes), crcBitwise(bytes));
  }
  assert(crcOk(hex("02 07 41 12")));
  assert(!crcOk(hex("02 07 12 41")));
});

Deno.test("function 03: the application spec's example (registers 108–110) as an RTU frame", () => {
  // Application Protocol V1.1b3 §6.3: PDU 03 00 6B 00 03, answer 03 06 02 2B 00 00 00 64.
  const r: ReadRequest = { slave: 0x11, fn: 3, address: 0x6b, count: 3 };
  assertEquals(encodeRequest(r), hex("11 03 00 6B 00 03 76 87"));
  const answer = hex("11 03 06 02 2B 00 00 00 64 C8 BA");
  assertEquals(frameLength(answer.subarray(0, 3)), answer.length);
  assertEquals([...decodeAnswer(answer, r)], [555, 0, 100]);
  assertEquals(encodeAnswer(0x11, 3, [555, 0, 100]), answer);
});

Deno.test("function 04: the XY-MD02 manual's frames (temperature, humidity, both)", () => {
  const t: ReadRequest = { slave: 1, fn: 4, address: 1, count: 1 };
  assertEquals(encodeRequest(t), hex("01 04 00 01 00 01 60 0A"));
  assertEquals([...decodeAnswer(hex("01 04 02 01 31 79 74"), t)], [0x131]); // 30.5 °C
  assertEquals(encodeRequest({ ...t, count: 2 }), hex("01 04 00 01 00 02 20 0B"));
  const [plan] = planReads(PRESETS["xy-md02"]!);
  assertEquals({ fn: plan!.fn, address: plan!.address, count: plan!.count }, {
    fn: 4,
    address: 1,
    count: 2,
  });
  const regs = decodeAnswer(encodeAnswer(1, 4, [0xff33, 0x222]), { ...t, count: 2 });
  const [temp, rh] = PRESETS["xy-md02"]!;
  assertEquals(valueOf(temp!, plan!, regs), -20.5); // the manual: 0xFF33 is −20.5 °C
  assertEquals(valueOf(rh!, plan!, regs), 54.6); // 0x222 = 546 → 54.6 %RH
});

Deno.test("exception answers: code and name; never retried as data", () => {
  const r: ReadRequest = { slave: 0x0a, fn: 4, address: 0x20, count: 1 };
  const frame = encodeException(0x0a, 4, 2);
  assertEquals(frame.length, 5);
  assertEquals(frameLength(frame), 5);
  const err = assertThrows(() => decodeAnswer(frame, r), ModbusError);
  assertEquals([err.kind, err.exceptionCode], ["exception", 2]);
  assert(err.message.includes("illegal data address"), err.message);
});

Deno.test("answers rejected: bad CRC, wrong slave, wrong function, wrong length", () => {
  const r: ReadRequest = { slave: 1, fn: 4, address: 1, count: 2 };
  const good = encodeAnswer(1, 4, [215, 452]);
  const kind = (f: Uint8Array) => assertThrows(() => decodeAnswer(f, r), ModbusError).kind;
  const damaged = good.slice();
  damaged[4]! ^= 0x01;
  assertEquals(kind(damaged), "crc");
  assertEquals(kind(good.subarray(0, 8)), "crc");
  assertEquals(kind(encodeAnswer(2, 4, [215, 452])), "wrong-slave");
  assertEquals(kind(encodeAnswer(1, 3, [215, 452])), "wrong-function");
  assertEquals(kind(encodeAnswer(1, 4, [215])), "wrong-length");
  assertEquals(kind(encodeAnswer(1, 4, [215, 452, 1])), "wrong-length");
  assertEquals(kind(withCrc(hex("01 04 04 00 D7"))), "wrong-length"); // says 4, carries 2
  assertEquals([...decodeAnswer(good, r)], [215, 452]);
});

Deno.test("requests refused before they are sent: slave, function, count, address range", () => {
  const base: ReadRequest = { slave: 1, fn: 3, address: 0, count: 1 };
  const message = (r: ReadRequest) => assertThrows(() => encodeRequest(r), RangeError).message;
  assertEquals(
    message({ ...base, count: 126 }),
    "Modbus request: count 126 is not a whole number in 1–125",
  );
  assertEquals(
    message({ ...base, count: 0 }),
    "Modbus request: count 0 is not a whole number in 1–125",
  );
  assertEquals(
    message({ ...base, slave: 0 }),
    "Modbus request: slave 0 is not a whole number in 1–247",
  );
  assertEquals(
    message({ ...base, slave: 248 }),
    "Modbus request: slave 248 is not a whole number in 1–247",
  );
  assertEquals(
    message({ ...base, fn: 6 as 3 }),
    "Modbus request: function 6 is not 3 (holding) or 4 (input)",
  );
  assertEquals(
    message({ ...base, address: 65535, count: 2 }),
    "Modbus request: registers 65535…65536 run past 65535",
  );
});

Deno.test("t3.5: 3.5 characters at the line's framing up to 19200 baud, 1.75 ms above", () => {
  const at = (baudRate: number, parity: "none" | "even", stopBits: 1 | 2 = 1) =>
    Number(silenceMs({ baudRate, parity, stopBits }).toFixed(3));
  assertEquals(at(9600, "none"), 3.646); // 10 bits a character
  assertEquals(at(9600, "even"), 4.01); // 11 bits
  assertEquals(at(9600, "none", 2), 4.01);
  assertEquals(at(19200, "even"), 2.005);
  assertEquals(at(38400, "even"), 1.75);
  assertEquals(at(115200, "none"), 1.75);
});

Deno.test("registers setting: parsed, grouped into requests, errors name the entry", () => {
  const specs = parseRegisters(
    "flow:holding:0x10:u32:0.01:m3/h; temp:input:3:s16:0.1:°C; rh:input:4; level:holding:200",
  );
  assertEquals(specs.map((s) => [s.name, s.fn, s.address, s.type, s.scale, s.unit]), [
    ["flow", 3, 16, "u32", 0.01, "m3/h"],
    ["temp", 4, 3, "s16", 0.1, "°C"],
    ["rh", 4, 4, "u16", 1, ""],
    ["level", 3, 200, "u16", 1, ""],
  ]);
  const plans = planReads(specs);
  assertEquals(plans.map((p) => [p.fn, p.address, p.count, p.specs.length]), [
    [3, 16, 2, 1],
    [3, 200, 1, 1],
    [4, 3, 2, 2],
  ]);
  const regs = Uint16Array.of(0xffff, 0xfffe);
  assertEquals(valueOf({ ...specs[0]!, type: "s32", scale: 1 }, plans[0]!, regs), -2);
  assertEquals(valueOf({ ...specs[0]!, scale: 1 }, plans[0]!, regs), 0xfffffffe);
  const err = (text: string) => assertThrows(() => parseRegisters(text), SettingError).message;
  assertEquals(
    err("t:input:1; t:input:2"),
    'setting registers, entry 2 ("t:input:2"): name t is used twice; expected ' +
      "name:input|holding:address[:u16|s16|u32|s32[:scale[:unit]]]",
  );
  assert(err("t:coil:1").includes('"coil" is not input or holding'));
  assert(err("t:input:70000").includes('address "70000" is not 0–65535'));
  assert(err("t:input:65535:u32").includes("a u32 at 65535 runs past 65535"));
  assert(err("t:input:1:f64").includes('type "f64" is not u16, s16, u32 or s32'));
  assert(err("t:input:1:u16:0").includes("scale"));
  assert(err("../x:input:1").includes("is not letters"));
});

Deno.test("a register span over 125 is split into requests of at most 125", () => {
  const specs = parseRegisters("a:holding:0; b:holding:100; c:holding:130");
  // Registers far apart are separate reads; with a wide gap allowed, still at most 125 a read.
  assertEquals(planReads(specs).map((p) => [p.address, p.count]), [[0, 1], [100, 1], [130, 1]]);
  const plans = planReads(specs, 200);
  assertEquals(plans.map((p) => [p.address, p.count]), [[0, 101], [130, 1]]);
});

Deno.test("alarms: one per excursion and rule; unknown names refused", () => {
  const alarms = new Alarms(parseAlarms("temperature>40; temperature<0", ["temperature"]));
  assertEquals(alarms.check("temperature", 41, "°C"), [
    { sensor: "temperature", reason: "above 40 °C", value: 41 },
  ]);
  assertEquals(alarms.check("temperature", 45, "°C"), []);
  assertEquals(alarms.check("temperature", 20, "°C"), []);
  assertEquals(alarms.check("temperature", -1, "°C").map((a) => a.reason), ["below 0 °C"]);
  assertEquals(alarms.check("temperature", 41, "°C").length, 1);
  assertEquals(
    assertThrows(() => parseAlarms("humidity>90", ["temperature"]), SettingError).message,
    "setting alarms: humidity is not a register being read (temperature)",
  );
  assert(
    assertThrows(() => parseAlarms("temperature=3", ["temperature"]), SettingError).message
      .includes("is not"),
  );
});
