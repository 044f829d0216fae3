/**
 * Sensor alarms that concern cameras (a plugin's `cameras` and `keepMinutes`, config/types.ts):
 * the alarm is marked on those cameras' timelines (its detail lists them, storage's cameraMarks)
 * and, with keepMinutes, their recordings from that long before it to that long after it are kept
 * like an operator's keep, so retention never deletes them.
 *
 * The part before the alarm is on disk and is locked at once. The part after it is recorded later,
 * so each window stays armed and is locked again whenever a segment closes, until a segment can no
 * longer overlap it. Windows are written into the alarm's detail (`keepFromMs`, `keepToMs`), so
 * a restart re-arms those still open from the index (rearm): nothing of a window is lost to a
 * restart except segments that closed while the daemon was down, which repair re-indexes and the
 * next close locks.
 */
import type { SegmentIndex } from "../storage/mod.ts";
import type { PluginConfig } from "../config/types.ts";
import type { Logger } from "../lib/log.ts";

interface Window {
  readonly camera: string;
  readonly fromMs: number;
  readonly toMs: number;
}

export interface AlarmKeepDeps {
  readonly index: () => SegmentIndex;
  readonly now: () => number;
  readonly log: Logger;
  /** Longest a segment can be (storage.segmentSeconds), ms: how long a window stays armed. */
  readonly maxSegmentMs: number;
}

export class AlarmKeeper {
  readonly #d: AlarmKeepDeps;
  #windows: Window[] = [];

  constructor(deps: AlarmKeepDeps) {
    this.#d = deps;
  }

  /**
   * Indexes a plugin's alarm (box-wide, `sensor-alarm`), marked for its cameras, and keeps their
   * recordings around it as configured.
   */
  alarm(plugin: string, detail: Record<string, unknown>, config: PluginConfig | undefined): void {
    const tsMs = this.#d.now();
    const cameras = config?.cameras ?? [];
    const keepMs = (config?.keepMinutes ?? 0) * 60_000;
    const extra: Record<string, unknown> = cameras.length > 0 ? { cameras } : {};
    if (keepMs > 0) Object.assign(extra, { keepFromMs: tsMs - keepMs, keepToMs: tsMs + keepMs });
    this.#d.index().addEvent({
      camera: null,
      tsMs,
      kind: "sensor-alarm",
      detail: { plugin, ...detail, ...extra },
    });
    if (keepMs > 0) {
      for (const camera of cameras) {
        this.#arm({ camera, fromMs: tsMs - keepMs, toMs: tsMs + keepMs });
      }
    }
  }

  /** Re-arms the windows of recent alarms that are still open (after a restart). */
  rearm(): void {
    const now = this.#d.now();
    const since = now - 2 * 24 * 3_600_000 - this.#d.maxSegmentMs; // keepMinutes ≤ 1 day
    for (const e of this.#d.index().events(since, now + 1)) {
      const { cameras, keepFromMs, keepToMs } = e.detail as Record<string, unknown>;
      if (e.kind !== "sensor-alarm" || typeof keepFromMs !== "number") continue;
      if (typeof keepToMs !== "number" || !Array.isArray(cameras)) continue;
      if (keepToMs + this.#d.maxSegmentMs < now) continue;
      for (const camera of cameras) {
        if (typeof camera === "string") this.#arm({ camera, fromMs: keepFromMs, toMs: keepToMs });
      }
    }
  }

  /** A segment closed (any camera): locks what the open windows cover; drops finished ones. */
  segmentClosed(): void {
    const now = this.#d.now();
    this.#windows = this.#windows.filter((w) => w.toMs + this.#d.maxSegmentMs >= now);
    for (const w of this.#windows) this.#lock(w);
  }

  /** Windows still armed (for health and tests). */
  get armed(): number {
    return this.#windows.length;
  }

  #arm(w: Window): void {
    this.#windows.push(w);
    this.#lock(w);
  }

  #lock(w: Window): void {
    try {
      this.#d.index().setLockedRange(w.camera, w.fromMs, w.toMs, true);
    } catch (err) {
      // A full disk or a busy index: the next segment close tries again.
      this.#d.log.warn("recordings around a sensor alarm not kept yet", { camera: w.camera, err });
    }
  }
}
