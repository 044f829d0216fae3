/**
 * Real recorded segments for export tests: GStreamer encodes a test pattern to H.265 and cuts it
 * into 1 s fragmented-MP4 segments the way the recorder's splitmuxsink does; they are indexed in
 * a real SQLite index. `sizes` lists each run's picture size (a camera that came back at another
 * resolution is two runs).
 */
import { Pipeline } from "../gst/mod.ts";
import { SegmentIndex } from "../storage/mod.ts";

export const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

export async function recordedSegments(
  dir: string,
  runs: readonly { width: number; height: number; seconds: number }[],
  camera = "cam1",
): Promise<SegmentIndex> {
  const index = SegmentIndex.open(`${dir}/index.sqlite`);
  let n = 0;
  for (const [r, run] of runs.entries()) {
    const rel = `recordings/${camera}/run${r}`;
    await Deno.mkdir(`${dir}/${rel}`, { recursive: true });
    await using p = Pipeline.parse(
      `videotestsrc num-buffers=${run.seconds * 15} ! ` +
        `video/x-raw,width=${run.width},height=${run.height},framerate=15/1,format=I420 ! ` +
        "x265enc speed-preset=ultrafast key-int-max=15 ! h265parse ! " +
        `splitmuxsink location=${dir}/${rel}/s%02d.mp4 max-size-time=1100000000 ` +
        'async-finalize=true muxer-factory=mp4mux muxer-properties="properties,fragment-duration=(uint)500"',
      { name: `fixture-${r}` },
    );
    p.play();
    for (let i = 0; i < 200 && (await p.next(1000))?.type !== "eos"; i++);
    for (let i = 0; i < run.seconds; i++, n++) {
      const path = `${rel}/s${String(i).padStart(2, "0")}.mp4`;
      index.add({
        camera,
        startMs: T0 + n * 1000,
        endMs: T0 + (n + 1) * 1000,
        bytes: (await Deno.stat(`${dir}/${path}`)).size,
        codec: "h265",
        path,
        width: run.width,
        height: run.height,
      });
    }
  }
  return index;
}

/**
 * Decodes every frame; the decoder's complaints (empty when every frame decodes). The null
 * muxer's "non monotonically increasing dts" lines are left out: the concat demuxer nudges the
 * first dts of each joined segment by one tick (segments start with a negative dts, B-frames),
 * which players ignore; the old streaming export had the same.
 */
export async function decodeErrors(path: string): Promise<string> {
  const out = await new Deno.Command("ffmpeg", {
    args: ["-nostdin", "-v", "error", "-i", path, "-f", "null", "-"],
    stdout: "null",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr).split("\n")
    .filter((l) => !/^\[null @ \S+\] Application provided invalid, non monotonically/.test(l))
    .join("\n").trim();
  return out.success ? err : err || `ffmpeg exited with ${out.code}`;
}
