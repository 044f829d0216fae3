/** Test helpers for retention: a real data folder and index, real segment files. */
import { createLogger } from "../lib/log.ts";
import { segmentRelativePath } from "./layout.ts";
import type { RetentionDeps, RetentionPolicy } from "./retention.ts";
import { SegmentIndex } from "./segment_index.ts";

export const NOW = Date.UTC(2026, 10, 30, 12);
export const MIN = 60_000;
export const DAY = 86_400_000;
export const KiB = 1024;

export const policy = (p: Partial<RetentionPolicy> = {}): RetentionPolicy => ({
  maxBytes: null,
  minFreeBytes: 0,
  minFreePercent: 0,
  retentionDays: null,
  cameraRetentionDays: {},
  ...p,
});

/** A data folder with an index; `write` records a real file of `bytes` and indexes it. */
export async function dataFolder(
  fn: (ctx: DataCtx) => Promise<void>,
  dataDir?: string,
): Promise<void> {
  const temp = dataDir ? null : await Deno.makeTempDir({ prefix: "nvr-retention-" });
  const dir = dataDir ?? temp ?? "";
  const index = SegmentIndex.open(`${dir}/index.sqlite`);
  const lines: string[] = [];
  const log = createLogger({ level: "debug", sink: (l) => lines.push(l), now: () => NOW });
  const write = async (camera: string, startMs: number, bytes: number) => {
    const path = segmentRelativePath(camera, startMs);
    await Deno.mkdir(`${dir}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeFile(`${dir}/${path}`, new Uint8Array(bytes));
    const id = index.add({ camera, startMs, endMs: startMs + MIN, bytes, codec: "h265", path });
    return { id, path, file: `${dir}/${path}` };
  };
  const exists = (file: string) => Deno.stat(file).then(() => true, () => false);
  const deps = (p: RetentionPolicy, extra: Partial<RetentionDeps> = {}): RetentionDeps => ({
    index: () => index,
    dataDir: dir,
    policy: p,
    log,
    now: () => NOW,
    intervalSeconds: 3600,
    ...extra,
  });
  try {
    await fn({ dir, index, lines, write, exists, deps });
  } finally {
    index.close();
    if (temp) await Deno.remove(temp, { recursive: true });
  }
}

export interface DataCtx {
  readonly dir: string;
  readonly index: SegmentIndex;
  readonly lines: string[];
  write(camera: string, startMs: number, bytes: number): Promise<{
    id: number;
    path: string;
    file: string;
  }>;
  exists(file: string): Promise<boolean>;
  deps(p: RetentionPolicy, extra?: Partial<RetentionDeps>): RetentionDeps;
}

/** A disk that never runs short. */
export const roomy = { totalBytes: 1e12, freeBytes: 1e12, availableBytes: 1e12 };
