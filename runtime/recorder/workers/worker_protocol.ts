/**
 * Lines between the daemon and a recorder worker process: one JSON object a line, the daemon
 * writing to the worker's stdin and the worker to its stdout. Pure types and parsing.
 */
import type { NvrConfig } from "../../config/types.ts";
import type { ClockTrustOptions } from "../../lib/clock_trust.ts";
import type { CameraStatus } from "../supervisor/camera_status.ts";
import type { PlannedCamera } from "../supervisor/recorder_set.ts";

/** The clock-trust settings a worker builds its own ClockTrust from (plain data, no functions). */
export type WorkerClock = Pick<
  ClockTrustOptions,
  "trust" | "bootId" | "timesyncRoot" | "sysRoot" | "procRoot" | "floorMs"
>;

export type ToWorker =
  | {
    readonly type: "init";
    readonly config: NvrConfig;
    readonly cameras: PlannedCamera[];
    /** Where to serve live pictures to the daemon (live_socket.ts); absent: not served. */
    readonly liveSocket?: string;
    readonly clock?: WorkerClock;
  }
  | { readonly type: "snapshot"; readonly id: number; readonly camera: string }
  | { readonly type: "restart"; readonly camera: string }
  /** An event concerns the camera (events mode records around it); at most one a second. */
  | { readonly type: "trigger"; readonly camera: string; readonly held: boolean }
  | { readonly type: "space-freed"; readonly id: number; readonly freedBytes: number };

export type FromWorker =
  | { readonly type: "status"; readonly cameras: CameraStatus[] }
  | {
    readonly type: "snapshot";
    readonly id: number;
    readonly jpeg?: string;
    readonly error?: string;
  }
  | { readonly type: "disk-full"; readonly id: number }
  | { readonly type: "segment-closed" };

/** Splits a byte stream into JSON lines; yields each parsed object, skipping blank lines. */
export async function* jsonLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) yield JSON.parse(line);
    }
  }
}

export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
