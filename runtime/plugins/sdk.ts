/**
 * The plugin SDK: what a plugin imports (as `nvr-plugin-sdk`, mapped by the host) to report
 * readings, raise events, read its settings and use a serial port the host opens for it.
 *
 * It lives in runtime/ rather than plugins/ because it is one half of the host's line protocol
 * (protocol.ts): it ships with the daemon and always matches the host that starts it, and the
 * image's build already copies runtime/. It runs inside the sandbox, so it imports nothing but
 * protocol.ts and uses no permission (stdin and stdout only).
 *
 * ```ts
 * import { definePlugin } from "nvr-plugin-sdk";
 * import manifest from "./plugin.json" with { type: "json" };
 * export const plugin = definePlugin({ manifest, async start(ctx) { … } });
 * ```
 */
import {
  decodeBase64,
  encodeBase64,
  type FromPlugin,
  HEARTBEAT_MS,
  LineReader,
  type ReadingValue,
  type ToPlugin,
} from "./protocol.ts";

export type { ReadingValue };

/** A serial port the host opened and relays (the same shape as runtime/serial's openSerial). */
export interface RelayedPort {
  /** The next bytes, or null once the port is closed or gone. */
  read(): Promise<Uint8Array | null>;
  write(bytes: Uint8Array): Promise<void>;
  close(): void;
}

export interface PluginLog {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface PluginContext {
  /** The plugin's id (its manifest's). */
  readonly id: string;
  /** The settings, checked by the host against the manifest's schema, defaults filled in. */
  readonly settings: Readonly<Record<string, ReadingValue>>;
  /** Where /sys is mounted for this plugin ("/sys" on the box; a fixture tree in tests). */
  readonly sysRoot: string;
  /** Aborted when the host stops the plugin: end `start` soon after (within 2 s). */
  readonly signal: AbortSignal;
  /** A measured value, e.g. reading("28-0000075b1c2a", 23.125, "°C"). Shown in health. */
  reading(name: string, value: ReadingValue, unit: string): void;
  /** An alarm: goes to the event index, SSE and the fleet as `sensor-alarm`. */
  event(
    kind: "sensor-alarm",
    detail: { sensor: string; reason: string; value?: ReadingValue },
  ): void;
  /** Opens a serial port listed in the manifest's `permissions.devices`, through the host. */
  serial(
    path: string,
    options?: { baudRate?: number; parity?: "none" | "even" | "odd"; stopBits?: 1 | 2 },
  ): Promise<RelayedPort>;
  readonly log: PluginLog;
}

export interface PluginDefinition {
  /** The plugin's plugin.json (imported as JSON); the host reads the same file. */
  readonly manifest: { readonly id: string } & Record<string, unknown>;
  /** Runs until `ctx.signal` aborts; a rejection is a crash (the host restarts it later). */
  start(ctx: PluginContext): Promise<void> | void;
}

/** Declares a plugin; export the result as `plugin` from the manifest's `main` module. */
export function definePlugin(definition: PluginDefinition): PluginDefinition {
  return definition;
}

const encoder = new TextEncoder();

function send(message: FromPlugin): void {
  const bytes = encoder.encode(JSON.stringify(message) + "\n");
  let at = 0;
  while (at < bytes.length) at += Deno.stdout.writeSync(bytes.subarray(at));
}

interface PortState {
  queue: (Uint8Array | null)[];
  waiting: ((bytes: Uint8Array | null) => void) | null;
  opened: { resolve: () => void; reject: (err: Error) => void } | null;
  closed: boolean;
}

/**
 * Runs a plugin inside its process (called by child_main.ts): waits for `init`, calls `start`,
 * beats every HEARTBEAT_MS, and ends the process when `start` returns or the host says stop.
 */
export async function runPlugin(definition: PluginDefinition): Promise<never> {
  const stop = new AbortController();
  const ports = new Map<number, PortState>();
  let nextPort = 1;
  let init: Extract<ToPlugin, { t: "init" }> | null = null;
  let gotInit: () => void = () => {};
  const initialised = new Promise<void>((resolve) => gotInit = resolve);

  const deliver = (state: PortState, bytes: Uint8Array | null) => {
    if (state.waiting) {
      const w = state.waiting;
      state.waiting = null;
      w(bytes);
    } else state.queue.push(bytes);
  };
  const receive = (message: ToPlugin) => {
    switch (message.t) {
      case "init":
        init = message;
        gotInit();
        break;
      case "stop":
        stop.abort();
        break;
      case "serial-opened":
        ports.get(message.port)?.opened?.resolve();
        break;
      case "serial-data": {
        const state = ports.get(message.port);
        if (state) deliver(state, decodeBase64(message.b64));
        break;
      }
      case "serial-closed": {
        const state = ports.get(message.port);
        if (!state) break;
        state.closed = true;
        state.opened?.reject(new Error(message.error ?? "the port was closed"));
        state.opened = null;
        deliver(state, null);
        break;
      }
    }
  };
  void (async () => {
    const lines = new LineReader();
    try {
      for await (const chunk of Deno.stdin.readable) {
        for (const line of lines.push(chunk)) if (line.trim()) receive(JSON.parse(line));
      }
    } catch { /* the host went away */ }
    stop.abort(); // stdin closed: the host is gone or stopping us
    gotInit();
  })();

  const log = (level: "debug" | "info" | "warn" | "error") => (msg: string) =>
    send({ t: "log", level, msg: String(msg).slice(0, 2000) });
  const pluginLog: PluginLog = {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
  };
  // stdout is the channel to the host: console output becomes log messages.
  const asText = (args: unknown[]) =>
    args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" ");
  console.log = console.info = (...a: unknown[]) => pluginLog.info(asText(a));
  console.debug = (...a: unknown[]) => pluginLog.debug(asText(a));
  console.warn = (...a: unknown[]) => pluginLog.warn(asText(a));
  console.error = (...a: unknown[]) => pluginLog.error(asText(a));

  await initialised;
  if (!init) Deno.exit(0);
  const { id, settings, sysRoot } = init as Extract<ToPlugin, { t: "init" }>;
  const heartbeat = setInterval(() => send({ t: "hb" }), HEARTBEAT_MS);
  const ctx: PluginContext = {
    id,
    settings,
    sysRoot,
    signal: stop.signal,
    reading: (name, value, unit) => send({ t: "reading", name, value, unit }),
    event: (kind, detail) => send({ t: "event", kind, ...detail }),
    log: pluginLog,
    serial(path, options = {}) {
      const port = nextPort++;
      const state: PortState = { queue: [], waiting: null, opened: null, closed: false };
      ports.set(port, state);
      return new Promise<RelayedPort>((resolve, reject) => {
        state.opened = {
          resolve: () => {
            state.opened = null;
            resolve({
              read: () =>
                state.queue.length > 0
                  ? Promise.resolve(state.queue.shift() ?? null)
                  : state.closed
                  ? Promise.resolve(null)
                  : new Promise((r) => state.waiting = r),
              write: (bytes) => {
                if (state.closed) return Promise.reject(new Error(`${path} is closed`));
                send({ t: "serial-write", port, b64: encodeBase64(bytes) });
                return Promise.resolve();
              },
              close: () => {
                if (state.closed) return;
                state.closed = true;
                send({ t: "serial-close", port });
                deliver(state, null);
              },
            });
          },
          reject,
        };
        send({
          t: "serial-open",
          port,
          path,
          baudRate: options.baudRate ?? 9600,
          ...(options.parity === undefined ? {} : { parity: options.parity }),
          ...(options.stopBits === undefined ? {} : { stopBits: options.stopBits }),
        });
      });
    },
  };
  send({ t: "ready" });
  let error: string | null = null;
  try {
    await definition.start(ctx);
    // start returned: a plugin that ends on its own before it is stopped is done.
  } catch (err) {
    error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  clearInterval(heartbeat);
  send({ t: "done", error });
  Deno.exit(error ? 1 : 0);
}
