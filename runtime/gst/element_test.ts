import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { parseStructureFields, Pipeline, PropertyError } from "./mod.ts";

Deno.test("properties: read and write ints, strings, booleans, enums; unknown ones say so", async () => {
  await using p = Pipeline.parse(
    "videotestsrc name=src num-buffers=1 pattern=ball ! queue name=q max-size-buffers=7 ! fakesink name=sink",
    { name: "props" },
  );
  const q = p.element("q")!;
  assertEquals(q.get("max-size-buffers"), 7);
  q.set("max-size-buffers", 9);
  assertEquals(q.get("max-size-buffers"), 9);
  assertEquals(q.get("max-size-time"), 1_000_000_000n);
  const src = p.element("src")!;
  assertEquals(src.get("pattern"), 18); // GstVideoTestSrcPattern "ball"
  assertEquals(src.get("is-live"), false);
  src.set("is-live", true);
  assertEquals(src.get("is-live"), true);
  assertEquals(src.get("name"), "src");
  assertThrows(
    () => q.get("no-such-prop"),
    PropertyError,
    "property 'no-such-prop' does not exist",
  );
  assertEquals(p.element("nope"), null);
});

Deno.test("sink stats, pad caps and appsink samples", async () => {
  await using p = Pipeline.parse(
    "videotestsrc num-buffers=12 ! video/x-raw,width=160,height=120,framerate=12/1 ! tee name=t " +
      "t. ! queue ! fakesink name=count sync=false " +
      "t. ! queue ! jpegenc name=enc ! appsink name=out sync=false max-buffers=20",
    { name: "stats" },
  );
  p.play();
  const out = p.element("out")!;
  const first = await out.pullSample(5_000);
  assert(first, "a sample arrives");
  assertEquals([first.data[0], first.data[1]], [0xff, 0xd8]); // JPEG SOI
  assertEquals(first.pts, 0n);
  assert(first.caps?.startsWith("image/jpeg"));
  // appsink holds EOS back until its queue is drained: take the other 11 frames first.
  for (let i = 1; i < 12; i++) assert(await out.pullSample(2_000), `sample ${i}`);
  for (let i = 0; i < 100 && (await p.next(2_000))?.type !== "eos"; i++);
  const caps = p.element("enc")!.padCaps("sink");
  assertEquals([caps?.media, caps?.width, caps?.height, caps?.fps], ["video/x-raw", 160, 120, 12]);
  assertEquals(p.element("count")!.getStructure("stats").rendered, 12n);
});

Deno.test("appsrc: a buffer pushed in comes out the other end", async () => {
  await using p = Pipeline.parse(
    'appsrc name=in caps="application/x-test" format=time ! appsink name=out sync=false',
    { name: "appsrc" },
  );
  p.play();
  assert(p.element("in")!.pushBuffer(new Uint8Array([1, 2, 3])));
  p.element("in")!.endOfStream();
  const sample = await p.element("out")!.pullSample(2_000);
  assertEquals([...sample?.data ?? []], [1, 2, 3]);
});

Deno.test("structure fields parse from their serialised form", () => {
  assertEquals(
    parseStructureFields(
      'GstBaseSink, rendered=(guint64)25, dropped=(guint64)0, average-rate=(double)0.5, live=(boolean)true, n=(string)"a b";',
    ),
    { rendered: 25n, dropped: 0n, "average-rate": 0.5, live: true, n: "a b" },
  );
});
