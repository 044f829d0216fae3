/**
 * Cost of timeline thumbnails (playback/thumbnails.ts): a 10 s 1280×720 15 fps segment in H.264
 * and H.265 (GOP 2 s, as the demo's cameras), one JPEG of its first keyframe made N times (cache
 * emptied each time); wall time and this process's CPU time (GStreamer runs in it) per
 * thumbnail, and what a camera-hour of 10 s segments would cost if every one were made.
 *
 *   deno run -A bench/thumbnails.ts
 */
import { Pipeline } from "../runtime/gst/mod.ts";
import { Thumbnails } from "../runtime/playback/thumbnails.ts";
import type { IndexedSegment } from "../runtime/storage/mod.ts";

const N = 10;
const cpuMs = () => {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // utime + stime in 10 ms ticks
};

const dir = await Deno.makeTempDir({ prefix: "nvr-bench-thumbs-" });
try {
  for (
    const [codec, enc] of [
      ["h264", "x264enc speed-preset=ultrafast key-int-max=30 ! h264parse"],
      ["h265", "x265enc speed-preset=ultrafast key-int-max=30 ! h265parse"],
    ] as const
  ) {
    const path = `seg-${codec}.mp4`;
    await using p = Pipeline.parse(
      "videotestsrc num-buffers=150 pattern=ball ! " +
        `video/x-raw,width=1280,height=720,framerate=15/1,format=I420 ! ${enc} ! ` +
        `mp4mux fragment-duration=1000 ! filesink location=${dir}/${path}`,
      { name: `bench-${codec}` },
    );
    p.play();
    for (let i = 0; i < 600 && (await p.next(1000))?.type !== "eos"; i++);
    const bytes = (await Deno.stat(`${dir}/${path}`)).size;
    const seg: IndexedSegment = {
      id: 1,
      camera: "bench",
      startMs: 0,
      endMs: 10_000,
      bytes,
      codec,
      path,
      width: 1280,
      height: 720,
      locked: false,
    };
    const walls: number[] = [];
    let size = 0;
    const cpu0 = cpuMs();
    for (let i = 0; i < N; i++) {
      await Deno.remove(`${dir}/thumbs`, { recursive: true }).catch(() => {});
      const thumbs = new Thumbnails({ dataDir: dir });
      const t = performance.now();
      size = (await thumbs.jpeg(seg)).length;
      walls.push(performance.now() - t);
    }
    const cpu = (cpuMs() - cpu0) / N;
    walls.sort((a, b) => a - b);
    const median = walls[Math.floor(N / 2)]!;
    console.log(
      `${codec} 1280x720: median ${median.toFixed(0)} ms wall, ${cpu.toFixed(0)} ms CPU a ` +
        `thumbnail, ${size} bytes; a camera-hour (360) = ${(cpu * 360 / 1000).toFixed(1)} s CPU, ` +
        `${(size * 360 / 1e6).toFixed(1)} MB`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
