/**
 * First boot, the device side: the provisioning file into the identity store (then wiped), and
 * enrolment: connected with the bootstrap credential, the box publishes a CSR for its own key on
 * `enrol/request`, waits for `enrol/reply`, keeps the certificate and from then on connects with
 * mutual TLS as itself (the bootstrap credential is deleted). Retried with backoff until it
 * works or the daemon stops; never throws at the daemon.
 */
// @ts-types="./mqtt_types.d.ts"
import mqtt from "npm:mqtt@5.16.0";
import type { IClientOptions, MqttClient } from "./mqtt_types.d.ts";
import type { MqttConfig } from "../config/types.ts";
import type { Logger } from "../lib/log.ts";
import { makeCsr } from "../tls/csr.ts";
import { certificateSubject } from "../tls/issue.ts";
import {
  type EnrolReply,
  type EnrolRequest,
  enrolTopics,
  parseEnrolReply,
} from "./enrol_schema.ts";
import { IdentityStore, type StoredIdentity } from "./identity_store.ts";
import { ProvisionError, readProvisioning, wipeFile } from "./provision.ts";
import { backoffDelay } from "./connection.ts";

/** What the fleet `state` says about provisioning (schema.ts ProvisioningState). */
export interface FirstBootOutcome {
  /** The provisioning file was read and taken in just now. */
  readonly applied: boolean;
  /** Why the file was refused (every bad field), or null. */
  readonly refused: string | null;
  /** Why the file could not be wiped (e.g. read-only boot partition), or null. */
  readonly wipeProblem: string | null;
  /** What is stored now (null: never provisioned). */
  readonly identity: StoredIdentity | null;
}

/**
 * Reads `file` once: valid → into the store, then overwritten and removed. A refused file is left
 * as it is (nothing of it is used) and the reason returned. Never throws for the file's sake.
 */
export async function takeProvisioningFile(o: {
  readonly file: string;
  readonly store: IdentityStore;
  readonly allowInsecure: boolean;
  readonly log: Logger;
  readonly now?: () => number;
}): Promise<FirstBootOutcome> {
  const { log, store } = o;
  let refused: string | null = null;
  let wipeProblem: string | null = null;
  let applied = false;
  try {
    const p = await readProvisioning(o.file, { allowInsecure: o.allowInsecure });
    const sha = p ? await fileSha256(o.file) : null;
    const before = p ? await store.read().catch(() => null) : null;
    if (p && sha !== null && before?.fileSha256 === sha) {
      // Taken in at an earlier start but not wiped then (read-only boot partition): applying it
      // again would throw the enrolled identity away. Try the wipe again, and report.
      wipeProblem = await wipeFile(o.file);
      await store.setWipeProblem(wipeProblem);
    } else if (p) {
      await store.apply(p, (o.now ?? Date.now)(), sha!);
      applied = true;
      wipeProblem = await wipeFile(o.file);
      await store.setWipeProblem(wipeProblem);
      log.info("provisioning file taken into the identity store", {
        file: o.file,
        dir: store.dir,
        fleet: p.fleetUrl !== null,
      });
      if (wipeProblem) {
        log.error(
          "provisioning file NOT wiped: it still holds the bootstrap credential; remove it by " +
            "hand (is the boot partition read-only?)",
          { file: o.file, problem: wipeProblem },
        );
      }
    }
  } catch (err) {
    refused = (err as Error).message;
    log.error(
      err instanceof ProvisionError
        ? "provisioning file refused"
        : "provisioning file not taken in",
      { file: o.file, err },
    );
  }
  let identity: StoredIdentity | null = null;
  try {
    identity = await store.read();
  } catch (err) {
    log.error("identity store unreadable", { dir: store.dir, err });
  }
  return {
    applied,
    refused,
    wipeProblem: wipeProblem ?? identity?.wipeProblem ?? null,
    identity,
  };
}

/** The MQTT settings of an enrolled box: its own certificate, the fleet CA, no password. */
export function enrolledMqtt(base: MqttConfig, store: IdentityStore, fleetUrl: string): MqttConfig {
  return {
    ...base,
    url: fleetUrl,
    username: null,
    password: null,
    clientId: null,
    caFile: store.caFile,
    certFile: store.certFile,
    keyFile: store.keyFile,
  };
}

export interface EnrolTiming {
  /** A request without a reply this long is sent again. */
  readonly replyTimeoutMs: number;
  /** After a refusal, the next try. */
  readonly refusedRetryMs: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

export const DEFAULT_ENROL_TIMING: EnrolTiming = {
  replyTimeoutMs: 30_000,
  refusedRetryMs: 5 * 60_000,
  backoffMinMs: 1_000,
  backoffMaxMs: 60_000,
};

export interface EnrolDeps {
  readonly store: IdentityStore;
  readonly deviceId: string;
  readonly serial: string | null;
  readonly fingerprintHash: string;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly timing?: Partial<EnrolTiming>;
}

export class EnrolRefused extends Error {
  constructor(readonly code: string, reason: string) {
    super(reason);
    this.name = "EnrolRefused";
  }
}

/**
 * Enrols until it works (true) or `signal` aborts (false). Each failure is logged once per kind
 * of error; a refusal waits `refusedRetryMs` (someone must add the box to the allow-list).
 */
export async function enrol(deps: EnrolDeps): Promise<boolean> {
  const timing = { ...DEFAULT_ENROL_TIMING, ...deps.timing };
  const log = deps.log;
  let attempt = 0;
  let lastLogged = "";
  while (!deps.signal.aborted) {
    try {
      await enrolOnce(deps, timing);
      log.info("enrolled: reconnecting with mutual TLS as itself", { deviceId: deps.deviceId });
      return true;
    } catch (err) {
      if (deps.signal.aborted) break;
      const refused = err instanceof EnrolRefused;
      const message = (err as Error).message;
      if (message !== lastLogged || attempt % 10 === 9) {
        log.warn(refused ? "enrolment refused; asking again later" : "enrolment failed; retrying", {
          deviceId: deps.deviceId,
          ...(refused ? { code: (err as EnrolRefused).code } : {}),
          error: message,
        });
        lastLogged = message;
      }
      const wait = refused ? timing.refusedRetryMs : backoffDelay(
        { minMs: timing.backoffMinMs, maxMs: timing.backoffMaxMs },
        attempt++,
      );
      await sleep(wait, deps.signal);
    }
  }
  return false;
}

async function enrolOnce(deps: EnrolDeps, timing: EnrolTiming): Promise<void> {
  const identity = await deps.store.read();
  if (!identity?.fleetUrl) throw new Error("the identity store names no fleet");
  const url = identity.enrolUrl ?? identity.fleetUrl;
  const ca = await Deno.readTextFile(deps.store.caFile);
  const keys = await deps.store.deviceKey();
  const csr = await makeCsr(deps.deviceId, keys);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const topics = enrolTopics(deps.deviceId);
  const b = identity.bootstrap;
  const options: IClientOptions = {
    protocolVersion: 5,
    clean: true,
    clientId: `enrol-${deps.deviceId}`,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ca,
    ...(b && "username" in b ? { username: b.username, password: b.password } : {}),
    ...(b && "certPem" in b ? { cert: b.certPem, key: b.keyPem } : {}),
  };
  const client: MqttClient = await connect(url, options, deps.signal);
  try {
    const reply = Promise.withResolvers<EnrolReply>();
    reply.promise.catch(() => {}); // a close after the answer, or before anyone waits
    const requestId = `enrol-${crypto.randomUUID().slice(0, 8)}`;
    client.on("message", (topic, payload) => {
      if (topic !== topics.reply) return;
      try {
        const r = parseEnrolReply(new Uint8Array(payload));
        if (r.requestId === requestId || (!r.ok && r.requestId === null)) reply.resolve(r);
      } catch (err) {
        deps.log.warn("enrolment reply ignored", { error: (err as Error).message });
      }
    });
    client.on("close", () => reply.reject(new Error("connection closed before the reply")));
    await client.subscribeAsync(topics.reply, { qos: 1 });
    const request: EnrolRequest = {
      requestId,
      deviceId: deps.deviceId,
      csr,
      serial: deps.serial,
      fingerprintHash: deps.fingerprintHash,
      ...(identity.claimToken ? { claimToken: identity.claimToken } : {}),
      ts: Date.now(),
    };
    await client.publishAsync(topics.request, JSON.stringify(request), { qos: 1 });
    const answer = await withTimeout(reply.promise, timing.replyTimeoutMs, deps.signal);
    if (!answer.ok) throw new EnrolRefused(answer.code, answer.reason);
    const got = certificateSubject(answer.certificate);
    if (got.commonName !== deps.deviceId || !equal(got.spki, spki)) {
      throw new Error(
        `the certificate received is for ${got.commonName} or another key, not this box's; ` +
          "not stored",
      );
    }
    await deps.store.saveCertificate(answer.certificate, deps.deviceId);
  } finally {
    await client.endAsync(true).catch(() => {});
  }
}

function connect(url: string, options: IClientOptions, signal: AbortSignal): Promise<MqttClient> {
  const client = mqtt.connect(url, options);
  return new Promise((resolve, reject) => {
    let settled = false;
    let lastError: string | null = null;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      client.end(true, {}, () => {});
      reject(err);
    };
    const onAbort = () => fail(new Error("stopped"));
    client.stream?.on("error", (err: Error) => (lastError = err.message));
    client.on("error", (err) => fail(err));
    client.on("close", () => fail(new Error(lastError ?? "connection closed by the broker")));
    signal.addEventListener("abort", onAbort);
    client.on("connect", () => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      resolve(client);
    });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no enrolment reply within ${ms} ms`)), ms);
    const onAbort = () => done(new Error("stopped"));
    const done = (err: Error | null, value?: T) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve(value as T);
    };
    signal.addEventListener("abort", onAbort);
    p.then((v) => done(null, v), (e) => done(e as Error));
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

async function fileSha256(file: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(file));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
