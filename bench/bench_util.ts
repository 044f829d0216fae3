/**
 * What the recording bench's modes share (bench/recording.ts, bench/soak.ts): progress lines,
 * an abortable sleep, waiting for recorders to write, whole-machine CPU, tables, the machine's
 * description and the virtual cameras serving the loop clip.
 */
import type { LoopClip } from "../hw-tests/sim/loop_clip.ts";
import { startVirtualCamera, type VirtualCamera } from "../hw-tests/sim/virtual_camera.ts";
import type { Recorder } from "./recorders.ts";
import { makeTestCertificates } from "../runtime/testing/mosquitto.ts";
import { startTlsRelay, type TlsRelay } from "../hw-tests/sim/tls_relay.ts";

export function progress(msg: string): void {
  console.error(`[bench] ${msg}`);
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error("interrupted"));
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
      resolve();
    };
    const abort = () => {
      clearTimeout(timer);
      reject(new Error("interrupted"));
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", abort, { once: true });
  });
}

export async function fileBytes(files: readonly string[]): Promise<number> {
  let n = 0;
  for (const f of files) {
    try {
      n += (await Deno.stat(f)).size;
    } catch { /* renamed or removed between listing and stat */ }
  }
  return n;
}

/**
 * Waits until every stream has written bytes. Returns when each was first seen (performance.now
 * ms); streams still silent at the deadline are left out.
 */
export async function waitFlowing(
  rec: Recorder,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const deadline = performance.now() + timeoutMs;
  while (seen.size < rec.streams.length && performance.now() < deadline) {
    const failure = rec.failure();
    if (failure !== null) throw new Error(`${rec.kind}: ${failure}`);
    for (const s of rec.streams) {
      if (seen.has(s)) continue;
      if (await fileBytes(await rec.files(s)) > 0) seen.set(s, performance.now());
    }
    if (seen.size < rec.streams.length) await sleep(100, signal);
  }
  return seen;
}

/** Busy and total jiffies of the whole machine (/proc/stat "cpu" line). */
export function machineJiffies(): { busy: number; total: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

export function mib(kb: number): string {
  return (kb / 1024).toFixed(0);
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return rows.map((r) =>
    r.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join("  ")
  ).join("\n");
}

export function machine(): {
  cores: number;
  cpu: string;
  kernel: string;
  loadavg: string;
  udpReceiveBuffer: string;
} {
  const cpuinfo = (() => {
    try {
      return Deno.readTextFileSync("/proc/cpuinfo");
    } catch {
      return "";
    }
  })();
  const read = (p: string) => {
    try {
      return Deno.readTextFileSync(p).trim();
    } catch {
      return "?";
    }
  };
  return {
    cores: navigator.hardwareConcurrency,
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "?",
    kernel: read("/proc/sys/kernel/osrelease"),
    loadavg: read("/proc/loadavg").split(" ").slice(0, 3).join(" "),
    // net.core.rmem_default: every UDP socket's receive buffer (Deno cannot set SO_RCVBUF); the
    // image sets 4194304 (rootfs-overlay/etc/sysctl.d/60-nvr-udp.conf), Linux's default is 212992.
    udpReceiveBuffer: read("/proc/sys/net/core/rmem_default"),
  };
}

export function clipLine(clip: LoopClip): string {
  return `${clip.width}x${clip.height} ${clip.fps} fps H.265, ${clip.gopSeconds ?? 1} s GOP` +
    `${clip.noise ? ", sensor noise" : ""}, ${clip.measuredKbps} kbit/s, ` +
    `${clip.seconds} s loop (${clip.frames} frames)`;
}

export async function startCameras(
  clip: LoopClip,
  count: number,
  prefix: string,
  audio: "none" | "g711" | "aac" = "none",
): Promise<VirtualCamera[]> {
  const cams: VirtualCamera[] = [];
  try {
    for (let k = 0; k < count; k++) {
      cams.push(
        await startVirtualCamera({
          loopFile: clip.path,
          width: clip.width,
          height: clip.height,
          fps: clip.fps,
          bitrateKbps: clip.bitrateKbps,
          name: `${prefix}${k}`,
          ...(audio === "none" ? {} : { audio: audio === "g711" ? "pcmu" : "aac" }),
        }),
      );
    }
    return cams;
  } catch (e) {
    await Promise.allSettled(cams.map((c) => c.stop()));
    throw e;
  }
}

export interface Sources {
  readonly cams: readonly VirtualCamera[];
  /** One URL per stream, the cameras taken in turn. */
  readonly urls: readonly string[];
  /** --transport tls: the CA the relays' certificates chain to. */
  readonly caFile?: string;
  /** Stops the relays and the cameras. Never throws. */
  stop(): Promise<void>;
}

/**
 * The virtual cameras for `streams` streams, up to `clientsPerCamera` streams on each; with
 * transport "tls", rtsps:// through a TLS relay per camera in this process (source side, not
 * measured), its test CA made under `pkiDir`.
 */
export async function startSources(
  clip: LoopClip,
  o: {
    readonly streams: number;
    readonly clientsPerCamera: number;
    readonly audio: "none" | "g711" | "aac";
    readonly transport: "tcp" | "udp" | "tls";
  },
  pkiDir: string,
): Promise<Sources> {
  const cameraCount = Math.ceil(o.streams / o.clientsPerCamera);
  const cams = await startCameras(clip, cameraCount, "src", o.audio);
  const relays: TlsRelay[] = [];
  const stop = async () => {
    await Promise.allSettled(relays.map((r) => r[Symbol.asyncDispose]()));
    await Promise.allSettled(cams.map((c) => c.stop()));
  };
  try {
    let urls = Array.from({ length: o.streams }, (_, i) => cams[i % cameraCount]?.rtspUrl ?? "");
    if (o.transport !== "tls") return { cams, urls, stop };
    const pki = await makeTestCertificates(pkiDir);
    for (const cam of cams) {
      relays.push(
        await startTlsRelay({
          target: cam.info.rtspPort,
          certFile: pki.serverCertFile,
          keyFile: pki.serverKeyFile,
        }),
      );
    }
    urls = urls.map((_, i) => relays[i % cameraCount]!.urlFor("/main"));
    return { cams, urls, caFile: pki.caFile, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
