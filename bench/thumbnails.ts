/**
 * Cost of timeline thumbnails (playback/thumbnails.ts): a 10 s 1280×720 15 fps segment in H.264
 * and H.265 (GOP 2 s, as the demo's cameras), one JPEG of its first keyframe made N times (cache
 * emptied each time); wall time and this process's CPU time (GStreamer runs in it) per
 * thumbnail, and what a camera-hour of 10 s segments would cost if every one were made.
 * Then the on-close path (playback/thumbnail_queue.ts): ON_CLOSE segments reported closed at once
 * to the queue, made by its one worker process (`nice -n 19 chrt --idle 0`); CPU of this process
 * and of its waited-for children (the worker, from its start to its exit) per thumbnail.
 *
 *   deno run -A bench/thumbnails.ts
 */
import { Pipeline } from "../runtime/gst/mod.ts";
import { Thumbnails } from "../runtime/playback/thumbnails.ts";
import { ThumbnailQueue } from "../runtime/playback/thumbnail_queue.ts";
import { memoryLogger } from "../runtime/lib/log.ts";
import { type IndexedSegment, indexPath, SegmentIndex } from "../runtime/storage/mod.ts";

const N = 10;
const ON_CLOSE = 36;
const cpuMs = () => {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // utime + stime in 10 ms ticks
};
/** utime + stime + cutime + cstime: this process and its children that have exited. */
const cpuWithChildrenMs = () => {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
};

/** `count` segments closed at once, made by the on-close queue's worker; CPU ms per thumbnail. */
async function onClose(dir: string, path: string, codec: string, count: number) {
  const dataDir = `${dir}/onclose-${codec}-${count}`;
  await Deno.mkdir(`${dataDir}/seg`, { recursive: true });
  const index = SegmentIndex.open(indexPath(dataDir));
  const queue = new ThumbnailQueue({
    dataDir,
    index: () => index,
    enabled: () => true,
    log: memoryLogger("info"),
    maxPending: count,
  });
  try {
    for (let i = 0; i < count; i++) {
      await Deno.link(`${dir}/${path}`, `${dataDir}/seg/${i}.mp4`);
      index.add({
        camera: "bench",
        startMs: i * 10_000,
        endMs: (i + 1) * 10_000,
        bytes: 1,
        codec,
        path: `seg/${i}.mp4`,
      });
    }
    const cpu0 = cpuWithChildrenMs();
    const t = performance.now();
    queue.segmentClosed();
    const deadline = Date.now() + 600_000;
    while (queue.stats().made + queue.stats().failed < count && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const wall = performance.now() - t;
    await queue.close(); // the worker exits and is waited for: its CPU is in cutime/cstime now
    const cpu = cpuWithChildrenMs() - cpu0;
    return { cpu, wall, ...queue.stats() };
  } finally {
    index.close();
  }
}

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
    const one = await onClose(dir, path, codec, 1);
    const many = await onClose(dir, path, codec, ON_CLOSE);
    const per = (many.cpu - one.cpu) / (ON_CLOSE - 1);
    console.log(
      `${codec} on close: 1 thumbnail with the worker's start and exit ${one.cpu} ms CPU; ` +
        `${ON_CLOSE} in one run ${many.cpu} ms CPU (${many.made} made, ${many.failed} failed, ` +
        `${(many.wall / 1000).toFixed(1)} s wall), so ${per.toFixed(0)} ms a thumbnail past ` +
        `the start; a camera-hour: 10 s segments (360) ${(per * 360 / 1000).toFixed(1)} s CPU, ` +
        `60 s segments (60) ${(per * 60 / 1000).toFixed(1)} s, plus one start ` +
        `(${(one.cpu - per).toFixed(0)} ms) per idle minute`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
