/**
 * Starts the real daemon in-process on a temp data folder, for tests that need the whole recorder:
 * status polling, a second reader of the index, and clean teardown.
 */
import { validateConfig } from "../config/mod.ts";
import { type Daemon, type DaemonDeps, startDaemon } from "../app/daemon.ts";
import { memoryLogger } from "../lib/log.ts";
import type { CameraStatus } from "../recorder/mod.ts";
import { indexPath, SegmentIndex } from "../storage/mod.ts";

export interface Harness extends AsyncDisposable {
  readonly daemon: Daemon;
  readonly dir: string;
  readonly log: ReturnType<typeof memoryLogger>;
  /** A reader of the daemon's index (opened on first use). */
  index(): SegmentIndex;
  camera(id: string): CameraStatus;
  /** Polls until `check` holds for the camera; returns the status that satisfied it. */
  until(
    id: string,
    check: (s: CameraStatus) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<CameraStatus>;
}

export async function startHarness(
  rawConfig: Record<string, unknown>,
  deps: Partial<DaemonDeps> & { dir?: string } = {},
): Promise<Harness> {
  const dir = deps.dir ?? await Deno.makeTempDir({ prefix: "nvr-test-" });
  const { storage, ...rest } = rawConfig as { storage?: Record<string, unknown> };
  const config = validateConfig({
    http: { listen: "127.0.0.1:0" },
    ...rest,
    storage: {
      dataDir: `${dir}/data`,
      segmentSeconds: 2,
      minFreeBytes: "1M",
      minFreePercent: 0,
      ...storage,
    },
  });
  const log = memoryLogger("info");
  const daemon = await startDaemon(config, {
    log,
    supervisor: { backoffMs: [300, 600], jitter: 0 },
    ...deps,
  });
  let reader: SegmentIndex | null = null;
  const harness: Harness = {
    daemon,
    dir,
    log,
    index: () => reader ??= SegmentIndex.open(indexPath(config.storage.dataDir)),
    camera(id) {
      const status = daemon.cameras().find((c) => c.id === id);
      if (!status) throw new Error(`no camera ${id}`);
      return status;
    },
    async until(id, check, what, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = harness.camera(id);
        if (check(status)) return status;
        if (Date.now() > deadline) {
          // The daemon's last log lines say why (a retention sweep that failed, a recorder's
          // error), which the status alone does not.
          const tail = log.lines.slice(-20).map((l) => JSON.stringify(l).slice(0, 600));
          throw new Error(
            `timed out waiting for ${id}: ${what}; status ${JSON.stringify(status)}\n` +
              `daemon log, last ${tail.length} lines:\n  ${tail.join("\n  ")}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async [Symbol.asyncDispose]() {
      await daemon.stop();
      reader?.close();
      if (!deps.dir) await Deno.remove(dir, { recursive: true });
    },
  };
  return harness;
}
