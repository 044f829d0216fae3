/**
 * Looking at a camera's picture in tests: a JPEG decoded by GStreamer into a small grey image, and
 * how far two such images differ, so a test can tell that the picture moved (or stayed still).
 */
import { Pipeline } from "../gst/mod.ts";

export interface Grey {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export const GREY_W = 32;
export const GREY_H = 24;

/** Decodes a JPEG to GREY_W×GREY_H GRAY8. */
export async function greyOf(jpeg: Uint8Array): Promise<Grey> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-picture-" });
  try {
    const path = `${dir}/frame.jpg`;
    await Deno.writeFile(path, jpeg);
    await using p = Pipeline.parse(
      `filesrc location="${path}" ! jpegdec ! videoconvert ! videoscale ` +
        `! video/x-raw,format=GRAY8,width=${GREY_W},height=${GREY_H} ! appsink name=sink sync=false`,
      { name: "grey" },
    );
    p.play();
    const sample = await p.element("sink")!.pullSample(10_000);
    if (sample === null || sample.data.length < GREY_W * GREY_H) {
      throw new Error(`the JPEG (${jpeg.length} bytes) did not decode to a grey picture`);
    }
    return { width: GREY_W, height: GREY_H, data: sample.data.slice(0, GREY_W * GREY_H) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Mean absolute difference (0..255) of two grey pictures from row `fromRow` down (the rows above
 * hold the camera's clock, which changes every second).
 */
export function greyDiff(a: Grey, b: Grey, fromRow = 6): number {
  let sum = 0;
  let n = 0;
  for (let y = fromRow; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const i = y * a.width + x;
      sum += Math.abs((a.data[i] ?? 0) - (b.data[i] ?? 0));
      n++;
    }
  }
  return n === 0 ? 0 : sum / n;
}
