/**
 * The on-close thumbnail process (thumbnail_queue.ts starts it under `nice -n 19` and
 * `chrt --idle 0`, so every thread of it, GStreamer's included, runs only on CPU time nobody else
 * wants). Reads one job a line on stdin, `{"id","source","codec","out","width","timeoutMs"}`,
 * makes the JPEG of the file's first keyframe, writes it to `out` (via `out.tmp` and a rename)
 * and answers `{"id","bytes"}` or `{"id","error"}` on stdout. Exits when stdin closes.
 */
import { firstKeyframeJpeg } from "./thumbnails.ts";

interface Job {
  id: number;
  source: string;
  codec: string;
  out: string;
  width: number;
  timeoutMs: number;
  /** The data folder and its device when the daemon checked the disk (see ThumbnailQueue). */
  dataDir: string;
  dev: number;
}

const encoder = new TextEncoder();
const answer = (line: unknown) => Deno.stdout.write(encoder.encode(JSON.stringify(line) + "\n"));

let buffered = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffered += chunk;
  for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line.trim() === "") continue;
    const job = JSON.parse(line) as Job;
    try {
      const made = await firstKeyframeJpeg(job.source, job.codec, {
        width: job.width,
        timeoutMs: job.timeoutMs,
        name: `thumbnail-${job.id}`,
      });
      if (!made.jpeg) {
        await answer({ id: job.id, error: made.error });
        continue;
      }
      // The disk may have gone since the daemon checked it (this process runs on idle CPU, maybe
      // seconds later): never create folders on whatever is at the data folder's path now.
      const here = await Deno.stat(job.dataDir).catch(() => null);
      if (here?.dev !== job.dev) {
        await answer({ id: job.id, error: "the data disk went away; not written" });
        continue;
      }
      await Deno.mkdir(job.out.slice(0, job.out.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(`${job.out}.tmp`, made.jpeg);
      await Deno.rename(`${job.out}.tmp`, job.out);
      await answer({ id: job.id, bytes: made.jpeg.length });
    } catch (err) {
      await answer({ id: job.id, error: (err as Error).message });
    }
  }
}
