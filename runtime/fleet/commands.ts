/**
 * Commands from the cloud (`cmd/<requestId>`): each is read against its schema, run through a
 * hook the daemon injected, and answered exactly once on `cmd-result/<requestId>`. Nothing a
 * command carries can crash the link: bad JSON, unknown commands, oversized or retained payloads
 * get an error result. Commands run one at a time. A requestId seen in the last 24 h is answered
 * again with the stored result and not run twice (QoS 1 may deliver a command twice; a reboot
 * must not happen twice).
 */
import { MAX_MESSAGE_BYTES, tooLargeResult } from "./message_size.ts";
import type { NvrConfig } from "../config/types.ts";
import type { Logger } from "../lib/log.ts";
import type { FleetKv } from "./fleet_kv.ts";
import { hex } from "./analytics.ts";
import { redactConfig } from "./redact.ts";
import {
  type AddCameraCommand,
  type Command,
  type CommandResult,
  decodeJson,
  type DiscoverCamerasCommand,
  type ErrorCode,
  type Json,
  type OnvifProfilesCommand,
  parseCommand,
  type PluginCommand,
  ProtocolError,
  type PtzCommand,
  type SnapshotResult,
  type UpdateCommand,
} from "./schema.ts";
import type { ConfigShadow } from "./shadow.ts";

export type ResultBody = Omit<CommandResult, "seq" | "ts" | "requestId">;

export interface CommandDeps {
  readonly kv: FleetKv;
  readonly log: Logger;
  readonly now: () => number;
  readonly version: string;
  readonly bootId: string;
  readonly startedAt: number;
  readonly shadow: ConfigShadow;
  readonly restartCamera: (camera: string) => Promise<void>;
  readonly snapshot: (camera: string) => Promise<Uint8Array>;
  /** Reboots the box: a fixed action of the image (default `systemctl reboot`, see rebootBox). */
  readonly reboot: () => Promise<void>;
  /**
   * Runs an `update` (runtime/update): resolves with its result once the bundle is installed,
   * rejects with a ProtocolError "refused" naming the reason. Absent: updates are refused.
   * Runs beside the command queue (a download takes minutes; pings are still answered).
   */
  readonly update?: (command: UpdateCommand) => Promise<Json>;
  /** Finds ONVIF cameras not yet added (runtime/onvif/discover.ts). Absent: refused. */
  readonly discoverCameras?: (command: DiscoverCamerasCommand) => Promise<Json>;
  /** Reads a found camera's ONVIF profiles (app/fleet_cameras.ts). Absent: refused. */
  readonly onvifProfiles?: (command: OnvifProfilesCommand) => Promise<Json>;
  /**
   * Adds a camera by its ONVIF address (app/fleet_cameras.ts); rejects with a ProtocolError
   * naming the reason. Absent: refused.
   */
  readonly addCamera?: (command: AddCameraCommand) => Promise<Json>;
  /**
   * Runs a `plugin` command (app/plugin_admin.ts); rejects with a ProtocolError "refused" naming
   * the reason. Absent: plugin commands are refused.
   */
  readonly plugin?: (command: PluginCommand) => Promise<Json>;
  /**
   * Runs a `ptz` command (runtime/onvif/ptz.ts, audited by the daemon); rejects with a
   * ProtocolError naming the reason. Absent: ptz commands are refused.
   */
  readonly ptz?: (command: PtzCommand) => Promise<Json>;
  /** Queues the answer. */
  readonly answer: (requestId: string, body: ResultBody) => Promise<void>;
  /**
   * Queues the JPEG on snapshot/<requestId> (in parts on snapshot/<requestId>/<i> when it is
   * larger than one managed-broker message); returns the topic and the number of parts.
   */
  readonly publishSnapshot: (
    requestId: string,
    jpeg: Uint8Array,
  ) => Promise<{ topic: string; parts: number }>;
  /** Largest snapshot sent. */
  readonly maxSnapshotBytes: () => number;
  readonly maxInboundBytes: number;
  readonly timeoutMs: number;
  /** Counts commands by name, for analytics. */
  readonly counted: (cmd: string) => void;
}

/** Deno KV's largest value is 64 KiB; results kept for repeats stay under it. */
const KV_VALUE_BYTES = 60 * 1024;
const DONE_TTL_MS = 24 * 3600 * 1000;

export class CommandRunner {
  readonly #deps: CommandDeps;
  #chain: Promise<void> = Promise.resolve();
  readonly #background = new Set<Promise<void>>();
  /** requestIds of updates still running (a repeat is answered once they finish). */
  readonly #updating = new Set<string>();

  constructor(deps: CommandDeps) {
    this.#deps = deps;
  }

  /** Handles one message on cmd/<requestId>; resolves when it is answered. Never rejects. */
  handle(requestId: string, payload: Uint8Array, retained: boolean): Promise<void> {
    const run = this.#chain.then(() => this.#handle(requestId, payload, retained));
    this.#chain = run.catch(() => {});
    return run.catch((err) => {
      this.#deps.log.error("fleet command handling failed", { requestId, err });
    });
  }

  /** Resolves when every command received so far is answered (updates included). */
  async idle(): Promise<void> {
    await this.#chain;
    await Promise.all([...this.#background]);
  }

  async #handle(requestId: string, payload: Uint8Array, retained: boolean): Promise<void> {
    const { kv, log } = this.#deps;
    const key = ["cmd", requestId];
    if (this.#updating.has(requestId)) {
      log.info("fleet command repeated while it runs; its answer follows", { requestId });
      return;
    }
    const done = (await kv.get<ResultBody>(key)).value;
    if (done) {
      log.info("fleet command repeated; answering with the stored result", { requestId });
      await this.#deps.answer(requestId, done);
      return;
    }
    let cmd: string | null = null;
    let body: ResultBody;
    try {
      if (retained) {
        throw new ProtocolError(
          "retained",
          "retained commands are not executed (they would run again on every connect); " +
            "publish commands without the retain flag and clear this one",
        );
      }
      const command = parseCommand(decodeJson(payload, this.#deps.maxInboundBytes));
      cmd = command.cmd;
      this.#deps.counted(cmd);
      if (command.expiresAt !== undefined && command.expiresAt < this.#deps.now()) {
        throw new ProtocolError(
          "expired",
          `the command expired at ${new Date(command.expiresAt).toISOString()}, before it ` +
            "reached the device; send it again if it is still wanted",
        );
      }
      log.info("fleet command", { requestId, cmd });
      // Marks the request as seen before running it: a reboot must not run twice.
      await kv.set(key, { cmd, ok: false, code: "failed", error: "interrupted" } as ResultBody, {
        expireIn: DONE_TTL_MS,
      });
      if (command.cmd === "update") {
        const work = this.#update(command, requestId);
        this.#background.add(work);
        this.#updating.add(requestId);
        void work.finally(() => {
          this.#background.delete(work);
          this.#updating.delete(requestId);
        });
        return;
      }
      body = { cmd, ok: true, result: await this.#run(command, requestId) };
    } catch (err) {
      body = failure(cmd, err);
      if (body.code === "failed" || body.code === "timeout") {
        log.warn("fleet command failed", { requestId, cmd, err });
      } else {
        log.info("fleet command refused", { requestId, cmd, code: body.code, error: body.error });
      }
    }
    await this.#finish(requestId, body);
  }

  async #finish(requestId: string, full: ResultBody): Promise<void> {
    // A result over a managed broker's 128 KB (get-config of a huge configuration) is answered
    // `too-large`; one over what Deno KV stores in a value (64 KiB) is kept for a repeat as a
    // note to ask again, not lost with the answer.
    const bytes = new TextEncoder().encode(JSON.stringify(full)).byteLength;
    const body = bytes > MAX_MESSAGE_BYTES - 1024 ? tooLargeResult(full.cmd, bytes) : full;
    const kept = bytes > KV_VALUE_BYTES
      ? {
        cmd: full.cmd,
        ok: false,
        code: "too-large" as const,
        error: `the result (${bytes} bytes) was sent once and not kept; ask again with a new ` +
          "requestId",
      }
      : body;
    await this.#deps.kv.set(["cmd", requestId], kept, { expireIn: DONE_TTL_MS });
    await this.#deps.answer(requestId, body);
  }

  /** An update, answered when it is installed or refused; never rejects. */
  async #update(command: UpdateCommand, requestId: string): Promise<void> {
    const { log } = this.#deps;
    let body: ResultBody;
    try {
      if (!this.#deps.update) {
        throw new ProtocolError("refused", "updates are not available on this box");
      }
      body = { cmd: "update", ok: true, result: await this.#deps.update(command) };
    } catch (err) {
      body = failure("update", err);
      log.warn("fleet update not installed", { requestId, code: body.code, error: body.error });
    }
    try {
      await this.#finish(requestId, body);
    } catch (err) {
      log.error("fleet update result could not be queued", { requestId, err });
    }
  }

  async #run(command: Command, requestId: string): Promise<Json> {
    const d = this.#deps;
    switch (command.cmd) {
      case "ping":
        return {
          pong: true,
          version: d.version,
          bootId: d.bootId,
          uptimeSeconds: Math.round((d.now() - d.startedAt) / 1000),
        };
      case "get-config":
        return { version: d.shadow.version, config: redactConfig(d.shadow.config) };
      case "restart-camera":
        this.#camera(command.camera);
        await this.#timed(`restart-camera ${command.camera}`, d.restartCamera(command.camera));
        return { camera: command.camera };
      case "snapshot": {
        this.#camera(command.camera);
        const jpeg = await this.#timed(`snapshot ${command.camera}`, d.snapshot(command.camera));
        const max = d.maxSnapshotBytes();
        if (jpeg.byteLength > max) {
          throw new ProtocolError(
            "too-large",
            `the snapshot of ${command.camera} is ${jpeg.byteLength} bytes; at most ${max} ` +
              "bytes are sent (fleet timing maxSnapshotBytes)",
          );
        }
        if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) {
          throw new Error(`the snapshot of ${command.camera} is not a JPEG`);
        }
        const digest = new Uint8Array(
          await crypto.subtle.digest("SHA-256", jpeg as Uint8Array<ArrayBuffer>),
        );
        const { topic, parts } = await d.publishSnapshot(requestId, jpeg);
        const result: SnapshotResult = {
          topic,
          parts,
          contentType: "image/jpeg",
          bytes: jpeg.byteLength,
          sha256: hex(digest),
        };
        return { ...result };
      }
      case "discover-cameras":
        if (!d.discoverCameras) {
          throw new ProtocolError("refused", "camera discovery is not available on this box");
        }
        // Bounded by discover.ts itself (a range scan may take longer than the hook timeout).
        return await d.discoverCameras(command);
      case "onvif-profiles":
        if (!d.onvifProfiles) {
          throw new ProtocolError(
            "refused",
            "adding cameras by ONVIF is not available on this box",
          );
        }
        return await this.#timed("onvif-profiles", d.onvifProfiles(command));
      case "add-camera":
        if (!d.addCamera) {
          throw new ProtocolError(
            "refused",
            "adding cameras by ONVIF is not available on this box",
          );
        }
        return await this.#timed(`add-camera ${command.id}`, d.addCamera(command));
      case "apply-config": {
        const outcome = await d.shadow.apply(command.config, command.version);
        switch (outcome.status) {
          case "applied":
            return { version: outcome.version };
          case "stale":
            throw new ProtocolError(
              "bad-request",
              `version ${outcome.version} is not newer than the running version ` +
                `${outcome.running}; send a greater version or none`,
            );
          case "rejected":
            throw new ProtocolError(
              "config-rejected",
              outcome.problems.join("; "),
              outcome.problems,
            );
          case "failed":
            throw new Error(outcome.error);
        }
        break;
      }
      case "reboot":
        await this.#timed("reboot", d.reboot());
        return { rebooting: true };
      case "update":
        throw new Error("update runs beside the command queue"); // handled in #handle
      case "plugin":
        if (!d.plugin) throw new ProtocolError("refused", "plugins are not available on this box");
        return await this.#timed(`plugin ${command.action}`, d.plugin(command));
      case "ptz":
        this.#camera(command.camera);
        if (!d.ptz) throw new ProtocolError("refused", "PTZ is not available on this box");
        return await this.#timed(`ptz ${command.action} ${command.camera}`, d.ptz(command));
    }
  }

  #camera(id: string): NvrConfig["cameras"][number] {
    const cameras = this.#deps.shadow.config.cameras;
    const camera = cameras.find((c) => c.id === id);
    if (!camera) {
      const known = cameras.map((c) => c.id).join(", ") || "none";
      throw new ProtocolError("unknown-camera", `no camera '${id}' on this box; cameras: ${known}`);
    }
    return camera;
  }

  async #timed<T>(what: string, work: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ProtocolError(
              "timeout",
              `${what} did not finish within ${this.#deps.timeoutMs} ms`,
            ),
          ),
        this.#deps.timeoutMs,
      );
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function failure(cmd: string | null, err: unknown): ResultBody {
  if (err instanceof ProtocolError) return { cmd, ok: false, code: err.code, error: err.message };
  const code: ErrorCode = "failed";
  return { cmd, ok: false, code, error: (err as Error)?.message ?? String(err) };
}

/** The reboot: fixed argv, no shell, nothing from configuration or the network. */
export const REBOOT_ARGV: readonly string[] = ["systemctl", "reboot"];

/**
 * The default reboot hook: runs REBOOT_ARGV; rejects on a non-zero exit with a fixed message
 * (the exit status only: no process output goes back to the fleet; the journal has it).
 */
export async function rebootBox(argv: readonly string[] = REBOOT_ARGV): Promise<void> {
  const [program = "systemctl", ...args] = argv;
  let code: number;
  try {
    code = (await new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).output()).code;
  } catch {
    throw new Error(`the reboot could not be started (${program} is missing); see the journal`);
  }
  if (code !== 0) {
    throw new Error(`the reboot could not be started (${program} exited ${code}); see the journal`);
  }
}
