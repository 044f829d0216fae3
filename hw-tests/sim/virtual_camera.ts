/**
 * Virtual IP cameras for tests and the demo: each one is a child process
 * running virtual_camera_main.ts (RTSP + ONVIF + snapshot), so it can be
 * killed hard (`drop()`) and brought back on the same ports (`restore()`).
 *
 *   await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240 });
 *   // cam.rtspUrl, cam.subUrl, cam.onvifUrl, cam.snapshotUrl
 *
 * The child exits by itself when this process dies (its stdin pipe closes).
 */
import {
  type AudioCodec,
  cameraArgs,
  type CameraConfig,
  type VideoCodec,
} from "./camera_config.ts";
import { freePorts } from "./ports.ts";
import { type MountCount, type RtspCounter, startRtspCounter } from "./rtsp_counter.ts";
import type { SimEventType } from "./onvif_events.ts";

export type { AudioCodec, VideoCodec } from "./camera_config.ts";
export type { MountCount } from "./rtsp_counter.ts";

export interface VirtualCameraOptions {
  /** Main stream codec, default "h265". The sub stream is always H.264 640x360. */
  readonly codec?: VideoCodec;
  /** Default 320x240 (cheap for tests); the CLI default is 1280x720. */
  readonly width?: number;
  readonly height?: number;
  /** Default 15. */
  readonly fps?: number;
  /** Main stream kbit/s, default 500. */
  readonly bitrateKbps?: number;
  /** Default: a free port chosen at start; kept across restore(). */
  readonly rtspPort?: number;
  readonly onvifPort?: number;
  readonly name?: string;
  readonly serial?: string;
  readonly model?: string;
  readonly manufacturer?: string;
  readonly firmware?: string;
  /** Require these credentials for RTSP, ONVIF and the snapshot. */
  readonly user?: string;
  readonly password?: string;
  /** How long to wait for the ready line, default 20 000 ms. */
  readonly readyTimeoutMs?: number;
  /**
   * Serve `/main` from this pre-encoded H.265 clip in a loop instead of encoding (absolute path;
   * make one with ensureLoopClip() from loop_clip.ts and pass its width, height and fps too).
   */
  readonly loopFile?: string;
  /** An audio stream on `/main` (a tick a second): "aac", "pcma", "pcmu"; default "none". */
  readonly audio?: AudioCodec;
  /** B-frames on `/main` (pictures out of presentation order), 0..4; default none. */
  readonly bframes?: number;
  /**
   * Run the camera in its own session, so a terminal's Ctrl-C does not reach it and its owner
   * decides when it stops (the demo stops the daemon first). Default false.
   */
  readonly detached?: boolean;
  /** Answer WS-Discovery probes; only in a test's own network namespace. Default false. */
  readonly discovery?: boolean;
  /** No ONVIF events service, like a camera that has none. Default false (PullPoint events). */
  readonly noEvents?: boolean;
  /** Raise motion (on, then off) every this many ms; default only on demand (`raiseEvent`). */
  readonly motionEveryMs?: number;
  /** An ONVIF PTZ head whose moves pan and zoom the picture (camera_config.ts). Default false. */
  readonly ptz?: boolean;
  /** The camera's clock is this many ms ahead (negative: behind) of the host's; default 0. */
  readonly clockOffsetMs?: number;
  /**
   * Count the RTSP sessions the camera sees, per mount (`sessions()`): rtspUrl and subUrl then
   * lead through a counting relay in this process (rtsp_counter.ts). The URLs the camera's ONVIF
   * service gives still lead to the camera itself, uncounted. Default false.
   */
  readonly countSessions?: boolean;
}

/** What the camera was started with (ports are the real ones). */
export type VirtualCameraInfo = Omit<CameraConfig, "exitOnStdinEof">;

export interface VirtualCamera {
  /** rtsp://127.0.0.1:PORT/main (no credentials in the URL). */
  readonly rtspUrl: string;
  /** rtsp://127.0.0.1:PORT/sub */
  readonly subUrl: string;
  /** http://127.0.0.1:PORT/onvif/device_service */
  readonly onvifUrl: string;
  /** http://127.0.0.1:PORT/snapshot.jpg */
  readonly snapshotUrl: string;
  readonly info: VirtualCameraInfo;
  /**
   * Raises an ONVIF event in the camera now (motion, its digital input, or tampering; on or off;
   * or a line crossing, which has no state and ignores `active`): what a person walking past, a
   * door contact, a hand over the lens or a car passing the line would do. Rejects when the camera
   * is down.
   */
  raiseEvent(type: SimEventType, active?: boolean): Promise<void>;
  /**
   * PLAY requests ever made and sessions playing now, per mount ("/main", "/sub"); only with
   * `countSessions` (throws otherwise).
   */
  sessions(): Record<string, MountCount>;
  /** PID of the running child, or null while dropped/stopped. */
  readonly pid: number | null;
  /** SIGKILL the process: the camera vanishes off the network. */
  drop(): Promise<void>;
  /** Start again on the same ports (no-op if it is running). */
  restore(): Promise<void>;
  /** Graceful SIGTERM (SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The JSON line virtual_camera_main.ts prints when ready. */
interface ReadyLine {
  ready: true;
  rtsp: string;
  sub: string;
  onvif: string;
  snapshot: string;
}

const MAIN_PATH = new URL("./virtual_camera_main.ts", import.meta.url);
const STDERR_KEEP_BYTES = 16 * 1024;
const STOP_GRACE_MS = 5000;

/** One running child process plus the tasks draining its pipes. */
interface Running {
  readonly child: Deno.ChildProcess;
  /** Keeps the child's stdin open; closing it makes the child exit. */
  readonly stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly status: Promise<Deno.CommandStatus>;
  /** Resolves when both pipes hit EOF. */
  readonly drained: Promise<void>;
  /** Last bytes of stderr, for error messages. */
  stderrTail(): string;
}

function isReadyLine(v: unknown): v is ReadyLine {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return o.ready === true && typeof o.rtsp === "string" && typeof o.sub === "string" &&
    typeof o.onvif === "string" && typeof o.snapshot === "string";
}

/** The command line for error messages, without the password. */
function redactedArgs(cfg: CameraConfig): string {
  return cameraArgs(cfg).map((a, i, all) => all[i - 1] === "--password" ? "***" : a).join(" ");
}

function exitError(s: Deno.CommandStatus): Error {
  return new Error(
    `virtual camera exited with code ${s.code}${s.signal ? ` (${s.signal})` : ""} before ready`,
  );
}

function spawn(
  cfg: CameraConfig,
  readyTimeoutMs: number,
  detached = false,
): Promise<{ running: Running; ready: ReadyLine }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--no-prompt", MAIN_PATH.href, ...cameraArgs(cfg)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    detached,
  }).spawn();
  const stdin = child.stdin.getWriter();
  let tail = "";
  const dec = new TextDecoder();
  const stderrDone = (async () => {
    for await (const chunk of child.stderr) {
      tail = (tail + dec.decode(chunk, { stream: true })).slice(-STDERR_KEEP_BYTES);
    }
  })().catch(() => {});

  let resolveReady: (r: ReadyLine) => void = () => {};
  let rejectReady: (e: Error) => void = () => {};
  const readyP = new Promise<ReadyLine>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  const stdoutDone = (async () => {
    const lineDec = new TextDecoder();
    let buf = "";
    let got = false;
    for await (const chunk of child.stdout) {
      if (got) continue; // keep draining
      buf += lineDec.decode(chunk, { stream: true });
      const nl = buf.indexOf("\n");
      if (nl < 0) continue;
      got = true;
      const line = buf.slice(0, nl);
      try {
        const parsed: unknown = JSON.parse(line);
        if (isReadyLine(parsed)) resolveReady(parsed);
        else rejectReady(new Error(`virtual camera printed an unexpected first line: ${line}`));
      } catch {
        rejectReady(new Error(`virtual camera printed a non-JSON first line: ${line}`));
      }
    }
    if (!got) rejectReady(exitError(await child.status));
  })().catch(() => {});

  const running: Running = {
    child,
    stdin,
    status: child.status,
    drained: Promise.all([stderrDone, stdoutDone]).then(() => {}),
    stderrTail: () => tail,
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_res, rej) => {
    timer = setTimeout(
      () =>
        rej(new Error(`virtual camera did not print its ready line within ${readyTimeoutMs} ms`)),
      readyTimeoutMs,
    );
  });
  const exited = child.status.then((s): never => {
    throw exitError(s);
  });
  return Promise.race([readyP, timeout, exited])
    .then((ready) => ({ running, ready }))
    .catch(async (e: unknown) => {
      await kill(running, "SIGKILL");
      const msg = e instanceof Error ? e.message : String(e);
      throw new Error(
        `${msg}. Camera args: ${redactedArgs(cfg)}. Its stderr:\n${
          running.stderrTail() || "(empty)"
        }\n` +
          "Check that GStreamer (gstreamer1.0-rtsp, plugins good/bad/ugly) is installed and the ports are free.",
      );
    })
    .finally(() => {
      clearTimeout(timer);
      // The losers of the race must not become unhandled rejections.
      readyP.catch(() => {});
      exited.catch(() => {});
    });
}

/** Sends `signal`, waits for exit (SIGKILL after the grace period) and for the pipes to drain. */
async function kill(r: Running, signal: Deno.Signal, graceMs = STOP_GRACE_MS): Promise<void> {
  try {
    r.child.kill(signal);
  } catch { /* already exited */ }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const escalate = new Promise<void>((res) => {
    timer = setTimeout(() => {
      try {
        r.child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
      res();
    }, graceMs);
  });
  await Promise.race([r.status, escalate]);
  clearTimeout(timer);
  await r.status;
  await r.stdin.close().catch(() => {});
  await r.drained;
}

/**
 * Starts one virtual camera process and waits until it is ready. Rejects with
 * the child's stderr if it exits or stays silent past `readyTimeoutMs`.
 */
export async function startVirtualCamera(opts: VirtualCameraOptions = {}): Promise<VirtualCamera> {
  const [p1 = 0, p2 = 0] = freePorts(2);
  const base: CameraConfig = {
    rtspPort: opts.rtspPort ?? p1,
    onvifPort: opts.onvifPort ?? p2,
    codec: opts.codec ?? "h265",
    width: opts.width ?? 320,
    height: opts.height ?? 240,
    fps: opts.fps ?? 15,
    bitrateKbps: opts.bitrateKbps ?? 500,
    serial: opts.serial ?? "SIM-0001",
    model: opts.model ?? "SimCam-1",
    manufacturer: opts.manufacturer ?? "NVR Sim",
    firmware: opts.firmware ?? "1.0.0",
    name: opts.name ?? "cam1",
    exitOnStdinEof: true,
    ...(opts.audio !== undefined && opts.audio !== "none" ? { audio: opts.audio } : {}),
    ...(opts.bframes ? { bframes: opts.bframes } : {}),
    ...(opts.discovery ? { discovery: true } : {}),
    ...(opts.noEvents ? { noEvents: true } : {}),
    ...(opts.motionEveryMs !== undefined ? { motionEveryMs: opts.motionEveryMs } : {}),
    ...(opts.ptz ? { ptz: true } : {}),
    ...(opts.clockOffsetMs ? { clockOffsetMs: Math.round(opts.clockOffsetMs) } : {}),
  };
  if ((opts.user === undefined) !== (opts.password === undefined)) {
    throw new Error("startVirtualCamera: give both user and password, or neither");
  }
  if (opts.loopFile !== undefined && (opts.codec ?? "h265") !== "h265") {
    throw new Error("startVirtualCamera: loopFile serves H.265 only; drop codec or loopFile");
  }
  const withLoop: CameraConfig = opts.loopFile !== undefined
    ? { ...base, loopFile: opts.loopFile }
    : base;
  let cfg: CameraConfig = opts.user !== undefined && opts.password !== undefined
    ? { ...withLoop, user: opts.user, password: opts.password }
    : withLoop;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;

  // Ports chosen here may be taken by another process before the camera binds them (parallel
  // tests): try fresh ones a few times. Ports the caller chose are never changed.
  let first: Awaited<ReturnType<typeof spawn>>;
  for (let attempt = 1;; attempt++) {
    try {
      first = await spawn(cfg, readyTimeoutMs, opts.detached);
      break;
    } catch (err) {
      const chosenHere = opts.rtspPort === undefined && opts.onvifPort === undefined;
      if (!chosenHere || attempt >= 4 || !/already in use|cannot listen/i.test(String(err))) {
        throw err;
      }
      const [r = 0, o = 0] = freePorts(2);
      cfg = { ...cfg, rtspPort: r, onvifPort: o };
    }
  }
  let current: Running | null = first.running;
  let stopping: Promise<void> | null = null;
  let restoring: Promise<void> | null = null;
  const { exitOnStdinEof: _internal, ...infoFields } = cfg;
  const info: VirtualCameraInfo = infoFields;

  // A camera that dies by itself looks like a camera that is switched off; say so in the test's
  // output, with its stderr, so a failure downstream has its cause beside it.
  const watch = (r: Running): void => {
    r.status.then((s) => {
      if (current !== r) return; // dropped or stopped on purpose
      console.error(
        `virtual camera ${redactedArgs(cfg)} exited by itself with code ${s.code}` +
          `${s.signal ? ` (${s.signal})` : ""}; its stderr:\n${r.stderrTail() || "(empty)"}`,
      );
    });
  };
  watch(first.running);

  const drop = async (): Promise<void> => {
    const r = current;
    current = null;
    if (r !== null) await kill(r, "SIGKILL");
  };
  const counter: RtspCounter | null = opts.countSessions
    ? startRtspCounter({ target: cfg.rtspPort })
    : null;
  const counted = (url: string) => {
    if (counter === null) return url;
    const u = new URL(url);
    u.port = String(counter.port);
    return u.href;
  };
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await restoring?.catch(() => {});
      const r = current;
      current = null;
      if (r !== null) await kill(r, "SIGTERM");
      await counter?.close();
    })();
    return stopping;
  };
  const restore = (): Promise<void> => {
    if (stopping !== null) {
      return Promise.reject(new Error("restore() after stop(): start a new camera instead"));
    }
    if (current !== null) return Promise.resolve();
    restoring ??= spawn(cfg, readyTimeoutMs, opts.detached).then(({ running }) => {
      current = running;
      watch(running);
    }).finally(() => {
      restoring = null;
    });
    return restoring;
  };

  return {
    rtspUrl: counted(first.ready.rtsp),
    subUrl: counted(first.ready.sub),
    onvifUrl: first.ready.onvif,
    snapshotUrl: first.ready.snapshot,
    info,
    async raiseEvent(type: SimEventType, active = true): Promise<void> {
      const url = new URL("/sim/event", first.ready.onvif);
      const res = await fetch(url, {
        method: "POST",
        body: JSON.stringify({ type, active }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (res.status !== 204) {
        throw new Error(
          `virtual camera did not take the ${type} event: HTTP ${res.status} ${text}`,
        );
      }
    },
    sessions(): Record<string, MountCount> {
      if (counter === null) {
        throw new Error("sessions(): start the camera with countSessions: true to count them");
      }
      return counter.counts();
    },
    get pid(): number | null {
      return current?.child.pid ?? null;
    },
    drop,
    restore,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
