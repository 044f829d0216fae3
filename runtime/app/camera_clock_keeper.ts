/**
 * The cameras' clocks against the box's (issue 17, camera health): every ONVIF camera
 * (`cameras[].onvif.url`) is asked GetSystemDateAndTime shortly after start and then every
 * `intervalMs`. A drift over `clock.cameraDriftSeconds` is a warning in the camera's health
 * (`cameras[].clock`) and, when it goes over, a `camera-clock-drift` event in the index (which the
 * fleet relay sends on) — evidence stamped with a wrong time is worthless. Checks run one camera
 * at a time, each with its own timeout; a camera that does not answer has `error` set and no
 * event (its recorder reports it down).
 *
 * Opt-in per camera (`cameras[].onvif.setNtp`): when its clock goes over the threshold and the
 * box's own clock is believed, the camera is told to use that NTP server (ONVIF SetNTP), once per
 * drift (again only after it came back within the threshold), and the call is audited through
 * `onSetNtp`. The host is the configured one, or with "box" the box's own NTP server at the box's
 * address on the route to that camera (the local end of a connection to its ONVIF port), which
 * must be one the server listens on. The warning clears at the next check that finds the camera's
 * clock within the threshold.
 */
import type { CameraConfig } from "../config/types.ts";
import type { CameraClockHealth } from "../health/mod.ts";
import type { Logger } from "../lib/log.ts";
import { readCameraClock } from "../onvif/camera_clock.ts";
import { localAddressTowards, setCameraNtp } from "../onvif/camera_ntp.ts";
import { BOX_NTP } from "../config/validate.ts";
import type { SegmentIndex } from "../storage/mod.ts";

/** How often each camera's clock is asked by default. */
export const CAMERA_CLOCK_INTERVAL_MS = 10 * 60_000;
/** The first round, after the recorders have started. */
export const CAMERA_CLOCK_FIRST_MS = 5_000;

export interface CameraClockKeeperDeps {
  /** The cameras now configured. */
  readonly cameras: () => readonly CameraConfig[];
  /** clock.cameraDriftSeconds now in force, as ms. */
  readonly thresholdMs: () => number;
  readonly index: () => SegmentIndex;
  readonly log: Logger;
  readonly now?: () => number;
  /** Whether the box's own clock is believed (app/clock_keeper.ts); default: it is. */
  readonly boxClockTrusted?: () => boolean;
  readonly intervalMs?: number;
  readonly firstMs?: number;
  readonly timeoutMs?: number;
  /** Tests: another reader. */
  readonly read?: typeof readCameraClock;
  /** Tests: another SetNTP. */
  readonly setNtp?: typeof setCameraNtp;
  /** The box's NTP server (setNtp "box"): which of its addresses it serves; null: not running. */
  readonly boxNtp?: () => { serves(address: string): boolean } | null;
  /** Tests: another way to learn the box's address towards a camera. */
  readonly localAddress?: typeof localAddressTowards;
  /** A SetNTP was sent (cameras[].onvif.setNtp): for the audit log. */
  readonly onSetNtp?: (
    e: { camera: string; host: string; box: boolean; driftMs: number; error: string | null },
  ) => void;
}

export interface CameraClockKeeper {
  /** The last check of a camera, by id. */
  readonly get: (id: string) => CameraClockHealth | undefined;
  /** Checks every camera now (tests, and after a configuration change). */
  checkNow(): Promise<void>;
  stop(): Promise<void>;
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

export function warningFor(driftMs: number, thresholdMs: number, boxTrusted: boolean): string {
  const how = driftMs > 0 ? "ahead of" : "behind";
  return `camera clock ${seconds(Math.abs(driftMs))} s ${how} the box's ` +
    `(more than ${seconds(thresholdMs)} s): its recordings carry a wrong time. ` +
    (boxTrusted
      ? "Set the camera's time server (NTP) to your network's or the box's (cameras[].onvif.setNtp can; \"box\" for the box's own), then check again."
      : "The box's own clock is not synced yet: check the box's network time first.");
}

export function startCameraClockKeeper(deps: CameraClockKeeperDeps): CameraClockKeeper {
  const log = deps.log.child({ module: "camera-clock" });
  const now = deps.now ?? Date.now;
  const read = deps.read ?? readCameraClock;
  const setNtp = deps.setNtp ?? setCameraNtp;
  const localAddress = deps.localAddress ?? localAddressTowards;
  /** Cameras told their NTP server during this drift (by id → host): once per drift. */
  const ntpSent = new Map<string, string>();
  const last = new Map<string, CameraClockHealth>();
  const stopping = new AbortController();
  let running: Promise<void> = Promise.resolve();
  let busy = false;

  const checkOne = async (camera: CameraConfig & { onvif: { url: string } }) => {
    const thresholdMs = deps.thresholdMs();
    const boxTrusted = deps.boxClockTrusted?.() ?? true;
    const was = last.get(camera.id);
    try {
      const r = await read(camera.onvif.url, {
        timeoutMs: deps.timeoutMs ?? 5_000,
        now,
        signal: stopping.signal,
      });
      const over = Math.abs(r.driftMs) > thresholdMs;
      const warning = over ? warningFor(r.driftMs, thresholdMs, boxTrusted) : null;
      last.set(camera.id, {
        driftMs: r.driftMs,
        checkedMs: now(),
        thresholdMs,
        warning,
        error: null,
      });
      if (over && !was?.warning) {
        const detail = { driftMs: r.driftMs, thresholdMs, boxClockTrusted: boxTrusted };
        log.warn(warning!, { camera: camera.id, ...detail });
        try {
          deps.index().addEvent({
            camera: camera.id,
            tsMs: now(),
            kind: "camera-clock-drift",
            detail,
          });
        } catch (err) {
          log.warn("camera-clock-drift not indexed", { camera: camera.id, err });
        }
      } else if (!over && was?.warning) {
        log.info("camera clock back within the threshold", {
          camera: camera.id,
          driftMs: r.driftMs,
        });
      }
      if (!over) ntpSent.delete(camera.id);
      const host = camera.onvif.setNtp;
      if (over && host !== undefined && boxTrusted && ntpSent.get(camera.id) !== host) {
        ntpSent.set(camera.id, host);
        await pointAtNtp(camera, host, r.driftMs);
      }
    } catch (err) {
      if (stopping.signal.aborted) return;
      last.set(camera.id, {
        driftMs: null,
        checkedMs: now(),
        thresholdMs,
        warning: was?.warning ?? null,
        error: (err as Error).message.slice(0, 300),
      });
    }
  };

  /** SetNTP with the camera's ONVIF credentials, the token stamped with the camera's time. */
  const pointAtNtp = async (
    camera: CameraConfig & { onvif: { url: string } },
    host: string,
    driftMs: number,
  ) => {
    let error: string | null = null;
    let told = host;
    try {
      if (host === BOX_NTP) told = await boxAddress(camera.onvif.url);
      await setNtp(camera.onvif.url, told, {
        username: camera.onvif.username ?? camera.username ?? null,
        password: camera.onvif.username ? camera.onvif.password : camera.password ?? null,
        timeoutMs: deps.timeoutMs ?? 5_000,
        now: () => now() + driftMs,
        signal: stopping.signal,
      });
      log.info("camera told to use the NTP server in cameras[].onvif.setNtp", {
        camera: camera.id,
        host: told,
        driftMs,
      });
    } catch (err) {
      if (stopping.signal.aborted) return;
      error = (err as Error).message.slice(0, 300);
      log.warn(
        `camera's NTP server not set (cameras[].onvif.setNtp ${host}): ${error}; set it on the ` +
          "camera itself, or check its ONVIF user may change the system settings",
        { camera: camera.id },
      );
    }
    deps.onSetNtp?.({ camera: camera.id, host: told, box: host === BOX_NTP, driftMs, error });
  };

  /** setNtp "box": the box's address towards the camera, if its NTP server listens there. */
  const boxAddress = async (onvifUrl: string) => {
    const ntp = deps.boxNtp?.() ?? null;
    if (ntp === null) {
      throw new Error(
        'the box\'s NTP server is not running (see the "NTP server" lines of the log: ntp.listen ' +
          "empty, or its port taken)",
      );
    }
    const address = await localAddress(onvifUrl, {
      timeoutMs: deps.timeoutMs ?? 5_000,
      signal: stopping.signal,
    });
    if (!ntp.serves(address)) {
      throw new Error(
        `the box reaches this camera from ${address}, where its NTP server does not listen; add ` +
          `"${
            address.includes(":") ? `[${address}]` : address
          }:123" (or "0.0.0.0:123") to ntp.listen`,
      );
    }
    return address;
  };

  const round = async () => {
    const cameras = deps.cameras().filter((c): c is CameraConfig & { onvif: { url: string } } =>
      c.enabled && typeof c.onvif?.url === "string" && c.onvif.url !== ""
    );
    const ids = new Set(cameras.map((c) => c.id));
    for (const id of last.keys()) if (!ids.has(id)) last.delete(id);
    for (const camera of cameras) {
      if (stopping.signal.aborted) return;
      await checkOne(camera);
    }
  };
  const checkNow = () =>
    running = running.then(async () => {
      busy = true;
      try {
        await round();
      } catch (err) {
        log.warn("camera clocks not checked", { err });
      } finally {
        busy = false;
      }
    });
  // A round still running when the timer comes again is not queued behind itself.
  const tick = () => void (busy ? null : checkNow());
  const first = setTimeout(tick, deps.firstMs ?? CAMERA_CLOCK_FIRST_MS);
  const timer = setInterval(tick, deps.intervalMs ?? CAMERA_CLOCK_INTERVAL_MS);
  return {
    get: (id) => last.get(id),
    checkNow,
    async stop() {
      stopping.abort();
      clearTimeout(first);
      clearInterval(timer);
      await running.catch(() => {});
    },
  };
}
