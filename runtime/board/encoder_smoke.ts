/**
 * An element can exist and still fail (the Orin Nano installs nvv4l2h265enc without an NVENC to run
 * it). The smoke test really encodes 30 small frames through our GStreamer binding before an
 * encoder is trusted.
 */
import { type BusMessage, Pipeline } from "../gst/mod.ts";

export interface SmokeResult {
  readonly element: string;
  readonly ok: boolean;
  /** What failed, in GStreamer's words (e.g. "x265enc0: Can not initialize x265 encoder."). */
  readonly error: string | null;
  readonly ms: number;
  /** The pipeline that was run. */
  readonly description: string;
}

export interface SmokeOptions {
  /** Fragment between the test frames and the encoder, e.g. "nvvidconv ! video/x-raw(memory:NVMM)". */
  readonly convert?: string;
  /** Give up after this long; default 10 000 ms. */
  readonly timeoutMs?: number;
}

const FRAMES = "videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=320,height=240";

/**
 * Runs `FRAMES ! [convert !] element props ! filesink` to EOS and checks that bytes came out (an
 * encoder that swallows frames would pass a fakesink). Never throws for the encoder's faults.
 */
export async function smokeTestEncoder(
  element: string,
  props: string,
  options: SmokeOptions = {},
): Promise<SmokeResult> {
  const output = await Deno.makeTempFile({ prefix: `smoke-${element}-` });
  try {
    return await runSmoke(element, props, options, output);
  } finally {
    await Deno.remove(output).catch(() => {});
  }
}

async function runSmoke(
  element: string,
  props: string,
  options: SmokeOptions,
  output: string,
): Promise<SmokeResult> {
  const sink = `filesink location="${output}"`;
  const parts = [FRAMES, options.convert ?? "", `${element} ${props}`.trim(), sink];
  const description = parts.filter((p) => p !== "").join(" ! ");
  const started = performance.now();
  const done = (error: string | null): SmokeResult => ({
    element,
    ok: error === null,
    error,
    ms: Math.round(performance.now() - started),
    description,
  });
  let pipeline: Pipeline;
  try {
    pipeline = Pipeline.parse(description, { name: `smoke-${element}` });
  } catch (err) {
    return done(err instanceof Error ? err.message : String(err));
  }
  try {
    pipeline.play();
    const error = await untilEnd(pipeline, options.timeoutMs ?? 10_000);
    if (error !== null) return done(error);
    const bytes = (await Deno.stat(output)).size;
    return done(bytes > 0 ? null : `${element} produced no output from 30 frames`);
  } catch (err) {
    return done(err instanceof Error ? err.message : String(err));
  } finally {
    await pipeline.close();
  }
}

/** null at EOS, else the first error, or a timeout message. */
async function untilEnd(pipeline: Pipeline, timeoutMs: number): Promise<string | null> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return `no end of stream within ${timeoutMs} ms (the encoder hangs)`;
    const msg: BusMessage | null = await pipeline.next(Math.min(left, 200));
    if (msg?.type === "eos") return null;
    if (msg?.type === "error") return `${msg.source}: ${msg.message}`;
  }
}

/**
 * Smoke tests remembered for the life of this object: the daemon keeps one for the process, so
 * each encoder (with the same properties) runs once however many cameras ask. Concurrent asks for
 * the same encoder share one run.
 */
export class EncoderSmokeTests {
  readonly #runs = new Map<string, Promise<SmokeResult>>();

  run(element: string, props: string, options: SmokeOptions = {}): Promise<SmokeResult> {
    const key = [options.convert ?? "", element, props].join(" | ");
    let run = this.#runs.get(key);
    if (!run) {
      run = smokeTestEncoder(element, props, options);
      this.#runs.set(key, run);
    }
    return run;
  }
}
