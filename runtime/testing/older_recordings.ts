/**
 * Recordings on an earlier day, so that a test need not wait days: copies of a camera's real
 * segments (recorded by the daemon under test moments ago) filed under earlier times in the data
 * folder and the daemon's index, as the recorder would have filed them (storage/layout.ts), with
 * the gaps between runs indexed as the supervisor indexes an outage. The playlist retimes each
 * media part to its place in its run, so copies of the same few files play as one run.
 */
import { type SegmentIndex, segmentRelativePath } from "../storage/mod.ts";

export interface OlderRun {
  /** Wall-clock start of the run's first segment. */
  readonly startMs: number;
  /** How many segments; the camera's recorded segments are copied in turn. */
  readonly segments: number;
}

export interface SeededRun {
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * Files `runs` (oldest first, not overlapping) for `camera` under `dataDir` and in `index`, and a
 * gap with `reason` between each two runs. Throws when the camera has no segment to copy yet.
 */
export async function seedOlderRuns(
  dataDir: string,
  index: SegmentIndex,
  camera: string,
  runs: readonly OlderRun[],
  reason = "camera-unreachable",
): Promise<SeededRun[]> {
  // The first recorded segment may be short (it starts at the first keyframe): whole ones only.
  const sources = index.range(camera, 0, Number.MAX_SAFE_INTEGER).slice(1);
  if (sources.length === 0) {
    throw new Error(
      `camera ${camera} has fewer than 2 segments to copy; wait for more first`,
    );
  }
  const seeded: SeededRun[] = [];
  let n = 0;
  for (const run of runs) {
    let at = run.startMs;
    for (let i = 0; i < run.segments; i++, n++) {
      const source = sources[n % sources.length]!;
      const path = segmentRelativePath(camera, at);
      const dir = `${dataDir}/${path.slice(0, path.lastIndexOf("/"))}`;
      await Deno.mkdir(dir, { recursive: true });
      await Deno.copyFile(`${dataDir}/${source.path}`, `${dataDir}/${path}`);
      const ms = source.endMs - source.startMs;
      index.add({
        camera,
        startMs: at,
        endMs: at + ms,
        bytes: source.bytes,
        codec: source.codec,
        path,
        width: source.width,
        height: source.height,
      });
      at += ms;
    }
    const last = seeded.at(-1);
    if (last) {
      index.addGap({ camera, startMs: last.endMs, endMs: run.startMs, reason });
    }
    seeded.push({ startMs: run.startMs, endMs: at });
  }
  return seeded;
}
