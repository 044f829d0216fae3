import { assertEquals, assertThrows } from "../runtime/testing/assert.ts";
import { clipOptions, matrixRuns, parseBenchArgs } from "./recording.ts";

Deno.test("bench flags: rate, size, GOP, audio and transport reach the source clip and recorders", () => {
  const opts = parseBenchArgs(
    ["--fps", "25", "--size", "2560x1440", "--gop", "2", "--audio", "g711", "--transport", "udp"],
  );
  assertEquals([opts.fps, opts.width, opts.height, opts.gop], [25, 2560, 1440, 2]);
  assertEquals([opts.audio, opts.transport, opts.bframes, opts.matrix], ["g711", "udp", 0, false]);
  assertEquals(clipOptions(opts), {
    width: 2560,
    height: 1440,
    fps: 25,
    bitrateKbps: 8000,
    seconds: 16,
    gopSeconds: 2,
    noise: true,
  });
  assertEquals(clipOptions(parseBenchArgs([])).bitrateKbps, 4000, "1080p: 4 Mbit/s");
});

Deno.test("bench flags: what cannot be run yet or is out of range is refused with the reason", () => {
  assertThrows(() => parseBenchArgs(["--size", "1080p"]), Error, "WIDTHxHEIGHT");
  assertThrows(() => parseBenchArgs(["--gop", "3"]), Error, "divide");
  assertThrows(() => parseBenchArgs(["--audio", "opus"]), Error, "none, g711 or aac");
  assertThrows(() => parseBenchArgs(["--bframes", "2"]), Error, "not available yet");
  assertThrows(() => parseBenchArgs(["--transport", "sctp"]), Error, "tcp, udp or tls");
  assertEquals(parseBenchArgs(["--transport", "tls"]).transport, "tls");
  assertEquals(parseBenchArgs([]).thumbnails, "on-demand", "recording against recording");
  assertEquals(
    parseBenchArgs(["--soak"]).thumbnails,
    "on-close",
    "a soak runs the daemon as shipped",
  );
  assertThrows(() => parseBenchArgs(["--thumbnails", "never"]), Error, "on-demand or on-close");
});

Deno.test("bench --matrix: the grid of issue 15, 72 configurations", () => {
  const runs = matrixRuns(parseBenchArgs(["--matrix", "--seconds", "30", "--audio", "aac"]));
  assertEquals(runs.length, 3 * 2 * 3 * 4);
  assertEquals(new Set(runs.map((r) => `${r.streams} ${r.width} ${r.fps} ${r.gop}`)).size, 72);
  assertEquals(runs.every((r) => r.audio === "aac" && !r.matrix && r.seconds === 30), true);
});

Deno.test("bench --soak: issue 15's load by default, two hours, a budget only when asked", () => {
  const soak = parseBenchArgs(["--soak"]);
  assertEquals([soak.soak, soak.minutes, soak.budgetMb], [true, 120, null]);
  assertEquals([soak.streams, soak.fps, soak.gop, soak.segment], [16, 25, 2, 10]);
  const smoke = parseBenchArgs(["--soak", "--minutes", "4", "--streams", "4", "--budget-mb=300"]);
  assertEquals([smoke.minutes, smoke.streams, smoke.budgetMb], [4, 4, 300]);
  assertEquals(parseBenchArgs(["--soak", "--minutes", "1440"]).minutes, 1440, "a day is allowed");
  const plain = parseBenchArgs([]);
  assertEquals([plain.soak, plain.streams, plain.fps, plain.gop], [false, 8, 15, 1]);
});

Deno.test("bench --soak: longer than a day, mixed modes and stray flags are refused", () => {
  assertThrows(() => parseBenchArgs(["--soak", "--minutes", "1441"]), Error, "at most 1440");
  assertThrows(() => parseBenchArgs(["--soak", "--minutes", "0"]), Error, "1..1440");
  assertThrows(() => parseBenchArgs(["--soak", "--budget-mb", "0"]), Error, "--budget-mb");
  assertThrows(() => parseBenchArgs(["--soak", "--matrix"]), Error, "only the daemon");
  assertThrows(() => parseBenchArgs(["--soak", "--reconnect"]), Error, "only the daemon");
  assertThrows(() => parseBenchArgs(["--soak", "--gst-launch"]), Error, "only the daemon");
  assertThrows(() => parseBenchArgs(["--soak", "--seconds", "60"]), Error, "--minutes");
  assertThrows(() => parseBenchArgs(["--minutes", "10"]), Error, "only to --soak");
  assertThrows(() => parseBenchArgs(["--budget-mb", "10"]), Error, "only to --soak");
});
