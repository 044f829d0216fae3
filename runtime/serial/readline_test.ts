// ReadlineParser on its own: lines split across writes, several lines in one write, multi-byte
// delimiters cut in half, the end flush, and a bounded buffer against a flood without delimiters.
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { LineTooLongError, ReadlineParser } from "./readline.ts";

function collect(p: ReadlineParser): string[] {
  const lines: string[] = [];
  p.on("data", (l: string) => lines.push(l));
  return lines;
}

Deno.test("lines split over writes and joined in one write come out whole", () => {
  const p = new ReadlineParser({ delimiter: "\r\n" });
  const lines = collect(p);
  p.write("$TH,1,21.5");
  p.write(",45.0*3A\r");
  assertEquals(lines, []);
  p.write("\n$TH,2,21.6,45.1*3B\r\n$TH,3");
  assertEquals(lines, ["$TH,1,21.5,45.0*3A", "$TH,2,21.6,45.1*3B"]);
  p.write(new TextEncoder().encode(",21.7\r\n\r\n"));
  assertEquals(lines.slice(2), ["$TH,3,21.7", ""]);
  p.write("tail");
  p.end();
  assertEquals(lines.at(-1), "tail", "end() flushes what is left, as serialport does");
});

Deno.test("defaults: '\\n', delimiter dropped; includeDelimiter and byte delimiters", () => {
  const a = new ReadlineParser();
  const la = collect(a);
  a.write("one\ntwo\r\n");
  assertEquals(la, ["one", "two\r"]);
  const b = new ReadlineParser({
    delimiter: [0x00, 0xff],
    includeDelimiter: true,
    encoding: "hex",
  });
  const lb = collect(b);
  b.write(Uint8Array.of(1, 2, 0x00));
  b.write(Uint8Array.of(0xff, 3, 0x00, 0x00, 0xff));
  assertEquals(lb, ["010200ff", "030000ff"]);
});

Deno.test("a UTF-8 character cut between writes is decoded whole", () => {
  const p = new ReadlineParser();
  const lines = collect(p);
  const bytes = new TextEncoder().encode("Temp 21.5 °C ✓\n");
  for (const b of bytes) p.write(Uint8Array.of(b)); // one byte at a time
  assertEquals(lines, ["Temp 21.5 °C ✓"]);
});

Deno.test("attack: serial device floods a line with no delimiter — bounded buffer", () => {
  const p = new ReadlineParser({ delimiter: "\r\n", maxLength: 1024 });
  const lines = collect(p);
  const errors: LineTooLongError[] = [];
  p.on("error", (e: LineTooLongError) => errors.push(e));
  p.write("ok 1\r\n");
  // 4 MiB of 'A' in 4 KiB chunks, no delimiter: the parser must not hold more than a line.
  const chunk = new Uint8Array(4096).fill(0x41);
  let most = 0;
  for (let i = 0; i < 1024; i++) {
    p.write(chunk);
    most = Math.max(most, p.bufferedBytes);
  }
  assert(most <= 1024 + 2, `held ${most} bytes at most`);
  p.write("AAAA\r\nok 2\r\n");
  assertEquals(lines, ["ok 1", "ok 2"], "the flood is dropped, the next line comes through");
  assertEquals(errors.length, 1, "one report per long line, not one per chunk");
  assert(errors[0] instanceof LineTooLongError);
  assertMatch(errors[0].message, /longer than 1024 bytes without a delimiter: dropped \d+ bytes/);
  assertEquals(p.droppedBytes, 4 * 1024 * 1024 + 4, "every byte of the long line counted");
  // A delimiter cut at the buffer's edge still ends the dropped line.
  const q = new ReadlineParser({ delimiter: "\r\n", maxLength: 8 });
  const lq = collect(q);
  q.write("0123456789ABCDEF\r");
  q.write("\nfine\r\n");
  assertEquals(lq, ["fine"]);
  assertEquals(q.droppedBytes, 16);
});

Deno.test("attack: serial device floods a line with no delimiter — no 'error' listener, no throw", () => {
  const p = new ReadlineParser({ maxLength: 16 });
  const lines = collect(p);
  p.write("x".repeat(10_000)); // must not throw ERR_UNHANDLED_ERROR into the port's read loop
  p.write("\nnext\n");
  assertEquals(lines, ["next"]);
  assertEquals(p.droppedBytes, 10_000);
});

Deno.test("a line of exactly maxLength is kept", () => {
  const p = new ReadlineParser({ delimiter: "\r\n", maxLength: 8 });
  const lines = collect(p);
  p.write("12345678\r\n123456789\r\nok\r\n");
  assertEquals(lines, ["12345678", "ok"]);
  assertEquals(p.droppedBytes, 9);
});
