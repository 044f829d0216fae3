/** The plugin → host protocol's serial-open: line framing carried through, anything else refused. */
import { assertEquals, assertThrows } from "../testing/assert.ts";
import { parseFromPlugin, ProtocolViolation } from "./protocol.ts";

const open = (extra: Record<string, unknown>) =>
  JSON.stringify({ t: "serial-open", port: 1, path: "/dev/ttyUSB0", baudRate: 9600, ...extra });

Deno.test("serial-open: parity and stop bits pass through; 8N1 when left out", () => {
  assertEquals(parseFromPlugin(open({})), {
    t: "serial-open",
    port: 1,
    path: "/dev/ttyUSB0",
    baudRate: 9600,
  });
  assertEquals(parseFromPlugin(open({ parity: "even", stopBits: 2 })), {
    t: "serial-open",
    port: 1,
    path: "/dev/ttyUSB0",
    baudRate: 9600,
    parity: "even",
    stopBits: 2,
  });
});

Deno.test("serial-open: other parities and stop bits are protocol violations", () => {
  assertThrows(
    () => parseFromPlugin(open({ parity: "mark" })),
    ProtocolViolation,
    'serial-open.parity: expected "none", "even" or "odd"',
  );
  assertThrows(
    () => parseFromPlugin(open({ stopBits: 1.5 })),
    ProtocolViolation,
    "serial-open.stopBits: expected 1 or 2",
  );
  assertThrows(() => parseFromPlugin(open({ parity: 1 })), ProtocolViolation, "parity");
});
