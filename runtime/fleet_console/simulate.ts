/**
 * Simulated boxes (issue 19): N boxes in one process, each running the daemon's real fleet link
 * (runtime/fleet/link.ts: its own MQTT connection, durable queue in memory, commands, config
 * shadow, bdSeq, rate limit), with hooks standing in for the rest of the daemon and a simulated
 * RAUC install: it takes `installMs`, fails for a seeded `failRate` share of the boxes, and on
 * success "reboots" the box (a new link, new bootId) into the new version with lastUpdate good.
 * A seeded `rollbackRate` share installs fine, boots the new slot on trial, fails its health gate
 * and boots the old slot again, reporting lastUpdate `rolled-back` with the reason.
 */
import { validateConfig } from "../config/validate.ts";
import type { NvrConfig } from "../config/types.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { prng } from "../lib/prng.ts";
import { type FleetLink, type FleetTiming, startFleetLink } from "../fleet/link.ts";
import { type LastUpdate, ProtocolError, type UpdateCommand } from "../fleet/schema.ts";
import { fingerprintHash } from "../fingerprint/hash.ts";
import type { Fingerprint } from "../fingerprint/types.ts";
import { verifyLicence } from "../licence/verify.ts";
import type { LicenceKey } from "../licence/types.ts";
import { parallel } from "./console.ts";

export interface SimulateOptions {
  readonly broker: string;
  readonly devices: number;
  /** Device ids are `<prefix>-<n>` (zero-padded). Default "sim". */
  readonly prefix?: string;
  readonly version?: string;
  readonly board?: string;
  /** Simulated install time. Default 30 s. */
  readonly installMs?: number;
  /** Time from "installed" to the box back on the new version. Default 1 s. */
  readonly rebootMs?: number;
  /** Share of boxes whose install fails (0–1), chosen by the seeded PRNG. Default 0. */
  readonly failRate?: number;
  /** Share of boxes (0–1, others than the failing ones) whose new slot fails its health gate. */
  readonly rollbackRate?: number;
  readonly seed?: number;
  /** Boxes started at a time. Default 50. */
  readonly concurrency?: number;
  readonly timing?: Partial<FleetTiming>;
  readonly log?: Logger;
  /**
   * Licence keys the boxes trust. Given: each box starts without a licence and checks one
   * published on its `licence` topic with the real verifier against its own fingerprint.
   * Absent: every box reports a valid licence.
   */
  readonly licenceKeys?: readonly LicenceKey[];
}

export interface SimulatedBox {
  readonly id: string;
  readonly version: string;
  readonly willFail: boolean;
  /** Installs, then rolls back (health gate fails on the new slot). */
  readonly willRollBack: boolean;
  link: FleetLink;
  readonly applied: NvrConfig[];
  readonly installs: string[];
  /** The box's licence state as its health reports it. */
  licenceState: string;
}

export interface SimulatedFleet {
  readonly boxes: readonly SimulatedBox[];
  /** Starts box `i` again after its link was stopped (as after a power cut): a new bootId. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export async function simulateFleet(options: SimulateOptions): Promise<SimulatedFleet> {
  const prefix = options.prefix ?? "sim";
  const digits = String(options.devices - 1).length;
  const random = prng(options.seed ?? 1);
  const failing = new Set<number>();
  const failCount = Math.round((options.failRate ?? 0) * options.devices);
  while (failing.size < failCount) failing.add(Math.floor(random() * options.devices));
  const rollingBack = new Set<number>();
  const rollbackCount = Math.min(
    options.devices - failing.size,
    Math.round((options.rollbackRate ?? 0) * options.devices),
  );
  while (rollingBack.size < rollbackCount) {
    const i = Math.floor(random() * options.devices);
    if (!failing.has(i)) rollingBack.add(i);
  }
  const log = options.log ?? createLogger({ level: "error", sink: () => {} });
  const config = validateConfig({
    storage: { dataDir: "/nonexistent/simulated" },
    cameras: [],
    mqtt: { url: options.broker },
  });
  const boxes: SimulatedBox[] = Array.from({ length: options.devices }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(digits, "0")}`,
    version: options.version ?? "1.0.0",
    willFail: failing.has(i),
    willRollBack: rollingBack.has(i),
    link: undefined as unknown as FleetLink,
    applied: [],
    installs: [],
    licenceState: options.licenceKeys ? "none" : "valid",
  }));
  let stopped = false;
  // Install and reboot timers, cleared by stop() so none outlives the fleet.
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (ms: number, fn: () => unknown) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const running = new Map<string, { version: string; lastUpdate: LastUpdate | null }>();

  const start = async (box: SimulatedBox, version: string, lastUpdate: LastUpdate | null) => {
    running.set(box.id, { version, lastUpdate });
    box.link = await startFleetLink({
      config: box.applied.at(-1) ?? config,
      deviceId: box.id,
      version,
      log,
      fingerprint: () => Promise.resolve(fingerprintOf(box.id)),
      health: () => Promise.resolve({ cameras: [], disks: [{ usedPercent: 12 }] }),
      licenceStatus: () => ({ state: box.licenceState }),
      ...(options.licenceKeys ? { installLicence: (l) => installLicence(box, l) } : {}),
      restartCamera: () => Promise.resolve(),
      applyConfig: (next) => {
        box.applied.push(next);
        return Promise.resolve();
      },
      snapshot: () => Promise.reject(new Error("the simulator has no cameras")),
      reboot: () => Promise.resolve(),
      update: (command) => install(box, version, command),
      lastUpdate: () => lastUpdate,
      kvPath: ":memory:",
      timing: { reconnectMinMs: 1_000, reconnectMaxMs: 5_000, stopGraceMs: 500, ...options.timing },
    });
  };

  const fingerprintOf = (id: string) => ({
    schema: 1,
    board: {
      id: "sim",
      model: { value: options.board ?? "simulated", source: "simulator" },
      serial: { value: id, source: "simulator" },
      serialCaveat: null,
      identifiers: [],
    },
    disks: [],
    network: [],
    cameras: [],
  });

  const installLicence = async (box: SimulatedBox, licence: unknown) => {
    const status = await verifyLicence(licence, {
      publicKeys: options.licenceKeys ?? [],
      fingerprintHash: await fingerprintHash(fingerprintOf(box.id) as unknown as Fingerprint),
      deviceId: box.id,
      now: Date.now(),
      graceDays: 14,
    });
    box.licenceState = status.state;
    return status;
  };

  const install = async (box: SimulatedBox, from: string, command: UpdateCommand) => {
    box.installs.push(command.version);
    await new Promise<void>((r) => later(options.installMs ?? 30_000, r));
    if (box.willFail) {
      throw new ProtocolError("failed", "simulated RAUC install failed (injected failure)");
    }
    const result = {
      from,
      to: command.version,
      slot: "rootfs.1",
      state: "installed",
      rebootAt: Date.now(),
    };
    // The reboot: this link goes (its Will fires as the connection drops), a new one comes.
    const reboot = async (version: string, lastUpdate: LastUpdate) => {
      if (stopped) return;
      await box.link.stop();
      if (stopped) return;
      await start(box, version, lastUpdate);
    };
    const to = command.version;
    later(options.rebootMs ?? 1_000, async () => {
      if (!box.willRollBack) {
        await reboot(to, { from, to, slot: "rootfs.1", state: "good", ts: Date.now() });
        return;
      }
      // On trial in the new slot; its health gate fails; RAUC boots the old slot again.
      await reboot(to, { from, to, slot: "rootfs.1", state: "trial", ts: Date.now() });
      later(options.rebootMs ?? 1_000, () =>
        reboot(from, {
          from,
          to,
          slot: "rootfs.0",
          state: "rolled-back",
          reason: "health gate failed on the new slot: no camera recording (simulated)",
          ts: Date.now(),
        }));
    });
    return result;
  };

  await parallel(boxes, options.concurrency ?? 50, (box) => start(box, box.version, null));
  return {
    boxes,
    async restart(i) {
      const box = boxes[i];
      if (!box) throw new RangeError(`no simulated box ${i}; there are ${boxes.length}`);
      const was = running.get(box.id)!;
      await start(box, was.version, was.lastUpdate);
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await parallel(boxes, 200, (box) => box.link.stop());
    },
  };
}
