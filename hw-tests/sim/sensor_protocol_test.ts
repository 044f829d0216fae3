import assert from "node:assert/strict";
import {
  checksum,
  formatDoorLine,
  formatReadingLine,
  isParseError,
  LineSplitter,
  MAX_LINE_LENGTH,
  parseReadingLine,
  parseSensorLine,
} from "./sensor_protocol.ts";
import type { ParseError, Reading } from "./sensor_protocol.ts";

function expectError(line: string, code: ParseError["error"]): void {
  const r = parseReadingLine(line);
  assert.ok(isParseError(r), `expected ${code} for ${JSON.stringify(line)}, got a reading`);
  assert.equal(r.error, code, `${JSON.stringify(line)}: ${r.message}`);
  assert.equal(r.line, line);
}

Deno.test("formatReadingLine: known sentence and checksum", () => {
  assert.equal(
    formatReadingLine({ seq: 42, temperatureC: 21.37, humidity: 48.2 }),
    "$TH,42,21.37,48.2*0F\r\n",
  );
  assert.equal(checksum("TH,42,21.37,48.2"), 0x0f);
  // fixed decimals, no "-0.00"
  assert.equal(
    formatReadingLine({ seq: 0, temperatureC: -0.001, humidity: 0 }),
    "$TH,0,0.00,0.0*30\r\n",
  );
  assert.ok(
    formatReadingLine({ seq: 1, temperatureC: -39.5, humidity: 100 }).startsWith(
      "$TH,1,-39.50,100.0*",
    ),
  );
});

Deno.test("formatReadingLine rejects what the protocol can't carry", () => {
  for (
    const r of [
      { seq: -1, temperatureC: 20, humidity: 50 },
      { seq: 1.5, temperatureC: 20, humidity: 50 },
      { seq: 2 ** 32, temperatureC: 20, humidity: 50 },
      { seq: 0, temperatureC: 125.01, humidity: 50 },
      { seq: 0, temperatureC: NaN, humidity: 50 },
      { seq: 0, temperatureC: 20, humidity: -0.1 },
      { seq: 0, temperatureC: 20, humidity: Infinity },
    ]
  ) {
    assert.throws(() => formatReadingLine(r), RangeError, JSON.stringify(r));
  }
});

Deno.test("parseReadingLine round-trips formatReadingLine", () => {
  const readings: Reading[] = [
    { seq: 0, temperatureC: 21.5, humidity: 45 },
    { seq: 4294967295, temperatureC: -40, humidity: 0 },
    { seq: 17, temperatureC: 125, humidity: 100 },
    { seq: 99, temperatureC: -3.25, humidity: 12.3 },
  ];
  for (const r of readings) {
    const line = formatReadingLine(r);
    assert.ok(line.length <= MAX_LINE_LENGTH);
    assert.deepEqual(parseReadingLine(line), r);
    assert.deepEqual(parseReadingLine(line.slice(0, -2)), r, "without terminator");
    assert.deepEqual(parseReadingLine(line.slice(0, -2) + "\n"), r, "bare LF");
  }
  // lower-case checksum digits are accepted
  assert.deepEqual(parseReadingLine("$TH,42,21.37,48.2*0f"), {
    seq: 42,
    temperatureC: 21.37,
    humidity: 48.2,
  });
});

Deno.test("parseReadingLine classifies garbage", () => {
  const good = "$TH,42,21.37,48.2*0F";
  const sign = (body: string) =>
    `$${body}*${checksum(body).toString(16).toUpperCase().padStart(2, "0")}`;
  expectError("", "empty");
  expectError("\r\n", "empty");
  expectError("$TH," + "1".repeat(100) + "*00\r\n", "too-long");
  expectError("hello world\r\n", "no-start");
  expectError("x" + good, "no-start");
  expectError("\x00\xff\x80\r\n", "non-ascii");
  expectError("$TH,1,2\u00b03,4*00", "non-ascii");
  expectError(good + "\r", "bad-terminator");
  expectError("$TH,1\r,2,3*00", "bad-terminator");
  expectError("$TH,42,21.37,48.2", "no-checksum");
  expectError("$TH,42,21.37,48.2*", "bad-checksum-format");
  expectError("$TH,42,21.37,48.2*0", "bad-checksum-format");
  expectError("$TH,42,21.37,48.2*0FF", "bad-checksum-format");
  expectError("$TH,42,21.37,48.2*G0", "bad-checksum-format");
  expectError("$TH,42,21.37,48.2*0E", "checksum-mismatch");
  expectError("$TH,43,21.37,48.2*0F", "checksum-mismatch");
  expectError(sign("XX,1,2,3"), "unknown-sentence");
  expectError(sign("TH,1,2"), "field-count");
  expectError(sign("TH,1,2,3,4"), "field-count");
  expectError(sign("TH,-1,2,3"), "bad-seq");
  expectError(sign("TH,01,2,3"), "bad-seq");
  expectError(sign("TH,4294967296,2,3"), "bad-seq");
  expectError(sign("TH,,2,3"), "bad-seq");
  expectError(sign("TH,1,abc,3"), "bad-temperature");
  expectError(sign("TH,1,1e2,3"), "bad-temperature");
  expectError(sign("TH,1,-41,3"), "bad-temperature");
  expectError(sign("TH,1,,3"), "bad-temperature");
  expectError(sign("TH,1,2,100.1"), "bad-humidity");
  expectError(sign("TH,1,2,-0.5"), "bad-humidity");
  expectError(sign("TH,1,2,x"), "bad-humidity");
  // a partial line glued to the next sentence is not a reading
  assert.ok(isParseError(parseReadingLine("$TH,12,2" + good)));
});

Deno.test("LineSplitter splits chunks, keeps CR, cuts over-long lines", () => {
  const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const sp = new LineSplitter(100);
  assert.deepEqual(sp.push(enc("$TH,1")), []);
  assert.equal(sp.pending, "$TH,1");
  assert.deepEqual(sp.push(enc(",2,3*00\r\nab")), ["$TH,1,2,3*00\r\n"]);
  assert.deepEqual(sp.push(enc("c\n\n")), ["abc\n", "\n"]);
  // binary bytes map 1:1 to chars
  assert.deepEqual(sp.push(Uint8Array.of(0x00, 0xff, 0x0a)), ["\x00\xff\n"]);
  // over-long: cut to 100 chars, the rest of that line is dropped
  const long = sp.push(enc("y".repeat(250)));
  assert.deepEqual(long, []);
  assert.ok(sp.overflowing);
  const out = sp.push(enc("zz\r\nnext\n"));
  assert.equal(out.length, 2);
  assert.equal(out[0], "y".repeat(100));
  assert.equal(out[1], "next\n");
  assert.ok(!sp.overflowing);
  expectError(out[0]!, "too-long");
  assert.throws(() => new LineSplitter(MAX_LINE_LENGTH), RangeError);
});

Deno.test("door sentence: formatted, parsed, and refused when malformed", () => {
  assert.equal(formatDoorLine({ doorOpen: true }), "$DC,1*1A\r\n");
  assert.equal(formatDoorLine({ doorOpen: false }), "$DC,0*1B\r\n");
  assert.deepEqual(parseSensorLine("$DC,1*1A\r\n"), { doorOpen: true });
  assert.deepEqual(parseSensorLine("$DC,0*1b\n"), { doorOpen: false });
  assert.deepEqual(
    parseSensorLine(formatReadingLine({ seq: 7, temperatureC: 20.5, humidity: 40 })),
    { seq: 7, temperatureC: 20.5, humidity: 40 },
  );
  const sign = (body: string) => `$${body}*${checksum(body).toString(16).padStart(2, "0")}\r\n`;
  const bad = (line: string, code: ParseError["error"]) => {
    const r = parseSensorLine(line);
    assert.ok(isParseError(r), line);
    assert.equal(r.error, code, line);
  };
  bad(sign("DC,2"), "bad-door");
  bad(sign("DC,1,1"), "field-count");
  bad("$DC,1*1B\r\n", "checksum-mismatch");
  bad(sign("XX,1"), "unknown-sentence");
  // The reading-only parser does not take a door sentence for a reading.
  expectError("$DC,1*1A\r\n", "unknown-sentence");
});
