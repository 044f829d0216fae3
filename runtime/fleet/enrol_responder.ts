/**
 * The enrolment responder: answers `nvr/v1/+/enrol/request` with a client certificate signed by
 * the fleet CA, for boxes on an allow-list only. For tests, and for people without a cloud; a
 * fleet console can import it (`answer()` is the whole decision, `startEnrolResponder` the MQTT
 * client around it). CLI: enrol_responder_cli.ts.
 *
 * Refused: a deviceId or board serial not on the allow-list (or a serial whose deviceId is not
 * the one claimed), a missing or wrong claim token where the allow-list names one, a CSR whose
 * self-signature does not verify, whose key is not ECDSA P-256, or whose subject is not exactly
 * CN=<the deviceId of the topic>, and a second enrolment of a deviceId with another key (a
 * replay or a clone). The same key asking again gets the same certificate (its reply was lost).
 */
// @ts-types="./mqtt_types.d.ts"
import mqtt from "npm:mqtt@5.16.0";
import type { IClientOptions, MqttClient } from "./mqtt_types.d.ts";
import { timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import { CsrError, verifyCsr } from "../tls/csr.ts";
import { issueClientCertificate, type SigningCa } from "../tls/issue.ts";
import type { Logger } from "../lib/log.ts";
import { sha256Hex } from "../fingerprint/hash.ts";
import {
  deviceOfRequestTopic,
  ENROL_REQUESTS,
  type EnrolRefusal,
  type EnrolReply,
  enrolTopics,
  parseEnrolRequest,
} from "./enrol_schema.ts";

/** One allow-list entry: a deviceId or a board serial, with an optional claim token. */
export interface AllowEntry {
  readonly claimToken?: string;
}

/**
 * An allow-list file: one box a line, `<deviceId or board serial> [claim token]`; blank lines
 * and `#` comments ignored. RangeError naming the line for anything else.
 */
export function parseAllowList(text: string, source = "allow-list"): Map<string, AllowEntry> {
  const out = new Map<string, AllowEntry>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const [id, token, extra] = line.split(/\s+/);
    if (extra !== undefined || !/^[A-Za-z0-9_.:-]{1,128}$/.test(id!)) {
      throw new RangeError(
        `${source} line ${i + 1}: expected "<deviceId or serial> [claim token]", got ` +
          JSON.stringify(raw.slice(0, 80)),
      );
    }
    if (token !== undefined && !/^[\x21-\x7e]{8,256}$/.test(token)) {
      throw new RangeError(`${source} line ${i + 1}: a claim token is 8 to 256 printable ASCII`);
    }
    out.set(id!, token ? { claimToken: token } : {});
  });
  return out;
}

/** The deviceId a board serial gives (runtime/fingerprint/device_id.ts, case 1). */
export async function deviceIdOfSerial(serial: string): Promise<string> {
  return `nvr-${(await sha256Hex(serial)).slice(0, 16)}`;
}

interface Enrolled {
  readonly keyId: string;
  readonly certificate: string;
  readonly serial: string | null;
  readonly fingerprintHash: string;
  readonly ts: number;
}

export interface ResponderOptions {
  readonly ca: SigningCa;
  readonly allow: ReadonlyMap<string, AllowEntry>;
  /** JSON file of the boxes enrolled so far (0600); null: kept in memory only. */
  readonly stateFile: string | null;
  /** Days an issued certificate is valid; default 825. */
  readonly days?: number;
  readonly now?: () => number;
  readonly log?: Logger;
}

export class EnrolResponder {
  readonly #o: ResponderOptions;
  readonly #enrolled: Map<string, Enrolled>;
  #busy: Promise<unknown> = Promise.resolve();

  private constructor(o: ResponderOptions, enrolled: Map<string, Enrolled>) {
    this.#o = o;
    this.#enrolled = enrolled;
  }

  static async open(o: ResponderOptions): Promise<EnrolResponder> {
    const enrolled = new Map<string, Enrolled>();
    if (o.stateFile) {
      try {
        const saved = JSON.parse(await Deno.readTextFile(o.stateFile));
        for (const [id, e] of Object.entries(saved as Record<string, Enrolled>)) {
          enrolled.set(id, e);
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) {
          throw new Error(
            `enrolment state ${o.stateFile} cannot be read: ${(err as Error).message}; restore ` +
              "it from a backup (without it, enrolled boxes could be enrolled again)",
            { cause: err },
          );
        }
      }
    }
    return new EnrolResponder(o, enrolled);
  }

  /** Boxes enrolled so far (deviceId → keyId). */
  enrolled(): Map<string, string> {
    return new Map([...this.#enrolled].map(([id, e]) => [id, e.keyId]));
  }

  /**
   * The answer to one message: its reply topic and payload, or null when the topic is not an
   * enrolment request. Requests are answered one at a time (the state file is one writer's).
   */
  answer(topic: string, payload: Uint8Array): Promise<{ topic: string; reply: EnrolReply } | null> {
    const run = this.#busy.then(() => this.#answer(topic, payload));
    this.#busy = run.catch(() => {});
    return run;
  }

  async #answer(
    topic: string,
    payload: Uint8Array,
  ): Promise<{ topic: string; reply: EnrolReply } | null> {
    const deviceId = deviceOfRequestTopic(topic);
    if (deviceId === null) return null;
    const replyTopic = enrolTopics(deviceId).reply;
    let requestId: string | null = null;
    const refuse = (code: EnrolRefusal, reason: string) => {
      this.#o.log?.warn("enrolment refused", { deviceId, code, reason });
      return { topic: replyTopic, reply: { requestId, ok: false as const, code, reason } };
    };
    let req;
    try {
      req = parseEnrolRequest(payload);
    } catch (err) {
      return refuse("bad-request", (err as Error).message);
    }
    requestId = req.requestId;
    if (req.deviceId !== deviceId) {
      return refuse(
        "wrong-subject",
        `the request names ${req.deviceId} but came on ${deviceId}'s topic`,
      );
    }
    let csr;
    try {
      csr = await verifyCsr(req.csr);
    } catch (err) {
      if (err instanceof CsrError) return refuse("bad-csr", err.message);
      throw err;
    }
    if (csr.commonName !== deviceId) {
      return refuse(
        "wrong-subject",
        `the CSR's subject CN=${csr.commonName} claims another device than ${deviceId}`,
      );
    }
    const entry = await this.#allowed(deviceId, req.serial);
    if (typeof entry === "string") return refuse("not-allowed", entry);
    if (entry.claimToken !== undefined && !sameToken(entry.claimToken, req.claimToken ?? "")) {
      return refuse("bad-claim-token", `the claim token for ${deviceId} is missing or wrong`);
    }
    const before = this.#enrolled.get(deviceId);
    if (before) {
      if (before.keyId !== csr.keyId) {
        return refuse(
          "already-enrolled",
          `${deviceId} is enrolled already with another key; if the box was replaced or reset, ` +
            "remove it from the enrolment state first (and revoke its old certificate)",
        );
      }
      this.#o.log?.info("enrolment repeated: the same certificate again", { deviceId });
      return { topic: replyTopic, reply: { requestId, ok: true, certificate: before.certificate } };
    }
    const certificate = await issueClientCertificate(this.#o.ca, {
      commonName: deviceId,
      spki: csr.spki,
      ...(this.#o.days ? { days: this.#o.days } : {}),
      ...(this.#o.now ? { now: this.#o.now() } : {}),
    });
    this.#enrolled.set(deviceId, {
      keyId: csr.keyId,
      certificate,
      serial: req.serial,
      fingerprintHash: req.fingerprintHash,
      ts: (this.#o.now ?? Date.now)(),
    });
    await this.#save();
    this.#o.log?.info("enrolled", { deviceId, serial: req.serial });
    return { topic: replyTopic, reply: { requestId, ok: true, certificate } };
  }

  /** The allow-list entry of this box, or why there is none. */
  async #allowed(deviceId: string, serial: string | null): Promise<AllowEntry | string> {
    const byId = this.#o.allow.get(deviceId);
    if (byId) return byId;
    if (serial !== null) {
      const bySerial = this.#o.allow.get(serial);
      if (bySerial) {
        const expected = await deviceIdOfSerial(serial);
        if (expected === deviceId) return bySerial;
        return `serial ${serial} belongs to ${expected}, not ${deviceId}`;
      }
    }
    return `${deviceId}${serial ? ` (serial ${serial})` : ""} is not on the allow-list`;
  }

  async #save(): Promise<void> {
    const file = this.#o.stateFile;
    if (!file) return;
    const temp = `${file}.new`;
    await Deno.writeTextFile(temp, JSON.stringify(Object.fromEntries(this.#enrolled), null, 1), {
      mode: 0o600,
    });
    await Deno.rename(temp, file);
  }
}

function sameToken(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface RunningResponder {
  readonly responder: EnrolResponder;
  readonly client: MqttClient;
  stop(): Promise<void>;
}

/**
 * The responder on a broker: subscribes to every box's `enrol/request` (QoS 1) and publishes the
 * answers. `mqttOptions` carries its own login (e.g. the fleet-manager certificate).
 */
export async function startEnrolResponder(
  url: string,
  mqttOptions: IClientOptions,
  options: ResponderOptions,
): Promise<RunningResponder> {
  const responder = await EnrolResponder.open(options);
  const client = await mqtt.connectAsync(url, {
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    ...mqttOptions,
  });
  client.on("message", (topic, payload) => {
    responder.answer(topic, new Uint8Array(payload)).then((out) => {
      if (out) client.publish(out.topic, JSON.stringify(out.reply), { qos: 1 });
    }).catch((err) => options.log?.error("enrolment request failed", { topic, err }));
  });
  await client.subscribeAsync(ENROL_REQUESTS, { qos: 1 });
  return {
    responder,
    client,
    async stop() {
      await client.endAsync();
    },
  };
}
