import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { EncoderSmokeTests, smokeTestEncoder } from "./encoder_smoke.ts";
import { fillTemplate, loadProfile } from "./profile.ts";

Deno.test("smoke test: the common software encoders really encode with their templates", async () => {
  const profile = loadProfile("generic");
  for (const spec of [...profile.encoders.h265, ...profile.encoders.h264]) {
    const props = fillTemplate(spec.props, { kbps: 500, gop: 15 });
    const result = await smokeTestEncoder(spec.element, props, { convert: spec.convert });
    assertEquals([result.element, result.ok, result.error], [spec.element, true, null]);
    assertMatch(
      result.description,
      new RegExp(`^videotestsrc num-buffers=30 .* ! ${spec.element} `),
    );
  }
});

Deno.test("smoke test: an element that exists but cannot start fails cleanly", async () => {
  // x265 refuses an option it does not know when the encoder opens, after PLAYING was asked.
  const runtime = await smokeTestEncoder("x265enc", 'option-string="no-such-option=1"');
  assertEquals(runtime.ok, false);
  assertMatch(runtime.error ?? "", /x265enc\d*: Can not initialize x265 encoder/);

  const property = await smokeTestEncoder("x264enc", "bogus=1");
  assertEquals(property.ok, false);
  assertMatch(property.error ?? "", /no property "bogus" in element "x264enc"/);

  const absent = await smokeTestEncoder("nvv4l2h265enc", "bitrate=4000000");
  assertEquals(absent.ok, false);
  assertMatch(absent.error ?? "", /no element "nvv4l2h265enc"/);
});

Deno.test("smoke test: an encoder that swallows every frame fails", async () => {
  // Not an encoder, but shows the check: frames go in, nothing comes out.
  const result = await smokeTestEncoder("identity", "drop-probability=1.0");
  assertEquals(result.ok, false);
  assertEquals(result.error, "identity produced no output from 30 frames");
});

Deno.test("smoke test: a run that outlasts its time limit is a failure, and is stopped", async () => {
  const result = await smokeTestEncoder("x265enc", "speed-preset=ultrafast", { timeoutMs: 1 });
  assertEquals(result.ok, false);
  assertEquals(result.error, "no end of stream within 1 ms (the encoder hangs)");
});

Deno.test("smoke tests are remembered: one run per encoder and properties", async () => {
  const tests = new EncoderSmokeTests();
  const [a, b] = await Promise.all([
    tests.run("x264enc", "speed-preset=ultrafast"),
    tests.run("x264enc", "speed-preset=ultrafast"),
  ]);
  assert(a === b, "concurrent asks share one run");
  assert(a.ok);
  assert((await tests.run("x264enc", "speed-preset=ultrafast")) === a, "later asks get the result");
  const other = await tests.run("x264enc", "bogus=1");
  assert(other !== a && !other.ok, "other properties are another run");
});
