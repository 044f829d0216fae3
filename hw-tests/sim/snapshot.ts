/**
 * JPEG snapshots made by a short one-off GStreamer pipeline in-process (FFI),
 * cached for a while so a polling NVR does not spin up a pipeline per request.
 */
import { type GstFfi, runPipelineOnce } from "../../runtime/gst/rtsp_server.ts";

export interface SnapshotSourceOptions {
  /** Builds the launch string that writes one JPEG to `path`. */
  readonly launchFor: (path: string) => string;
  /** Reuse a snapshot younger than this, default 1000 ms. */
  readonly cacheMs?: number;
  /** Default 5000 ms. */
  readonly timeoutMs?: number;
}

export interface SnapshotSource {
  /** A JPEG, at most `cacheMs` old. Concurrent callers share one pipeline run. */
  get(): Promise<Uint8Array>;
  /** Removes the temporary directory. */
  close(): void;
}

export function createSnapshotSource(ffi: GstFfi, opts: SnapshotSourceOptions): SnapshotSource {
  const cacheMs = opts.cacheMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const dir = Deno.makeTempDirSync({ prefix: "nvr-sim-snapshot-" });
  const path = `${dir}/snapshot.jpg`;
  let cached: { at: number; jpeg: Uint8Array } | null = null;
  let inflight: Promise<Uint8Array> | null = null;

  const make = async (): Promise<Uint8Array> => {
    await runPipelineOnce(ffi, opts.launchFor(path), timeoutMs);
    const jpeg = await Deno.readFile(path);
    if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) {
      throw new Error(
        `snapshot pipeline wrote ${jpeg.length} bytes that are not a JPEG to ${path}`,
      );
    }
    cached = { at: Date.now(), jpeg };
    return jpeg;
  };

  return {
    get(): Promise<Uint8Array> {
      if (cached !== null && Date.now() - cached.at < cacheMs) return Promise.resolve(cached.jpeg);
      inflight ??= make().finally(() => {
        inflight = null;
      });
      return inflight;
    },
    close(): void {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* already gone */ }
    },
  };
}
