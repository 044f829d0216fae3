/**
 * One virtual IP camera as a process: RTSP (/main, /sub) via gst-rtsp-server
 * over FFI, an ONVIF device/media service and /snapshot.jpg over HTTP.
 *
 *   deno run -A hw-tests/sim/virtual_camera_main.ts --rtsp-port 8554 --onvif-port 8081
 *
 * With --loop-file CLIP.h265, /main serves that pre-encoded clip in a loop instead of encoding.
 *
 * Prints exactly one JSON line on stdout when ready, e.g.
 * {"ready":true,"rtsp":"rtsp://127.0.0.1:8554/main","sub":"rtsp://127.0.0.1:8554/sub",
 *  "onvif":"http://127.0.0.1:8081/onvif/device_service","snapshot":"http://127.0.0.1:8081/snapshot.jpg"}
 * Exits 0 on SIGTERM/SIGINT (and on stdin EOF with --exit-on-stdin-eof),
 * 2 on bad arguments, 1 when it cannot start.
 */
import {
  type CameraConfig,
  mainLaunch,
  parseCameraArgs,
  PTZ_CROP,
  sceneLaunch,
  snapshotLaunch,
  SUB_BITRATE_KBPS,
  SUB_HEIGHT,
  SUB_WIDTH,
  subLaunch,
} from "./camera_config.ts";
import { type OnvifService, startOnvifService } from "./onvif_service.ts";
import { type DiscoveryResponder, startDiscoveryResponder } from "./ws_discovery_responder.ts";
import { openGst, startRtspServer } from "../../runtime/gst/rtsp_server.ts";
import { createSnapshotSource } from "./snapshot.ts";
import { ptzService } from "./onvif_ptz.ts";
import { cropFor, PtzState } from "./ptz_state.ts";
import { Pipeline } from "../../runtime/gst/mod.ts";
import { writeAll } from "../../runtime/std/io/write_all.ts";

const HOST = "127.0.0.1";

/** The ready line printed on stdout. */
export interface ReadyLine {
  readonly ready: true;
  readonly rtsp: string;
  readonly sub: string;
  readonly onvif: string;
  readonly snapshot: string;
}

function fail(msg: string, code: number): never {
  Deno.stderr.writeSync(new TextEncoder().encode(`virtual_camera: ${msg}\n`));
  Deno.exit(code);
}

async function run(cfg: CameraConfig): Promise<void> {
  if (cfg.loopFile !== undefined) {
    // gst_parse_launch does not open files, so a wrong path would only fail at the first client.
    try {
      const st = await Deno.stat(cfg.loopFile);
      if (!st.isFile || st.size === 0) throw new Error("not a non-empty file");
    } catch (e) {
      throw new Error(
        `--loop-file ${cfg.loopFile}: ${e instanceof Error ? e.message : String(e)}. ` +
          "Make one with ensureLoopClip() from hw-tests/sim/loop_clip.ts.",
      );
    }
  }
  const ffi = openGst();
  const ptz = cfg.ptz ? startPtzHead(cfg) : null;
  const auth = cfg.user !== undefined && cfg.password !== undefined
    ? { user: cfg.user, password: cfg.password }
    : undefined;
  const rtsp = startRtspServer(ffi, {
    port: cfg.rtspPort,
    address: HOST,
    mounts: [{ path: "/main", launch: mainLaunch(cfg) }, { path: "/sub", launch: subLaunch(cfg) }],
    ...(auth !== undefined ? { auth: { ...auth, realm: `${cfg.model} ${cfg.serial}` } } : {}),
  });
  const snapshots = createSnapshotSource(ffi, {
    launchFor: (p) => snapshotLaunch(cfg, p),
    // A PTZ test looks at the picture right after a move.
    ...(ptz ? { cacheMs: 100 } : {}),
  });
  const govLength = cfg.fps;
  let onvif: OnvifService;
  try {
    onvif = startOnvifService({
      hostname: HOST,
      port: cfg.onvifPort,
      name: cfg.name,
      device: {
        manufacturer: cfg.manufacturer,
        model: cfg.model,
        firmwareVersion: cfg.firmware,
        serialNumber: cfg.serial,
        hardwareId: `${cfg.model}-HW`,
      },
      profiles: [
        {
          token: "main",
          name: "main",
          encoding: cfg.codec === "h265" ? "H265" : "H264",
          width: cfg.width,
          height: cfg.height,
          fps: cfg.fps,
          bitrateKbps: cfg.bitrateKbps,
          govLength,
          rtspUri: rtsp.urlFor("/main"),
        },
        {
          token: "sub",
          name: "sub",
          encoding: "H264",
          width: SUB_WIDTH,
          height: SUB_HEIGHT,
          fps: cfg.fps,
          bitrateKbps: SUB_BITRATE_KBPS,
          govLength,
          rtspUri: rtsp.urlFor("/sub"),
        },
      ],
      ...(auth !== undefined ? { credentials: auth } : {}),
      ...(cfg.clockOffsetMs ? { clockOffsetMs: cfg.clockOffsetMs } : {}),
      snapshot: () => snapshots.get(),
      ...(cfg.noEvents ? {} : {
        events: cfg.motionEveryMs !== undefined ? { motionEveryMs: cfg.motionEveryMs } : {},
      }),
      ...(ptz ? { ptz: ptzService(ptz.state, ["main", "sub"]) } : {}),
    });
  } catch (e) {
    await rtsp.stop();
    await ptz?.close();
    snapshots.close();
    throw e;
  }

  let discovery: DiscoveryResponder | null = null;
  if (cfg.discovery) {
    discovery = await startDiscoveryResponder({
      hostname: HOST,
      deviceUrl: onvif.deviceUrl,
      endpoint: `urn:uuid:${crypto.randomUUID()}`,
      scopes: [
        "onvif://www.onvif.org/Profile/Streaming",
        "onvif://www.onvif.org/type/video_encoder",
        `onvif://www.onvif.org/name/${encodeURIComponent(cfg.name)}`,
        `onvif://www.onvif.org/hardware/${encodeURIComponent(cfg.model)}`,
      ],
    });
  }

  let exiting = false;
  const shutdown = async (): Promise<void> => {
    if (exiting) return;
    exiting = true;
    await Promise.allSettled([onvif.shutdown(), rtsp.stop(), discovery?.close(), ptz?.close()]);
    snapshots.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => void shutdown());
  Deno.addSignalListener("SIGINT", () => void shutdown());
  if (cfg.exitOnStdinEof) {
    // The parent holds our stdin open; EOF means it died without stopping us.
    (async () => {
      const buf = new Uint8Array(256);
      while ((await Deno.stdin.read(buf)) !== null) { /* ignore input */ }
      await shutdown();
    })();
  }

  const ready: ReadyLine = {
    ready: true,
    rtsp: rtsp.urlFor("/main"),
    sub: rtsp.urlFor("/sub"),
    onvif: onvif.deviceUrl,
    snapshot: onvif.snapshotUrl,
  };
  await writeAll(Deno.stdout, new TextEncoder().encode(JSON.stringify(ready) + "\n"));
}

/**
 * The PTZ head: the scene pipeline (sceneLaunch) and a 40 ms tick that sets its videocrop to the
 * head's position (through runtime/gst's g_object_set binding), so moves show in every stream.
 */
function startPtzHead(cfg: CameraConfig): { state: PtzState; close(): Promise<void> } {
  const state = new PtzState();
  const scene = Pipeline.parse(sceneLaunch(cfg), { name: "ptz-scene" });
  scene.play();
  const crop = scene.element(PTZ_CROP);
  if (crop === null) throw new Error(`the PTZ scene has no element ${PTZ_CROP}`);
  let shown = "";
  const tick = setInterval(() => {
    const c = cropFor(state.position(), cfg.width, cfg.height);
    const key = `${c.left},${c.right},${c.top},${c.bottom}`;
    if (key !== shown) {
      crop.set("left", c.left);
      crop.set("right", c.right);
      crop.set("top", c.top);
      crop.set("bottom", c.bottom);
      shown = key;
    }
    // Nobody else reads this bus: drain it, and say when the scene fails.
    for (let m = scene.poll(); m !== null; m = scene.poll()) {
      if (m.type === "error") console.error(`virtual_camera: PTZ scene: ${JSON.stringify(m)}`);
    }
  }, 40);
  return {
    state,
    close: async () => {
      clearInterval(tick);
      await scene.close();
    },
  };
}

if (import.meta.main) {
  let cfg: CameraConfig;
  try {
    cfg = parseCameraArgs(Deno.args);
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e), 2);
  }
  try {
    await run(cfg);
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e), 1);
  }
}
