/**
 * Simulated boxes (issue 19): N boxes in one process, each running the daemon's real fleet link
 * (runtime/fleet/link.ts: its own MQTT connection, durable queue, commands, config shadow, bdSeq,
 * rate limit), with hooks standing in for the rest of the daemon and a simulated
 * RAUC install: it takes `installMs`, fails for a seeded `failRate` share of the boxes, and on
 * success "reboots" the box (a new link, new bootId) into the new version with lastUpdate good.
 * A seeded `rollbackRate` share installs fine, boots the new slot on trial, fails its health gate
 * and boots the old slot again, reporting lastUpdate `rolled-back` with the reason.
 *
 * Enrolment mode (`enrol`): each box is a first boot. Its serial is `<prefix>-<n>` (see
 * simulatedSerial), its deviceId the one the daemon derives from a serial (`nvr-` + 16 hex), its
 * identity store a folder of its own; it enrols with the daemon's real client (fleet/enrol.ts:
 * bootstrap credential → CSR on `enrol/request` → certificate from the responder, e.g.
 * `deno task fleet enrol`) and then connects to `broker` with mutual TLS as itself. A serial
 * not on the responder's allow-list is refused and keeps asking (refusedRetryMs), as a box does.
 *
 * What a simulated box does not do as a real one: its queue, config shadow and command results
 * live under its own key prefix in one in-memory Deno KV shared by the fleet (shared_kv.ts: a KV
 * of its own costs a thread and an SQLite database, four fifths of a box's memory), kept across
 * its simulated restarts and reboots but not past stop(); it has no cameras, disks, recorder or
 * local API (hooks answer for them); it logs nothing below error unless given a log.
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
import { prefixedKv } from "./shared_kv.ts";
import { enrol, enrolledMqtt, type EnrolTiming } from "../fleet/enrol.ts";
import { deviceIdOfSerial } from "../fleet/enrol_responder.ts";
import { IdentityStore } from "../fleet/identity_store.ts";
import type { Bootstrap } from "../fleet/provision.ts";

/** First boots: where and how the simulated boxes enrol (SimulateOptions.enrol). */
export interface SimulatedEnrolment {
  /** The bootstrap listener, e.g. mqtts://127.0.0.1:8884. */
  readonly url: string;
  /** The fleet CA (PEM): the broker's certificate and the boxes' are signed by it. */
  readonly caPem: string;
  readonly bootstrap: Bootstrap;
  /** Where the identity stores go; default a temp folder, removed by stop(). */
  readonly dir?: string;
  readonly timing?: Partial<EnrolTiming>;
}

/** Where a simulated box is in its first boot. */
export interface EnrolmentState {
  state: "pending" | "enrolled" | "refused";
  /** When it started asking (ms since the epoch). */
  readonly startedAt: number;
  /** When its certificate was stored; null until then. */
  enrolledAt: number | null;
  /** When its link to the fleet broker (mutual TLS) was up; null until then. */
  connectedAt: number | null;
  refusals: number;
  /** The last refusal's code (e.g. not-allowed), or null. */
  code: string | null;
}

/** The board serial of simulated box `i` in enrolment mode (what an allow-list names). */
export function simulatedSerial(prefix: string, i: number, devices: number): string {
  return `${prefix}-${String(i).padStart(String(devices - 1).length, "0")}`;
}

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
  /** First boots: every box enrols before it connects to `broker` (mutual TLS) as itself. */
  readonly enrol?: SimulatedEnrolment;
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
  /** Enrolment mode: its board serial and first boot; null otherwise. */
  readonly serial: string | null;
  readonly enrolment: EnrolmentState | null;
}

export interface SimulatedFleet {
  readonly boxes: readonly SimulatedBox[];
  /** Starts box `i` again after its link was stopped (as after a power cut): a new bootId. */
  restart(i: number): Promise<void>;
  /**
   * Kills box `i` as a crash or power cut would: its socket dropped at once, no offline state and
   * no DISCONNECT, so the broker publishes its Will. restart(i) starts it again.
   */
  kill(i: number): Promise<void>;
  /**
   * Enrolment mode: resolves when every box is enrolled and connected, or refused at least once
   * (or the fleet stopped). Without enrolment, at once.
   */
  enrolment(): Promise<void>;
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
  const serials = options.enrol
    ? Array.from({ length: options.devices }, (_, i) => simulatedSerial(prefix, i, options.devices))
    : null;
  const ids = serials
    ? await Promise.all(serials.map(deviceIdOfSerial))
    : Array.from({ length: options.devices }, (_, i) =>
      `${prefix}-${String(i).padStart(digits, "0")}`);
  const boxes: SimulatedBox[] = ids.map((id, i) => ({
    id,
    version: options.version ?? "1.0.0",
    willFail: failing.has(i),
    willRollBack: rollingBack.has(i),
    link: undefined as unknown as FleetLink,
    applied: [],
    installs: [],
    licenceState: options.licenceKeys ? "none" : "valid",
    serial: serials?.[i] ?? null,
    enrolment: null,
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

  // Enrolment mode: a stop() aborts boxes still enrolling; their identity stores live here.
  const stopping = new AbortController();
  const identityDir = options.enrol
    ? options.enrol.dir ?? await Deno.makeTempDir({ prefix: "nvr-sim-identity-" })
    : null;
  const stores = new Map<string, IdentityStore>();
  // Every box's queue, shadow and command results, each under ["box", id] (shared_kv.ts).
  if (typeof Deno.openKv !== "function") {
    throw new Error(
      "Deno KV is not enabled in this process (the simulated boxes' queues need it): run deno " +
        'with --unstable-kv, or keep "unstable": ["kv"] in deno.json',
    );
  }
  const kv = await Deno.openKv(":memory:");

  const start = async (box: SimulatedBox, version: string, lastUpdate: LastUpdate | null) => {
    running.set(box.id, { version, lastUpdate });
    const store = stores.get(box.id);
    const base = box.applied.at(-1) ?? config;
    box.link = await startFleetLink({
      config: store ? { ...base, mqtt: enrolledMqtt(base.mqtt, store, options.broker) } : base,
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
      kv: prefixedKv(kv, ["box", box.id]),
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

  /** A first boot: provisioning → enrolment (refusals counted) → the link as itself. */
  const firstBoot = async (box: SimulatedBox, e: SimulatedEnrolment) => {
    const state: EnrolmentState = {
      state: "pending",
      startedAt: Date.now(),
      enrolledAt: null,
      connectedAt: null,
      refusals: 0,
      code: null,
    };
    (box as { enrolment: EnrolmentState }).enrolment = state;
    const store = new IdentityStore(`${identityDir}/${box.id}`);
    await store.apply(
      {
        fleetUrl: options.broker,
        enrolUrl: e.url,
        caPem: e.caPem,
        bootstrap: e.bootstrap,
        claimToken: null,
        timeZone: null,
        ntpServers: [],
        setupCode: null,
      },
      Date.now(),
      "0".repeat(64),
    );
    const settled = Promise.withResolvers<void>();
    // enrol() reports a refusal only in its log: the simulator reads it there.
    const boxLog = createLogger({
      level: "warn",
      sink: (line) => {
        const record = JSON.parse(line) as { code?: string; msg: string };
        if (record.code === undefined) return;
        state.refusals++;
        state.code = record.code;
        if (state.state === "pending") state.state = "refused";
        settled.resolve();
      },
    });
    const enrolling = enrol({
      store,
      deviceId: box.id,
      serial: box.serial,
      fingerprintHash: await fingerprintHash(fingerprintOf(box.id) as unknown as Fingerprint),
      log: boxLog,
      signal: stopping.signal,
      ...(e.timing ? { timing: e.timing } : {}),
    }).then(async (ok) => {
      if (!ok || stopped) return;
      state.state = "enrolled";
      state.enrolledAt = Date.now();
      stores.set(box.id, store);
      await start(box, box.version, null);
      state.connectedAt = Date.now();
    }).catch((err) => log.error("simulated first boot failed", { id: box.id, err }))
      .finally(() => settled.resolve());
    enrolments.push(enrolling);
    stopping.signal.addEventListener("abort", () => settled.resolve(), { once: true });
    await settled.promise;
  };
  const enrolments: Promise<void>[] = [];
  const started = parallel(
    boxes,
    options.concurrency ?? 50,
    (box) => options.enrol ? firstBoot(box, options.enrol) : start(box, box.version, null),
  );
  if (!options.enrol) await started;
  return {
    boxes,
    async restart(i) {
      const box = boxes[i];
      if (!box) throw new RangeError(`no simulated box ${i}; there are ${boxes.length}`);
      const was = running.get(box.id);
      if (!was) throw new RangeError(`simulated box ${i} has not started yet (still enrolling)`);
      await start(box, was.version, was.lastUpdate);
    },
    async kill(i) {
      const box = boxes[i];
      if (!box) throw new RangeError(`no simulated box ${i}; there are ${boxes.length}`);
      await box.link?.kill();
    },
    enrolment: () => started,
    async stop() {
      stopped = true;
      stopping.abort();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await started;
      await Promise.all(enrolments);
      await parallel(boxes, 200, (box) => box.link?.stop());
      kv.close();
      if (identityDir && !options.enrol?.dir) {
        await Deno.remove(identityDir, { recursive: true }).catch(() => {});
      }
    },
  };
}
