/**
 * Runs pipeline start/stop cycles in a process of its own and prints the RSS growth as JSON, so
 * that a leak test is not blurred by other tests running in parallel in the test process.
 *
 *   deno run --allow-ffi --allow-sys runtime/gst/_leak_probe.ts 1000
 */
import { Pipeline } from "./pipeline.ts";

async function cycle(): Promise<void> {
  const p = Pipeline.parse(
    "videotestsrc num-buffers=3 ! video/x-raw,width=320,height=240 ! videoconvert name=c ! " +
      "fakesink name=s",
    { name: "leak" },
  );
  p.play();
  for (let i = 0; i < 50 && (await p.next(1000))?.type !== "eos"; i++);
  // Exercise the rest of the binding too: element refs, properties, structures, caps.
  p.element("s")?.getStructure("stats");
  p.element("c")?.padCaps("src");
  p.element("s")?.get("sync");
  await p.close();
}

if (import.meta.main) {
  const cycles = Number(Deno.args[0] ?? 1000);
  for (let i = 0; i < 50; i++) await cycle(); // warm up allocator pools and plugin loading
  const before = Deno.memoryUsage().rss;
  for (let i = 0; i < cycles; i++) await cycle();
  const grownMiB = (Deno.memoryUsage().rss - before) / 2 ** 20;
  console.log(JSON.stringify({ cycles, grownMiB }));
}
