/**
 * Anonymised usage statistics: counts only, sent only when analytics.enabled is true. The one
 * identifier is `install` = SHA-256(salt ‖ deviceId) in hex, where the salt is 32 random bytes
 * made on the box the first time and kept in the fleet KV; it is never sent, so the receiver
 * cannot compute it from a deviceId or tie reports to a device.
 */
import type { NvrConfig } from "../config/types.ts";
import type { AnalyticsMessage } from "./schema.ts";
import type { FleetKv } from "./fleet_kv.ts";

const SALT_KEY = ["analytics", "salt"];

/** The install id of this box (makes and stores the salt on first use). */
export async function anonymousInstallId(kv: FleetKv, deviceId: string): Promise<string> {
  let salt = (await kv.get<Uint8Array>(SALT_KEY)).value;
  if (!salt) {
    const fresh = crypto.getRandomValues(new Uint8Array(32));
    const result = await kv.atomic().check({ key: SALT_KEY, versionstamp: null })
      .set(SALT_KEY, fresh).commit();
    salt = result.ok ? fresh : (await kv.get<Uint8Array>(SALT_KEY)).value ?? fresh;
  }
  const id = new TextEncoder().encode(deviceId);
  const input = new Uint8Array(salt.byteLength + id.byteLength);
  input.set(salt);
  input.set(id, salt.byteLength);
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", input)));
}

export interface AnalyticsInput {
  readonly install: string;
  readonly now: number;
  readonly version: string;
  readonly uptimeMs: number;
  readonly config: NvrConfig;
  readonly commands: ReadonlyMap<string, number>;
  readonly events: ReadonlyMap<string, number>;
  readonly queueDropped: number;
}

/** One report. Nothing in it names the box, a camera, an address or a person. */
export function analyticsReport(input: AnalyticsInput): AnalyticsMessage {
  const cameras = input.config.cameras;
  const usb = cameras.filter((c) => c.url.startsWith("v4l2:")).length;
  return {
    v: 1,
    install: input.install,
    day: new Date(input.now).toISOString().slice(0, 10),
    version: input.version,
    uptimeDays: Math.floor(input.uptimeMs / 86_400_000),
    cameras: {
      total: cameras.length,
      enabled: cameras.filter((c) => c.enabled).length,
      rtsp: cameras.length - usb,
      usb,
      h265: cameras.filter((c) => c.codec === "h265").length,
      h264: cameras.filter((c) => c.codec === "h264").length,
    },
    commands: Object.fromEntries(input.commands),
    events: Object.fromEntries(input.events),
    queueDropped: input.queueDropped,
  };
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
