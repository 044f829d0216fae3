/**
 * The plugin host: runs each enabled, installed plugin in its own sandboxed process
 * (plugin_process.ts) and supervises it like the recorders are: a crash or a breach (heartbeat,
 * CPU, memory, output) ends only that plugin, which is started again after a growing pause
 * (2 s, 10 s, 1 min, then every 5 min; back to 2 s after a minute of good running). Reports each
 * plugin's state, last readings and cost for health.
 */
import type { Logger } from "../lib/log.ts";
import { type Manifest, resolveSettings } from "./manifest.ts";
import { DEFAULT_LIMITS, type Limits, type Reading, runPluginOnce } from "./plugin_process.ts";
import type { ReadingValue } from "./protocol.ts";
import { type SerialOpener, serialOpener } from "./serial_relay.ts";
import { readInstalled } from "./install.ts";

export type PluginState = "starting" | "running" | "retrying" | "failed" | "disabled" | "stopped";

export interface PluginStatus {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly state: PluginState;
  readonly lastError: string | null;
  readonly restarts: number;
  /** The last value of each reading name, at most 32. */
  readonly readings: readonly Reading[];
  /** Share of one core over the last window, %; null before the first measurement. */
  readonly cpuPercent: number | null;
  readonly rssBytes: number | null;
}

/** What the configuration says of one plugin. */
export interface PluginSetting {
  readonly enabled: boolean;
  readonly settings: Readonly<Record<string, unknown>>;
}

export interface PluginHostOptions {
  readonly log: Logger;
  /** `<dataDir>/plugins`: one folder per installed plugin. */
  readonly dir: string;
  /** Where /sys is; default "/sys" (tests: a fixture tree). */
  readonly sysRoot?: string;
  /** Where /proc is, for CPU and memory; default "/proc". */
  readonly procRoot?: string;
  /** Opens serial ports for plugins; default: runtime/serial's openSerial under `devRoot`. */
  readonly serial?: SerialOpener;
  /** Where /dev is for the default opener; default "/dev" (tests: a folder of socat ptys). */
  readonly devRoot?: string;
  /** A plugin's `sensor-alarm`. */
  readonly onEvent?: (
    plugin: string,
    detail: { sensor: string; reason: string; value?: ReadingValue },
  ) => void;
  readonly limits?: Partial<Limits>;
  /** Pauses between restarts, ms; default 2 s, 10 s, 60 s, 300 s. */
  readonly restartMs?: readonly number[];
  readonly now?: () => number;
}

const RESTART_MS = [2_000, 10_000, 60_000, 300_000];
const MAX_READINGS = 32;

interface Entry {
  manifest: Manifest;
  status: PluginStatus;
  stop: AbortController;
  done: Promise<void>;
}

export class PluginHost {
  readonly #o: PluginHostOptions;
  readonly #limits: Limits;
  readonly #serial: SerialOpener;
  readonly #entries = new Map<string, Entry>();
  #errors = new Map<string, string>();
  #applying: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: PluginHostOptions) {
    this.#o = options;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#serial = options.serial ?? serialOpener(options.devRoot);
  }

  /** Every installed plugin's status (also those disabled or that failed to load). */
  statuses(): PluginStatus[] {
    const out = [...this.#entries.values()].map((e) => e.status);
    for (const [id, error] of this.#errors) {
      if (!this.#entries.has(id)) {
        out.push({
          id,
          name: id,
          version: "",
          state: "failed",
          lastError: error,
          restarts: 0,
          readings: [],
          cpuPercent: null,
          rssBytes: null,
        });
      }
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Runs the installed plugins as `settings` says (absent: disabled): stops those disabled,
   * removed or changed, starts those enabled. Resolves once the changes are under way.
   */
  apply(settings: Readonly<Record<string, PluginSetting>>): Promise<void> {
    this.#applying = this.#applying.then(() => this.#apply(settings)).catch((err) =>
      this.#o.log.error("plugins not applied", { module: "plugins", err })
    );
    return this.#applying;
  }

  async #apply(settings: Readonly<Record<string, PluginSetting>>): Promise<void> {
    if (this.#closed) return;
    const { installed, errors } = await readInstalled(this.#o.dir);
    this.#errors = errors;
    const wanted = new Map<string, { manifest: Manifest; values: Record<string, ReadingValue> }>();
    for (const manifest of installed) {
      const s = settings[manifest.id];
      try {
        const values = resolveSettings(manifest, s?.settings ?? {});
        if (s?.enabled) wanted.set(manifest.id, { manifest, values });
        else this.#disabled(manifest, null);
      } catch (err) {
        this.#disabled(manifest, (err as Error).message, s?.enabled === true);
      }
    }
    for (const [id, entry] of this.#entries) {
      const want = wanted.get(id);
      const sameRun = want && JSON.stringify(want) === JSON.stringify(this.#key(entry));
      if (!sameRun && entry.stop.signal.aborted === false) {
        entry.stop.abort();
        await entry.done;
        if (!want && this.#entries.get(id) === entry) {
          if (installed.some((m) => m.id === id)) this.#disabled(entry.manifest, null);
          else this.#entries.delete(id);
        }
      }
    }
    for (const [id, entry] of this.#entries) {
      if (entry.stop.signal.aborted && !installed.some((m) => m.id === id)) {
        await entry.done;
        this.#entries.delete(id);
      }
    }
    for (const [id, want] of wanted) {
      const entry = this.#entries.get(id);
      if (entry && !entry.stop.signal.aborted) continue;
      this.#start(want.manifest, want.values);
    }
  }

  readonly #runs = new WeakMap<Entry, unknown>();
  #key(entry: Entry): unknown {
    return this.#runs.get(entry);
  }

  #disabled(manifest: Manifest, error: string | null, failed = false): void {
    const old = this.#entries.get(manifest.id);
    if (old && !old.stop.signal.aborted) return; // stopped by #apply first
    this.#entries.set(manifest.id, {
      manifest,
      status: blank(manifest, failed ? "failed" : "disabled", error),
      stop: abortedController(),
      done: Promise.resolve(),
    });
  }

  #start(manifest: Manifest, values: Record<string, ReadingValue>): void {
    const stop = new AbortController();
    const entry: Entry = {
      manifest,
      status: blank(manifest, "starting", null),
      stop,
      done: Promise.resolve(),
    };
    this.#runs.set(entry, { manifest, values });
    this.#entries.set(manifest.id, entry);
    entry.done = this.#supervise(entry, values);
  }

  async #supervise(entry: Entry, values: Record<string, ReadingValue>): Promise<void> {
    const { log } = this.#o;
    const now = this.#o.now ?? Date.now;
    const pauses = this.#o.restartMs ?? RESTART_MS;
    const plog = log.child({ module: "plugins", plugin: entry.manifest.id });
    const update = (change: Partial<PluginStatus>) => entry.status = { ...entry.status, ...change };
    const readings = new Map<string, Reading>();
    let failures = 0;
    while (!entry.stop.signal.aborted) {
      const startedAt = now();
      update({ state: "starting" });
      let result: { stopped: boolean; reason: string };
      try {
        result = await runPluginOnce(
          entry.manifest,
          `${this.#o.dir}/${entry.manifest.id}`,
          values,
          {
            log: plog,
            limits: this.#limits,
            sysRoot: this.#o.sysRoot ?? "/sys",
            procRoot: this.#o.procRoot ?? "/proc",
            serial: this.#serial,
            now,
            onReady: () => update({ state: "running" }),
            onReading: (r) => {
              if (readings.size >= MAX_READINGS && !readings.has(r.name)) return;
              readings.set(r.name, r);
              update({ readings: [...readings.values()] });
            },
            onEvent: (detail) => this.#o.onEvent?.(entry.manifest.id, detail),
            onUsage: (u) => update(u),
          },
          entry.stop.signal,
        );
      } catch (err) {
        result = { stopped: false, reason: (err as Error).message };
      }
      update({ cpuPercent: null, rssBytes: null });
      if (result.stopped || entry.stop.signal.aborted) break;
      if (now() - startedAt > 60_000) failures = 0;
      const pause = pauses[Math.min(failures++, pauses.length - 1)] ?? 60_000;
      const message = `Plugin ${entry.manifest.id} ${result.reason}; starting it again in ` +
        `${Math.round(pause / 1000)} s`;
      plog.error("plugin ended", { reason: result.reason, retryInMs: pause });
      update({
        state: "retrying",
        lastError: message,
        restarts: entry.status.restarts + 1,
      });
      await sleep(pause, entry.stop.signal);
    }
    update({ state: "stopped", cpuPercent: null, rssBytes: null });
  }

  /** Stops every plugin (each gets `stop`, then is killed after the grace period). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#applying;
    for (const entry of this.#entries.values()) entry.stop.abort();
    await Promise.all([...this.#entries.values()].map((e) => e.done));
  }
}

function blank(manifest: Manifest, state: PluginState, lastError: string | null): PluginStatus {
  return {
    id: manifest.id,
    name: manifest.name,
    version: manifest.version,
    state,
    lastError,
    restarts: 0,
    readings: [],
    cpuPercent: null,
    rssBytes: null,
  };
}

function abortedController(): AbortController {
  const c = new AbortController();
  c.abort();
  return c;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
